import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyPostgresTestDatabase, postgresTestDatabase, redisTestPrefix, type TestDatabase } from './databases.js';
import { closeInstances, eventually, INSTANCES_ADMIN_TOKEN, readyStatus, startInstances, type Instance } from './instances.js';
import { Client } from './kit.js';

/**
 * Issue 14, R57: instances starting at the same moment on a new PostgreSQL database migrate it
 * once (under an advisory lock) and both serve. The real server processes, not the migration
 * function alone (postgres-migrate.test.ts): everything a start does after migrating races too.
 */

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const journal = JSON.parse(readFileSync(new URL('../drizzle-pg/meta/_journal.json', import.meta.url), 'utf8')) as { entries: unknown[] };

describe('two instances starting together on an empty PostgreSQL database', () => {
  let database: TestDatabase;
  let instances: Instance[] = [];
  beforeAll(async () => {
    database = await emptyPostgresTestDatabase();
  });
  afterAll(async () => {
    try {
      await closeInstances(instances);
    } finally {
      await database.drop();
    }
  }, 60_000);

  it('both migrate and serve; each migration is applied once', async () => {
    instances = await startInstances(2, { env: { DATABASE_URL: database.url, REDIS_URL, REDIS_PREFIX: redisTestPrefix() }, startTimeoutMs: 60_000 });
    for (const instance of instances) expect(await readyStatus(instance.url)).toBe(200);

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const applied = await client.query<{ hash: string; times: string }>('select hash, count(*) as times from drizzle.__drizzle_migrations group by hash');
      expect(applied.rows).toHaveLength(journal.entries.length);
      for (const row of applied.rows) expect(row.times).toBe('1');
      // One default account and one admin: the first start's bootstrap ran once.
      const accounts = await client.query('select id from accounts');
      expect(accounts.rowCount).toBe(1);
    } finally {
      await client.end();
    }

    // Both serve the same data: what one writes, the other reads.
    const [first, second] = instances.map((instance) => new Client(`${instance.url}/graphql`, INSTANCES_ADMIN_TOKEN)) as [Client, Client];
    const { createApp } = await first.request(`mutation { createApp(input: { name: "StartedTogether" }) { app { id } userErrors { message } } }`);
    const { node } = await second.request(`query ($id: ID!) { node(id: $id) { ... on App { name } } }`, { id: createApp.app.id });
    expect(node).toEqual({ name: 'StartedTogether' });
  }, 90_000);
});

describe('instances whose first start reaches the default account at the same moment', () => {
  let database: TestDatabase;
  let instances: Instance[] = [];
  beforeAll(async () => {
    database = await postgresTestDatabase();
  });
  afterAll(async () => {
    try {
      await closeInstances(instances);
    } finally {
      await database.drop();
    }
  }, 60_000);

  // Each start finds no default account (R1) until one has made it; bootstrap runs in an exclusive
  // section (Database.exclusively), so the later start waits and then finds it. The lock below
  // holds both starts until they wait on it, so the race is staged, not left to timing.
  it('all serve, with one default account', async () => {
    const holder = new pg.Client({ connectionString: database.url });
    const observer = new pg.Client({ connectionString: database.url });
    await holder.connect();
    await observer.connect();
    try {
      // The accounts table held until both starts wait on a lock (of that table, or one their
      // bootstrap takes first): then they run from the same point at once.
      await holder.query('begin');
      await holder.query('lock table accounts in access exclusive mode');
      const starting = startInstances(2, { env: { DATABASE_URL: database.url, REDIS_URL, REDIS_PREFIX: redisTestPrefix() }, startTimeoutMs: 60_000 });
      const waiting = async () => {
        // pg_stat_activity is read once per transaction: polled outside the holder's.
        const { rows } = await observer.query<{ waiting: string }>(
          `select count(*) as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
        );
        return Number(rows[0]?.waiting) >= 2;
      };
      const released = eventually(waiting, { timeoutMs: 60_000, what: 'both starts to wait on a lock' }).finally(() => holder.query('commit'));
      const started = await Promise.allSettled([starting, released]);
      if (started[0].status === 'fulfilled') instances = started[0].value;
      for (const outcome of started) if (outcome.status === 'rejected') throw outcome.reason;
    } finally {
      await holder.end();
      await observer.end();
    }
    for (const instance of instances) expect(await readyStatus(instance.url)).toBe(200);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      expect((await client.query('select id from accounts')).rowCount).toBe(1);
    } finally {
      await client.end();
    }
  }, 90_000);
});
