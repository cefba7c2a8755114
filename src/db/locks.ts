import { is, sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { Db } from './database.js';

/**
 * Locks the row whose `column` (its key) is `value` until the caller's transaction ends, so that
 * a check and the write it allows (a quota, a count, the next number) cannot interleave with
 * another transaction's on the same row. PostgreSQL runs transactions side by side (read
 * committed): `SELECT … FOR UPDATE` makes the second wait for the first to end, and its next
 * statement sees what the first wrote. SQLite's transactions already take turns (`BEGIN
 * IMMEDIATE` behind one gate), so there it does nothing. Call it inside `db.transaction`, first.
 */
export async function lockForUpdate(db: Db, column: SQLiteColumn, value: number): Promise<void> {
  // Each dialect's query builder carries its own SQL dialect; the `Db` type is SQLite's.
  const { dialect } = db as unknown as { dialect: unknown };
  if (!is(dialect, PgDialect)) return;
  await (db as unknown as { execute(query: ReturnType<typeof sql>): Promise<unknown> }).execute(
    sql`select 1 from ${column.table} where ${column} = ${value} for update`,
  );
}
