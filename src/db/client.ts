import Database from 'better-sqlite3';
import { count, type SQL } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import { fileURLToPath } from 'node:url';
import * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema>;

export interface DatabaseHandle {
  db: Db;
  sqlite: Database.Database;
  close(): void;
}

const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

/**
 * Opens the database file, sets the pragmas every connection needs and applies pending
 * migrations. `onStatement` sees every SQL statement run, for tests that count them.
 */
export function openDatabase(file: string, onStatement?: (sql: string) => void): DatabaseHandle {
  const sqlite = new Database(file, onStatement ? { verbose: (message) => onStatement(String(message)) } : {});
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  const db = drizzle(sqlite, { schema });
  // A migration that rebuilds a table drops the old one; with foreign keys on, that would
  // cascade into every referencing table, so they are off while migrating and checked after.
  sqlite.pragma('foreign_keys = OFF');
  migrate(db, { migrationsFolder });
  const violations = sqlite.pragma('foreign_key_check') as unknown[];
  if (violations.length > 0) {
    sqlite.close();
    throw new Error(`database has ${violations.length} foreign key violations after migrating`);
  }
  sqlite.pragma('foreign_keys = ON');
  return {
    db,
    sqlite,
    close: () => {
      if (sqlite.open) sqlite.close();
    },
  };
}

/** `select count(*)` as a plain number, for synchronous code. */
export function countRows(db: Pick<Db, 'select'>, table: SQLiteTable, where: SQL | undefined): number {
  return db.select({ rows: count() }).from(table).where(where).get()?.rows ?? 0;
}
