import { is } from 'drizzle-orm';
import { getTableConfig, SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as runtimeServerSchema from '../runtime/server/schema.js';
import * as schema from './schema.js';

/**
 * Whether `error` is a unique violation, of the constraint (index) named `constraint` when one is
 * given. PostgreSQL names the index (`error.constraint`, code 23505); SQLite names the index
 * only for one over expressions and otherwise lists its columns (`UNIQUE constraint failed:
 * publish_jobs.environment_id`), so the index's columns are looked up in the schema.
 */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  // Drizzle wraps the driver's error (DrizzleQueryError) and keeps it as `cause`.
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++)
    if (isDriverUniqueViolation(e, constraint)) return true;
  return false;
}

function isDriverUniqueViolation(error: object, constraint: string | undefined): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code === '23505') return constraint === undefined || (error as { constraint?: unknown }).constraint === constraint;
  if (code !== 'SQLITE_CONSTRAINT_UNIQUE' && code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') return false;
  if (constraint === undefined) return true;
  const failed = typeof message === 'string' ? message.replace(/^UNIQUE constraint failed: /, '') : '';
  return failed === `index '${constraint}'` || failed === uniqueColumns().get(constraint);
}

let columnsByConstraint: Map<string, string> | null = null;

/** Each unique index or constraint of every table, by name: its columns as SQLite lists them. */
function uniqueColumns(): Map<string, string> {
  if (columnsByConstraint) return columnsByConstraint;
  columnsByConstraint = new Map();
  const tables = [...Object.values(schema), ...Object.values(runtimeServerSchema)].filter((value) => is(value, SQLiteTable));
  for (const table of tables) {
    const config = getTableConfig(table);
    const listed = (columns: readonly unknown[]) =>
      columns.every((column) => is(column, SQLiteColumn)) ? (columns as SQLiteColumn[]).map((column) => `${config.name}.${column.name}`).join(', ') : null;
    for (const index of config.indexes) {
      const columns = index.config.unique ? listed(index.config.columns) : null;
      if (columns) columnsByConstraint.set(index.config.name, columns);
    }
    for (const column of config.columns)
      if (column.isUnique && column.uniqueName) columnsByConstraint.set(column.uniqueName, `${config.name}.${column.name}`);
  }
  return columnsByConstraint;
}
