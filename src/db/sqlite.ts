import Database from 'better-sqlite3';
import { entityKind } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { AsyncLocalStorage } from 'node:async_hooks';
import { fileURLToPath } from 'node:url';
import { contextualDb, DatabaseOpenError, type Database as ShipyardDatabase, type Db, type DbOf } from './database.js';
import * as schema from './schema.js';

/** SQLite result codes that mean the database, not the statement, is failing. */
const FAILING_DATABASE = /^SQLITE_(READONLY|IOERR|FULL|CANTOPEN|CORRUPT|NOTADB|BUSY|LOCKED|PERM|PROTOCOL|AUTH)/;
/** How long a failure seen by a request keeps `/ready` at 503 without a new one. */
const FAILURE_MEMORY_MS = 10_000;

const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

export interface SqliteDatabase<TDb = Db> extends ShipyardDatabase<TDb> {
  dialect: 'sqlite';
  /** The connection itself, for tests that break it on purpose. */
  sqlite: Database.Database;
}

export interface SqliteOptions<TSchema extends Record<string, unknown>> {
  /** The tables, for the relational API and the migrations' foreign key check. */
  schema: TSchema;
  migrationsFolder: string;
  /** FULL acknowledges a change only once it is on disk; NORMAL (the default) may lose the last ones on power loss, never consistency. */
  synchronous?: 'NORMAL' | 'FULL';
  /** Sees every SQL statement run, for tests that count them. */
  onStatement?: (sql: string) => void;
}

/**
 * Opens Shipyard's database file, sets the pragmas every connection needs and applies pending
 * migrations. `onStatement` sees every SQL statement run, for tests that count them.
 */
export function openSqlite(file: string, onStatement?: (sql: string) => void): SqliteDatabase {
  return openSqliteWith(file, { schema, migrationsFolder, ...(onStatement ? { onStatement } : {}) });
}

/** Opens a SQLite file holding `options.schema`'s tables, migrated from `options.migrationsFolder`. */
export function openSqliteWith<TSchema extends Record<string, unknown>>(file: string, options: SqliteOptions<TSchema>): SqliteDatabase<DbOf<TSchema>> {
  try {
    return open(file, options);
  } catch (error) {
    throw new DatabaseOpenError(file, error);
  }
}

function open<TSchema extends Record<string, unknown>>(file: string, options: SqliteOptions<TSchema>): SqliteDatabase<DbOf<TSchema>> {
  const { onStatement } = options;
  const sqlite = new Database(file, onStatement ? { verbose: (message) => onStatement(String(message)) } : {});
  let lastFailureAt = 0;
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  sqlite.pragma('busy_timeout = 5000');
  const raw = drizzle(sqlite, { schema: options.schema });
  // A migration that rebuilds a table drops the old one; with foreign keys on, that would
  // cascade into every referencing table, so they are off while migrating and checked after.
  sqlite.pragma('foreign_keys = OFF');
  migrate(raw, { migrationsFolder: options.migrationsFolder });
  const violations = sqlite.pragma('foreign_key_check') as unknown[];
  if (violations.length > 0) {
    sqlite.close();
    throw new Error(`database has ${violations.length} foreign key violations after migrating`);
  }
  sqlite.pragma('foreign_keys = ON');

  const gate = new TransactionGate();
  const current = new AsyncLocalStorage<object>();
  const transaction: DbOf<TSchema>['transaction'] = async (work) => {
    if (current.getStore()) return work(db);
    await gate.enter();
    try {
      sqlite.exec('BEGIN IMMEDIATE');
      try {
        const result = await current.run(raw, () => work(db));
        sqlite.exec('COMMIT');
        return result;
      } catch (error) {
        if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
        throw error;
      }
    } finally {
      gate.leave();
    }
  };
  const db = contextualDb<DbOf<TSchema>>(gate.guard(raw, () => current.getStore() !== undefined), current, transaction);

  return {
    dialect: 'sqlite',
    db,
    sqlite,
    close: () => {
      if (sqlite.open) sqlite.close();
      return Promise.resolve();
    },
    isFailure: (error) => {
      const failing = !sqlite.open || (error instanceof Database.SqliteError && FAILING_DATABASE.test(error.code));
      if (failing) lastFailureAt = Date.now();
      return failing;
    },
    // One connection, whose transactions already take turns (TransactionGate).
    exclusively: (_name, work) => transaction(() => work()),
    isReady: () => {
      if (!sqlite.open || sqlite.readonly || Date.now() - lastFailureAt < FAILURE_MEMORY_MS) return Promise.resolve(false);
      try {
        if (sqlite.pragma('query_only', { simple: true }) !== 0) return Promise.resolve(false);
        // Takes the write lock without writing: a read-only file or a held lock refuses it.
        if (!sqlite.inTransaction) sqlite.exec('BEGIN IMMEDIATE; ROLLBACK');
        return Promise.resolve(true);
      } catch {
        return Promise.resolve(false);
      }
    },
  };
}

/**
 * One connection serves every caller, and a transaction stays open across its awaits; a statement
 * from outside it would run inside it (seeing its uncommitted rows, and undone by its rollback).
 * So transactions take turns, and a statement from outside waits until the open one has ended.
 */
class TransactionGate {
  private open: Promise<void> | null = null;
  private release: (() => void) | null = null;

  async enter(): Promise<void> {
    while (this.open) await this.open;
    this.open = new Promise((resolve) => (this.release = resolve));
  }

  leave(): void {
    const release = this.release;
    this.open = null;
    this.release = null;
    release?.();
  }

  /** `root` whose statements, when awaited outside a transaction, wait for the open one to end. */
  guard<T extends object>(root: T, inTransaction: () => boolean): T {
    const wrap = <B extends object>(builder: B): B => {
      const proxy: B = new Proxy(builder, {
        get: (target, property) => {
          const value: unknown = Reflect.get(target, property, target);
          if (typeof value !== 'function') return value;
          if (property === 'then')
            return (onFulfilled?: (rows: unknown) => unknown, onRejected?: (error: unknown) => unknown) => {
              const run = (): unknown => (this.open && !inTransaction() ? this.open.then(run) : value.call(target, onFulfilled, onRejected));
              return run();
            };
          return (...args: unknown[]) => {
            const result: unknown = value.apply(target, args);
            if (result === target) return proxy;
            return isStatement(result) ? wrap(result) : result;
          };
        },
      });
      return proxy;
    };
    return wrap(root);
  }
}

/** A query builder or statement of Drizzle's (not a row, not a plain value). */
const isStatement = (value: unknown): value is object =>
  typeof value === 'object' && value !== null && entityKind in (value.constructor as object);
