import { sql, type AnyColumn, type SQL } from 'drizzle-orm';

/**
 * `column in ('A', 'B', …)` for a check constraint, written from the domain's list of values
 * (src/domain/vocabulary.ts) so that the declarations and the enums cannot drift apart. The values
 * are our own constants, never input, so writing them into the SQL text is safe.
 */
export const oneOf = (column: AnyColumn, values: readonly string[]): SQL =>
  sql`${column} in ${sql.raw(`(${values.map((value) => `'${value}'`).join(', ')})`)}`;
