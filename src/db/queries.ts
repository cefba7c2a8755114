import { count, type SQL } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from './database.js';

/** `select count(*)` as a plain number. */
export async function countRows(db: Pick<Db, 'select'>, table: SQLiteTable, where: SQL | undefined): Promise<number> {
  const [row] = await db.select({ rows: count() }).from(table).where(where);
  // PostgreSQL answers count(*) as a bigint, which node-postgres reads as a string.
  return Number(row?.rows ?? 0);
}

/** The one row a statement that must write one answered (an insert's `returning()`). */
export function oneRow<T>(rows: readonly T[]): T {
  const [row] = rows;
  if (row === undefined) throw new Error('the statement answered no row');
  return row;
}
