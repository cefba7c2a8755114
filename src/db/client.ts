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
  /**
   * Whether `error` says the database itself is failing (read-only, I/O, full, locked, closed)
   * rather than a statement being wrong; a failure keeps `isReady` false for a while (R72).
   */
  isFailure(error: unknown): boolean;
  /** Whether the database answers and takes writes, for `/ready` (R4, R72). */
  isReady(): boolean;
}

/** Why a database file could not be opened: one line naming the file and the problem (R72). */
export class DatabaseOpenError extends Error {
  override name = 'DatabaseOpenError';
  constructor(file: string, cause: unknown) {
    super(`cannot open the database ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** SQLite result codes that mean the database, not the statement, is failing. */
const FAILING_DATABASE = /^SQLITE_(READONLY|IOERR|FULL|CANTOPEN|CORRUPT|NOTADB|BUSY|LOCKED|PERM|PROTOCOL|AUTH)/;
/** How long a failure seen by a request keeps `/ready` at 503 without a new one. */
const FAILURE_MEMORY_MS = 10_000;

const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

/**
 * Opens the database file, sets the pragmas every connection needs and applies pending
 * migrations. `onStatement` sees every SQL statement run, for tests that count them.
 */
export function openDatabase(file: string, onStatement?: (sql: string) => void): DatabaseHandle {
  try {
    return open(file, onStatement);
  } catch (error) {
    throw new DatabaseOpenError(file, error);
  }
}

function open(file: string, onStatement?: (sql: string) => void): DatabaseHandle {
  const sqlite = new Database(file, onStatement ? { verbose: (message) => onStatement(String(message)) } : {});
  let lastFailureAt = 0;
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
    isFailure: (error) => {
      const failing = !sqlite.open || (error instanceof Database.SqliteError && FAILING_DATABASE.test(error.code));
      if (failing) lastFailureAt = Date.now();
      return failing;
    },
    isReady: () => {
      if (!sqlite.open || sqlite.readonly || Date.now() - lastFailureAt < FAILURE_MEMORY_MS) return false;
      try {
        if (sqlite.pragma('query_only', { simple: true }) !== 0) return false;
        // Takes the write lock without writing: a read-only file or a held lock refuses it.
        if (!sqlite.inTransaction) sqlite.exec('BEGIN IMMEDIATE; ROLLBACK');
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** `select count(*)` as a plain number, for synchronous code. */
export function countRows(db: Pick<Db, 'select'>, table: SQLiteTable, where: SQL | undefined): number {
  return db.select({ rows: count() }).from(table).where(where).get()?.rows ?? 0;
}
