import { eq, getTableName, is, sql } from 'drizzle-orm';
import { getTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseOpenError } from '../src/db/database.js';
import { openPostgres, type PostgresDatabase } from '../src/db/postgres.js';
import * as schema from '../src/db/schema.js';
import { accounts, apps, environments, publishJobs, users } from '../src/db/schema.js';
import type { JobState } from '../src/domain/vocabulary.js';
import { postgresAdminUrl, postgresTestDatabase, type TestDatabase } from './databases.js';

/** The PostgreSQL side of the data layer, through the SQLite table objects the domain uses. */

/** A database and the layer open on it, closed and dropped after the test file. */
async function opened(onStatement?: (sql: string) => void) {
  const created = await postgresTestDatabase();
  const database = await openPostgres(created.url, onStatement);
  cleanup.push(async () => {
    await database.close();
    await created.drop();
  });
  return { created, database };
}
const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.allSettled(cleanup.map((step) => step()));
});

/** One account with a user, an app and an environment, for rows that need them. */
async function world(database: PostgresDatabase) {
  const { db } = database;
  const [account] = await db.insert(accounts).values({ name: 'Acme' }).returning();
  if (!account) throw new Error('no account');
  const [user] = await db.insert(users).values({ accountId: account.id, email: 'a@acme.test', name: 'A', role: 'ADMIN' }).returning();
  const [app] = await db.insert(apps).values({ accountId: account.id, name: 'App' }).returning();
  const [environment] = await db
    .insert(environments)
    .values({ accountId: account.id, name: 'Prod', integrationVersion: '1', syncVersion: '1', messagingVersion: '1' })
    .returning();
  if (!user || !app || !environment) throw new Error('no world');
  return { account, user, app, environment };
}

type World = Awaited<ReturnType<typeof world>>;
const job = (w: World, trackingNumber: number, state: JobState) => ({
  accountId: w.account.id,
  trackingNumber,
  appId: w.app.id,
  environmentId: w.environment.id,
  kind: 'NATIVE_CLIENT' as const,
  action: 'PUBLISH' as const,
  sync: true,
  state,
  requestedBy: w.user.id,
  request: JSON.stringify({ binaryIds: [1, 2], note: 'ünïcode' }),
});

/** The driver's error inside Drizzle's wrapper: where the SQLSTATE and constraint are. */
const driverError = (error: unknown) => (error instanceof Error ? error.cause : undefined) as pg.DatabaseError | undefined;

async function rejection(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Closes the pool's idle connections, so that the next statement opens a new one. */
async function dropIdleConnections(pool: pg.Pool): Promise<void> {
  while (pool.idleCount > 0) (await pool.connect()).release(true);
}

async function adminQuery(statement: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: postgresAdminUrl });
  await client.connect();
  try {
    return await client.query(statement, params);
  } finally {
    await client.end();
  }
}

