import { AsyncLocalStorage } from 'node:async_hooks';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type * as schema from './schema.js';

/**
 * The query builder the domain writes against, on either dialect. The tables are declared once
 * (`schema.ts`); PostgreSQL runs the same table objects through its own dialect, with columns
 * stored alike (milliseconds as bigint, booleans as 0/1, JSON as text), so a query reads the
 * same rows on both. Statements are awaited; the synchronous `.get()`, `.all()` and `.run()` of
 * better-sqlite3 exist on one dialect only and are refused by lint outside `src/db/`.
 */
export type Db = DbOf<typeof schema>;

/** `Db` over another set of tables (a runtime server's own database). */
export type DbOf<TSchema extends Record<string, unknown>> = Omit<BetterSQLite3Database<TSchema>, 'transaction'> & {
  /**
   * Runs `work` in one transaction: committed when it resolves, rolled back when it throws. Inside,
   * every statement through this `Db` (not only through `tx`) belongs to the transaction, so
   * helpers called from `work` need no transaction passed in. A nested call joins the outer one.
   */
  transaction<T>(work: (tx: DbOf<TSchema>) => Promise<T>): Promise<T>;
};

export type Dialect = 'sqlite' | 'postgres';

export interface Database<TDb = Db> {
  dialect: Dialect;
  /** Statements through it run in the caller's transaction when there is one. */
  db: TDb;
  close(): Promise<void>;
  /**
   * Whether `error` says the database itself is failing (read-only, I/O, full, unreachable,
   * closed) rather than a statement being wrong; a failure keeps `isReady` false for a while (R72).
   */
  isFailure(error: unknown): boolean;
  /** Whether the database answers and takes writes, for `/ready` (R4, R72). */
  isReady(): Promise<boolean>;
  /**
   * Runs `work` in one transaction that no other instance's `exclusively(name, …)` overlaps, so
   * that instances starting together on one database take turns (R58): the second one finds
   * what the first one made. PostgreSQL holds an advisory lock on `name` until the transaction
   * ends; SQLite's transactions already take turns.
   */
  exclusively<T>(name: string, work: () => Promise<T>): Promise<T>;
}

/** Why a database could not be opened: one line naming it and the problem (R72). */
export class DatabaseOpenError extends Error {
  override name = 'DatabaseOpenError';
  constructor(where: string, cause: unknown) {
    super(`cannot open the database ${where}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * A `Db` whose every property is read from the transaction the caller is in, or from `root`
 * outside one: code written against one `Db` joins its caller's transaction without being told.
 */
export function contextualDb<TDb extends { transaction: unknown }>(root: object, current: AsyncLocalStorage<object>, transaction: TDb['transaction']): TDb {
  return new Proxy(root, {
    get(_, property) {
      if (property === 'transaction') return transaction;
      const target = current.getStore() ?? root;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as TDb;
}
