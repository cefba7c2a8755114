import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { AsyncLocalStorage } from 'node:async_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { contextualDb, DatabaseOpenError, type Database, type Db } from './database.js';
import * as schema from './schema.js';

/** Connections per process; PostgreSQL's own default allows 100 in all, so a few instances fit. */
const POOL_SIZE = 10;
/** How long to wait for a connection before the statement fails instead of hanging. */
const CONNECT_TIMEOUT_MS = 5_000;
/** How long `/ready` waits for its probe. */
const READY_TIMEOUT_MS = 2_000;
/** How long a failure seen by a request keeps `/ready` at 503 without a new one (as on SQLite). */
const FAILURE_MEMORY_MS = 10_000;
/** The advisory lock instances take while migrating, so that only one migrates: "SHIPYARD" in ASCII. */
export const MIGRATION_LOCK = 0x5348495059415244n;

const migrationsFolder = fileURLToPath(new URL('../../drizzle-pg', import.meta.url));

/** Socket errors: the server went away or cannot be reached. */
const FAILING_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * SQLSTATE classes that mean the server, not the statement, is failing: 08 connection, 53
 * insufficient resources, 57 operator intervention (shutdown, terminated backend), 58 system
 * error; and 25006, a write refused by a read-only server (a standby, or read-only by setting).
 */
const FAILING_SQLSTATE = /^(08|53|57|58)|^25006$/;
/** node-postgres's own messages for a pool or connection that can no longer be used. */
const FAILING_MESSAGE = /pool after calling end|Connection terminated|not queryable|timeout exceeded when trying to connect/i;

export interface PostgresDatabase extends Database {
  dialect: 'postgres';
  /** The pool itself, for tests that break it on purpose. */
  pool: pg.Pool;
}

/**
 * Connects, applies pending migrations and answers the data layer over a pool. `onStatement`
 * sees every SQL statement run, for tests that count them.
 */
export async function openPostgres(url: string, onStatement?: (sql: string) => void): Promise<PostgresDatabase> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, Client: Int8AsNumberClient });
  let lastFailureAt = 0;
  // A connection the server drops between statements reports an 'error' event: the pool's for
  // an idle one, the connection's own while it is checked out (in a transaction). Unheard, either
  // would end the process; the statement that next uses it fails and is judged by isFailure.
  const dropped = () => (lastFailureAt = Date.now());
  pool.on('error', dropped);
  pool.on('connect', (client) => client.on('error', dropped));
  try {
    await migrateOnce(pool);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new DatabaseOpenError(redact(url), oneLine(error));
  }

  // The table objects are SQLite's (`schema.ts`); PostgreSQL's dialect builds its SQL from their
  // names and maps values through their own mapToDriverValue/mapFromDriverValue, which the
  // PostgreSQL columns are made to store (schema.pg.ts). The types cannot say so, hence the casts.
  const raw = drizzle(pool, {
    schema: schema as unknown as Record<string, never>,
    ...(onStatement ? { logger: { logQuery: (query: string) => onStatement(query) } } : {}),
  });
  const current = new AsyncLocalStorage<object>();
  const transaction: Db['transaction'] = async (work) => {
    if (current.getStore()) return work(db);
    // One pooled connection holds the transaction; statements through `db` inside `work` find
    // it in `current`, and other callers keep using the pool meanwhile.
    return raw.transaction((tx) => current.run(tx, () => work(db)));
  };
  const db = contextualDb<Db>(raw, current, transaction);
  const exclusively: Database['exclusively'] = (name, work) =>
    transaction(async () => {
      // Held until this transaction ends; inside it, the lock is on this transaction's connection.
      await (current.getStore() as typeof raw).execute(sql`select pg_advisory_xact_lock(hashtext(${name}))`);
      return work();
    });

  return {
    dialect: 'postgres',
    db,
    pool,
    close: async () => {
      if (!pool.ended) await pool.end();
    },
    isFailure: (error) => {
      const failing = pool.ended || isConnectionFailure(error);
      if (failing) lastFailureAt = Date.now();
      return failing;
    },
    exclusively,
    isReady: async () => {
      if (pool.ended || Date.now() - lastFailureAt < FAILURE_MEMORY_MS) return false;
      let timer: NodeJS.Timeout | undefined;
      const probe = pool
        .query<{ readOnly: string }>(`select current_setting('transaction_read_only') as "readOnly"`)
        .then((result) => result.rows[0]?.readOnly === 'off');
      const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS)));
      try {
        return await Promise.race([probe, timeout]);
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
        probe.catch(() => undefined);
      }
    },
  };
}

/**
 * Applies pending migrations while holding an advisory lock on one connection: instances
 * starting together wait for the first, then find nothing left to apply.
 */
async function migrateOnce(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
    try {
      await migrate(drizzle(client), { migrationsFolder });
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]);
    }
  } catch (error) {
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    // A connection that failed is closed, not pooled (closing it also frees a lock still held).
    client.release(broken);
  }
}

/**
 * A connection whose bigint (int8) values read as numbers: timestamps are stored as bigint
 * milliseconds, and SQLite's columns expect a number to make a Date from. Drizzle gives every
 * query its own type parsers, falling back to pg's global ones, so the pool's `types` option
 * would be ignored; this applies the rule per query, to this pool only. Milliseconds and ids
 * stay far below 2^53.
 */
class Int8AsNumberClient extends pg.Client {
  override query(...args: unknown[]): never {
    const [config] = args;
    if (typeof config === 'object' && config !== null && 'text' in config) {
      const types = 'types' in config ? (config.types as pg.CustomTypesConfig | undefined) : undefined;
      args[0] = {
        ...config,
        types: {
          getTypeParser: (oid: number, format?: string) =>
            oid === pg.types.builtins.INT8 && format !== 'binary'
              ? (value: string) => Number(value)
              : (types ?? pg.types).getTypeParser(oid, format as 'text'),
        },
      };
    }
    // pg's query() has many overloads; the arguments pass through unchanged but for the types.
    return (super.query as (...a: unknown[]) => never)(...args);
  }
}

/** Whether `error`, or an error it wraps (Drizzle wraps the driver's in `cause`), says the server is failing. */
function isConnectionFailure(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (FAILING_SOCKET.has(code) || FAILING_SQLSTATE.test(code))) return true;
    if (FAILING_MESSAGE.test(e.message)) return true;
    if (e instanceof AggregateError && e.errors.some(isConnectionFailure)) return true;
  }
  return false;
}

/** The innermost reason, on one line: Drizzle's message carries the whole query over several. */
function oneLine(error: unknown): string {
  let reason = error;
  while (reason instanceof Error && reason.cause instanceof Error) reason = reason.cause;
  if (reason instanceof AggregateError && reason.message === '') reason = reason.errors[0];
  const message = reason instanceof Error ? reason.message || (reason as { code?: string }).code || reason.name : String(reason);
  return message.replace(/\s+/g, ' ').trim();
}

/** The URL without its password, for messages and logs. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}