describe('PostgreSQL data layer', () => {
  let database: PostgresDatabase;
  let created: TestDatabase;
  let w: World;
  const statements: string[] = [];
  beforeAll(async () => {
    ({ database, created } = await opened((statement) => statements.push(statement)));
    w = await world(database);
  });

  it('creates every table and column of the SQLite schema (the migrations are not behind the declarations)', async () => {
    const tables = (Object.values(schema) as unknown[]).filter((value): value is SQLiteTable => is(value, SQLiteTable));
    const expected = tables
      .flatMap((table) => getTableConfig(table).columns.map((c) => `${getTableName(table)}.${c.name} ${c.notNull ? 'NO' : 'YES'}`))
      .sort();
    const rows = await database.pool.query<{ name: string }>(
      `select table_name || '.' || column_name || ' ' || is_nullable as name from information_schema.columns where table_schema = 'public'`,
    );
    expect(rows.rows.map((row) => row.name).sort()).toEqual(expected);
    expect(tables.length).toBeGreaterThan(20);
  });

  it('reads back timestamps as Dates, booleans as booleans and JSON text as written', async () => {
    const before = Date.now();
    const [inserted] = await database.db.insert(publishJobs).values(job(w, 1, 'SUCCEEDED')).returning();
    const [read] = await database.db.select().from(publishJobs).where(eq(publishJobs.id, inserted?.id ?? -1));
    expect(read?.createdAt).toBeInstanceOf(Date);
    expect(read?.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(read?.createdAt.getTime()).toBe(inserted?.createdAt.getTime());
    expect(read?.sync).toBe(true);
    expect(read?.startedAt).toBeNull();
    expect(JSON.parse(read?.request ?? '')).toEqual({ binaryIds: [1, 2], note: 'ünïcode' });
    expect(read?.warnings).toBe('[]');
    expect(w.environment.allowManualPublishOnly).toBe(false);
    expect(w.environment.runtimeAnswered).toBeNull();

    const finishedAt = new Date(Date.UTC(2031, 0, 2, 3, 4, 5, 678));
    const [updated] = await database.db
      .update(publishJobs)
      .set({ finishedAt, sync: false })
      .where(eq(publishJobs.id, inserted?.id ?? -1))
      .returning();
    expect(updated?.finishedAt).toEqual(finishedAt);
    expect(updated?.sync).toBe(false);
    // $onUpdate stamps it, as on SQLite.
    expect(updated?.updatedAt).toBeInstanceOf(Date);

    // Raw SQL compares a timestamp column with milliseconds, as on SQLite.
    const [later] = await database.db
      .select({ id: publishJobs.id })
      .from(publishJobs)
      .where(sql`${publishJobs.finishedAt} > ${finishedAt.getTime() - 1}`);
    expect(later?.id).toBe(inserted?.id);

    await database.db.delete(publishJobs).where(eq(publishJobs.id, inserted?.id ?? -1));
    expect(await database.db.select().from(publishJobs).where(eq(publishJobs.id, inserted?.id ?? -1))).toEqual([]);
  });

  it('reads bigint results as numbers on its own pool only', async () => {
    const [row] = await database.db.select({ n: sql<number>`count(*)` }).from(accounts);
    expect(row?.n).toBe(1);
    // Positive control: pg's global parser is untouched, so another client still reads a string.
    const other = await adminQuery('select count(*) as n from pg_database where datname = $1', [created.name]);
    expect(other.rows[0]).toEqual({ n: '1' });
  });

  it('upserts with onConflictDoUpdate', async () => {
    const values = { appId: w.app.id, environmentId: 7, appKey: 'k1', secretSha256: 'a', updatedAt: new Date(1_000) };
    await database.db.insert(schema.appCredentials).values(values);
    await database.db
      .insert(schema.appCredentials)
      .values({ ...values, secretSha256: 'b' })
      .onConflictDoUpdate({ target: [schema.appCredentials.appId, schema.appCredentials.environmentId], set: { secretSha256: 'b' } });
    const rows = await database.db.select().from(schema.appCredentials);
    expect(rows).toEqual([{ ...values, secretSha256: 'b' }]);
  });

  it('reports every statement to onStatement', async () => {
    statements.length = 0;
    await database.db.select().from(accounts);
    expect(statements).toEqual([expect.stringMatching(/^select .* from "accounts"$/)]);
  });

  describe('transactions', () => {
    const names = async () => (await database.db.select({ name: apps.name }).from(apps).orderBy(apps.name)).map((row) => row.name);

    it('commits when the work resolves', async () => {
      const result = await database.db.transaction(async (tx) => {
        await tx.insert(apps).values({ accountId: w.account.id, name: 'Committed' });
        return 'done';
      });
      expect(result).toBe('done');
      expect(await names()).toContain('Committed');
    });

    it('rolls back when the work throws, with statements through the contextual db and a nested call', async () => {
      const error = await rejection(
        database.db.transaction(async () => {
          await database.db.insert(apps).values({ accountId: w.account.id, name: 'Outer' });
          await database.db.transaction(async (inner) => {
            await inner.insert(apps).values({ accountId: w.account.id, name: 'Nested' });
          });
          throw new Error('undo');
        }),
      );
      expect(error).toMatchObject({ message: 'undo' });
      const after = await names();
      expect(after).not.toContain('Outer');
      expect(after).not.toContain('Nested');
    });

    it('keeps uncommitted rows from statements outside it', async () => {
      let inserted!: () => void;
      const insertedSignal = new Promise<void>((resolve) => (inserted = resolve));
      let seenOutside!: () => void;
      const outsideDone = new Promise<void>((resolve) => (seenOutside = resolve));
      const transaction = database.db.transaction(async () => {
        await database.db.insert(apps).values({ accountId: w.account.id, name: 'Pending' });
        // Inside, the contextual db sees its own row.
        expect(await names()).toContain('Pending');
        inserted();
        await outsideDone;
      });
      // This code did not start inside the transaction, so its statements use other connections.
      await insertedSignal;
      expect(await names()).not.toContain('Pending');
      seenOutside();
      await transaction;
      expect(await names()).toContain('Pending');
    });
  });

  describe('the one active job per environment (R10)', () => {
    it('refuses a second active job with the index named, and allows a finished one', async () => {
      await database.db.insert(publishJobs).values(job(w, 10, 'RUNNING'));
      // Positive control: finished jobs are outside the partial index.
      await database.db.insert(publishJobs).values(job(w, 11, 'SUCCEEDED'));
      await database.db.insert(publishJobs).values(job(w, 12, 'FAILED'));

      const error = await rejection(database.db.insert(publishJobs).values(job(w, 13, 'QUEUED')));
      expect(driverError(error)).toBeInstanceOf(pg.DatabaseError);
      expect(driverError(error)).toMatchObject({ code: '23505', constraint: 'publish_jobs_one_active_per_environment' });
      expect(database.isFailure(error)).toBe(false);

      // Inside a transaction the error is the same shape.
      const inTransaction = await rejection(database.db.transaction(() => database.db.insert(publishJobs).values(job(w, 14, 'CANCELING'))));
      expect(driverError(inTransaction)).toMatchObject({ code: '23505', constraint: 'publish_jobs_one_active_per_environment' });
      expect(await database.isReady()).toBe(true);
    });

    it('keeps the other unique indexes, case-insensitive ones included', async () => {
      const error = await rejection(database.db.insert(apps).values({ accountId: w.account.id, name: 'APP' }));
      expect(driverError(error)).toMatchObject({ code: '23505', constraint: 'apps_account_name_unique' });
      const check = await rejection(database.db.insert(users).values({ accountId: w.account.id, email: 'b@acme.test', name: 'B', role: 'OWNER' as 'ADMIN' }));
      expect(driverError(check)).toMatchObject({ code: '23514', constraint: 'users_role_check' });
      expect(database.isFailure(check)).toBe(false);
    });
  });
});

describe('failures and readiness', () => {
  it('is ready, and not once the pool has ended; a statement then is a failure', async () => {
    const { database } = await opened();
    expect(await database.isReady()).toBe(true);
    await database.close();
    expect(await database.isReady()).toBe(false);
    const error = await rejection(database.db.select().from(accounts));
    expect(database.isFailure(error)).toBe(true);
  });

  it('answers not ready in time when no connection is free, rather than waiting for one', async () => {
    const { database } = await opened();
    const { pool } = database;
    const held = await Promise.all(Array.from({ length: pool.options.max }, () => pool.connect()));
    const order: string[] = [];
    // Queued before the probe: it gets a connection only when one is released.
    const queued = pool.connect().then(
      (client) => (client.release(), order.push('connection')),
      () => order.push('connection timed out'),
    );
    expect(await database.isReady()).toBe(false);
    order.push('ready answered');
    for (const client of held) client.release();
    await queued;
    expect(order).toEqual(['ready answered', 'connection']);
    expect(await database.isReady()).toBe(true);
  });

  it('counts a connection the server ended as a failure, remembers it, and survives idle connections dropped', async () => {
    const { database, created } = await opened();
    await world(database);
    /** The server process behind the connection a statement through `db` uses. */
    const backend = async () => (await database.db.select({ pid: sql<number>`pg_backend_pid()` }).from(accounts))[0]?.pid;
    expect(await database.isReady()).toBe(true);
    const error = await rejection(
      database.db.transaction(async () => {
        await adminQuery('select pg_terminate_backend($1)', [await backend()]);
        await database.db.select().from(accounts);
      }),
    );
    expect(database.isFailure(error)).toBe(true);
    // The failure keeps /ready false for a while although the server answers again.
    expect(await database.isReady()).toBe(false);

    // An idle connection ended by the server is reported on the pool; unheard, it would end the process.
    await adminQuery('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid = $2', [created.name, await backend()]);
    for (let i = 0; i < 100 && database.pool.totalCount > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(database.pool.totalCount).toBe(0);
    expect(await database.db.select({ name: accounts.name }).from(accounts)).toEqual([{ name: 'Acme' }]);
  });

  it('counts a statement cut off by the server shutting its connection (57P01) as a failure', async () => {
    const { database, created } = await opened();
    await world(database);
    const sleeping = rejection(database.db.select({ slept: sql<string>`pg_sleep(30)::text` }).from(accounts));
    let terminated = 0;
    for (let i = 0; i < 200 && terminated === 0; i++) {
      const result = await adminQuery(
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and query like '%pg_sleep(30)%' and pid <> pg_backend_pid()`,
        [created.name],
      );
      terminated = result.rowCount ?? 0;
      if (terminated === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const error = await sleeping;
    expect(driverError(error)).toMatchObject({ code: '57P01' });
    expect(database.isFailure(error)).toBe(true);
  });

  it('is not ready on a read-only server, where a write is a failure', async () => {
    const { database, created } = await opened();
    const w0 = await world(database);
    expect(await database.isReady()).toBe(true);
    await adminQuery(`alter database "${created.name}" set default_transaction_read_only = on`);
    await dropIdleConnections(database.pool);
    expect(await database.isReady()).toBe(false);
    const error = await rejection(database.db.insert(apps).values({ accountId: w0.account.id, name: 'Refused' }));
    expect(driverError(error)).toMatchObject({ code: '25006' });
    expect(database.isFailure(error)).toBe(true);

    // Writable again, but the failure a request saw keeps /ready false for a while.
    await adminQuery(`alter database "${created.name}" reset default_transaction_read_only`);
    await dropIdleConnections(database.pool);
    expect(await database.db.select({ name: accounts.name }).from(accounts)).toEqual([{ name: 'Acme' }]);
    expect(await database.isReady()).toBe(false);
  });

  it('refuses to open an unreachable database with one line that hides the password', async () => {
    const error = await rejection(openPostgres('postgres://shipyard:s3cret-pw@127.0.0.1:1/nowhere'));
    expect(error).toBeInstanceOf(DatabaseOpenError);
    const message = (error as Error).message;
    expect(message).not.toContain('s3cret-pw');
    expect(message).not.toContain('\n');
    expect(message).toMatch(/^cannot open the database postgres:\/\/shipyard:\*\*\*@127\.0\.0\.1:1\/nowhere: .*ECONNREFUSED/);
  });
});
