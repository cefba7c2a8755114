import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Database } from '../src/db/client.js';
import type { PostgresDatabase } from '../src/db/postgres.js';
import type { SqliteDatabase } from '../src/db/sqlite.js';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ipa } from './fixtures.js';
import { postgresAdminUrl } from './databases.js';
import { multipartUpload, noUserErrors, startServer, testDialect } from './kit.js';

const run = promisify(execFile);

async function adminQuery(statement: string) {
  const client = new pg.Client({ connectionString: postgresAdminUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Breaks the server's own database as an operator or the platform would. */
function breaker(database: Database) {
  if (database.dialect === 'sqlite') {
    const { sqlite } = database as SqliteDatabase;
    return {
      // The state SQLite is in on a read-only file or mount: every write is refused with SQLITE_READONLY.
      readOnly: () => Promise.resolve(void sqlite.pragma('query_only = ON')),
      fail: () => Promise.resolve(sqlite.close()),
    };
  }
  const { pool } = database as PostgresDatabase;
  const name = new URL(pool.options.connectionString ?? '').pathname.slice(1);
  return {
    // A server made read-only (a standby, or by setting): every write is refused with 25006.
    // Connections take the setting when they open, so the idle ones are closed.
    readOnly: async () => {
      await adminQuery(`alter database "${name}" set default_transaction_read_only = on`);
      while (pool.idleCount > 0) (await pool.connect()).release(true);
    },
    fail: () => pool.end(),
  };
}

/** A world with one app and one binary, and a way to break the server's own database. */
async function world(options: { onStatement?: (sql: string) => void } = {}) {
  let database: Database | undefined;
  const t = await startServer({}, { ...options, onDatabaseOpen: (opened) => (database = opened) });
  const appId = (await t.admin.request('mutation { createApp(input: { name: "Stored" }) { app { id } } }')).createApp.app.id;
  const uploaded = await multipartUpload(t.admin, { appId, platform: 'IOS_PHONE' }, { name: 'Stored.ipa', content: await ipa() });
  const binary = noUserErrors((uploaded.body.data as { uploadClientBinary: { userErrors: unknown[]; binary: { downloadUrl: string } } }).uploadClientBinary).binary;
  if (!database) throw new Error('no database');
  return { t, database: breaker(database), appId, downloadUrl: binary.downloadUrl };
}

const get = (url: string, token?: string | null) => fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
const CREATE_APP = 'mutation { createApp(input: { name: "Later" }) { app { id } userErrors { code } } }';
const READ = '{ apps(first: 5) { totalCount nodes { name } } }';

/** What a client may see of a failure: a code and a request id, never the database's words or a stack. */
const expectMasked = (text: string) => {
  expect(text).not.toMatch(/SQLITE|sqlite|readonly database|shipyard\.db|postgres|read-only transaction|25006|shipyard_t_|\bat \S+ \(|\.ts:\d+/i);
};

describe('a read-only database (R72)', () => {
  let w: Awaited<ReturnType<typeof world>>;
  beforeAll(async () => {
    w = await world();
  });
  afterAll(() => w.t.stop());

  it('makes /ready 503 and writes 503 with a masked error, while reads and downloads still work', async () => {
    expect((await get(`${w.t.url}/ready`)).status).toBe(200);
    await w.database.readOnly();

    expect((await get(`${w.t.url}/ready`)).status).toBe(503);
    expect((await get(`${w.t.url}/health`)).status).toBe(200);

    const write = await fetch(w.t.admin.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${w.t.admin.token}` },
      body: JSON.stringify({ query: CREATE_APP }),
    });
    const text = await write.text();
    expect(write.status).toBe(503);
    expect(JSON.parse(text)).toMatchObject({ errors: [{ message: expect.stringMatching(/^The database is unavailable/), extensions: { code: 'SERVICE_UNAVAILABLE', requestId: expect.any(String) } }] });
    expectMasked(text);

    // Reads do not write, so they keep working.
    expect((await w.t.admin.raw(READ)).data).toMatchObject({ apps: { totalCount: 1 } });
    const download = await get(w.downloadUrl, w.t.admin.token);
    expect(download.status).toBe(200);
    expect((await download.arrayBuffer()).byteLength).toBeGreaterThan(0);
    const upload = await fetch(`${w.t.url}/uploads/AAAAAAAAAAAAAAAAAAAAAAAA`, { method: 'PUT', headers: { authorization: `Bearer ${w.t.admin.token}` }, body: 'x' });
    expect(upload.status).toBe(404);
  });
});

describe('a failing database (R72)', () => {
  let w: Awaited<ReturnType<typeof world>>;
  beforeAll(async () => {
    w = await world();
  });
  afterAll(() => w.t.stop());

  it('answers 503 everywhere without a stack and keeps the process alive', async () => {
    await w.database.fail();
    expect((await get(`${w.t.url}/ready`)).status).toBe(503);
    for (const response of [
      await fetch(w.t.admin.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${w.t.admin.token}` }, body: JSON.stringify({ query: READ }) }),
      await get(w.downloadUrl, w.t.admin.token),
      await fetch(`${w.t.url}/uploads/AAAAAAAAAAAAAAAAAAAAAAAA`, { method: 'PUT', headers: { authorization: `Bearer ${w.t.admin.token}` }, body: 'x' }),
    ]) {
      const text = await response.text();
      expect(response.status, text).toBe(503);
      expectMasked(text);
    }
    // A WebSocket connection is closed with 1011, without a stack on stderr.
    const stderr = vi.spyOn(console, 'error');
    const code = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`${w.t.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${w.t.admin.token}` } })));
      socket.on('close', (closeCode) => resolve(closeCode));
    });
    expect(code).toBe(1011);
    expect(stderr).not.toHaveBeenCalled();
    stderr.mockRestore();
    // Still alive, still answering.
    expect((await get(`${w.t.url}/health`)).status).toBe(200);
  });
});

describe('reads do not write (R72)', () => {
  it("writes a token's lastUsedAt at most once a minute, however many requests it makes", async () => {
    const statements: string[] = [];
    const w = await world({ onStatement: (sql) => statements.push(sql) });
    try {
      const { token } = noUserErrors((await w.t.admin.request('mutation { createApiToken(input: { name: "reader" }) { token userErrors { code } } }')).createApiToken);
      const reader = w.t.client(token);
      const updates = () => statements.filter((sql) => /^update "api_tokens"/i.test(sql.trim())).length;
      const before = updates();
      for (let i = 0; i < 20; i += 1) expect((await reader.raw(READ)).status).toBe(200);
      expect(updates() - before).toBe(1);
      expect((await get(w.downloadUrl, token)).status).toBe(200);
      expect(updates() - before).toBe(1);
    } finally {
      await w.t.stop();
    }
  });
});

// A file that is not a database; test/postgres-layer.test.ts covers a PostgreSQL that cannot be opened.
describe.runIf(testDialect === 'sqlite')('a database that cannot be opened (R72)', () => {
  it('stops the start with one line naming the file and the problem', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shipyard-baddb-'));
    try {
      writeFileSync(join(dataDir, 'shipyard.db'), 'this is not a database, it only has its name'.repeat(100));
      const failed = await run(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' } }).catch(
        (error: { code: number; stderr: string; stdout: string }) => error,
      );
      expect(failed).toMatchObject({ code: 1 });
      const lines = (failed as { stderr: string }).stderr.trim().split('\n');
      expect(lines).toEqual([`shipyard: cannot open the database ${join(dataDir, 'shipyard.db')}: file is not a database`]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
