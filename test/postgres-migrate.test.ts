import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyPostgresTestDatabase, type TestDatabase } from './databases.js';

/** Instances of Shipyard starting together on one new PostgreSQL database migrate it once. */

interface Child {
  ready: Promise<void>;
  go(): void;
  /** Everything it printed and its exit code, once it has exited. */
  done: Promise<{ code: number | null; output: string }>;
}

function openInChild(url: string): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/postgres-open-child.ts', url], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let ready!: () => void;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('ready')) ready();
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const done = new Promise<{ code: number | null; output: string }>((resolve) => child.on('exit', (code) => resolve({ code, output })));
  return { ready: readyPromise, go: () => child.stdin.end('go\n'), done };
}

const journal = JSON.parse(readFileSync(new URL('../drizzle-pg/meta/_journal.json', import.meta.url), 'utf8')) as { entries: unknown[] };

describe('migrating PostgreSQL', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await emptyPostgresTestDatabase();
  });
  afterAll(() => database.drop());

  it('applies each migration once when two processes open an empty database at the same moment', async () => {
    const children = [openInChild(database.url), openInChild(database.url)];
    await Promise.all(children.map((child) => child.ready));
    for (const child of children) child.go();
    const results = await Promise.all(children.map((child) => child.done));
    for (const result of results) expect(result).toMatchObject({ code: 0, output: expect.stringContaining('opened') });

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const applied = await client.query<{ hash: string; times: string }>(
        'select hash, count(*) as times from drizzle.__drizzle_migrations group by hash',
      );
      expect(applied.rows).toHaveLength(journal.entries.length);
      for (const row of applied.rows) expect(row.times).toBe('1');
      const tables = await client.query(`select 1 from information_schema.tables where table_schema = 'public'`);
      expect(tables.rowCount).toBeGreaterThan(20);
    } finally {
      await client.end();
    }
  });
});
