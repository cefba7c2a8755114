import type { Database } from './database.js';
import { openSqlite } from './sqlite.js';

export type { Database, Db, Dialect } from './database.js';
export { DatabaseOpenError } from './database.js';

export interface DatabaseOptions {
  /** The embedded file, used when no `url` is given. */
  file: string;
  /** `postgres://…`: PostgreSQL instead of the file. */
  url?: string;
  /** Sees every SQL statement run, for tests that count them. */
  onStatement?: (sql: string) => void;
}

/** Opens the database the configuration names and applies pending migrations. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    const { openPostgres } = await import('./postgres.js');
    return openPostgres(options.url, options.onStatement);
  }
  return openSqlite(options.file, options.onStatement);
}
export { countRows, oneRow } from './queries.js';
export { isUniqueViolation } from './errors.js';
export { lockForUpdate } from './locks.js';
export { oldestQueuedJob } from './claims.js';
