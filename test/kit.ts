import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GraphQLClient } from 'graphql-request';
import pg from 'pg';
import type { Config } from '../src/config.js';
import type { Role } from '../src/domain/principal.js';
import { createServer, type ServerHandle, type ServerOptions } from '../src/server.js';
import { testDatabaseUrl } from './databases.js';

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown>; path?: string[] }[];
}

/** A client holding one API token; `raw` shows status and errors, `request` insists on data. */
export class Client {
  private readonly client: GraphQLClient;

  constructor(
    readonly graphqlUrl: string,
    readonly token: string | null,
  ) {
    this.client = new GraphQLClient(graphqlUrl, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  }

  /** Runs an operation and fails the test on any GraphQL error. */
  request<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any -- test documents are untyped; assertions check the shapes
    return this.client.request<T>(query, variables);
  }

  async raw<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> { // eslint-disable-line @typescript-eslint/no-explicit-any -- as above
    const response = await fetch(this.graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as Omit<GraphQLResponse<T>, 'status'>;
    return { status: response.status, ...body };
  }
}

export interface TestServer {
  server: ServerHandle;
  url: string;
  dataDir: string;
  config: Config;
  admin: Client;
  /** A client with a fresh user of that role in the default account. */
  as(role: Role): Promise<Client>;
  client(token: string | null): Client;
  /** Creates another account with its admin, as `npm run create-account` does. */
  otherAccount(name?: string): Promise<Client>;
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * With TEST_REDIS_URL, test servers carry live updates through that Redis, on channels of this
 * test file alone (each file loads its own copy of this module).
 */
const testRedisPrefix = `shipyard-test:${randomBytes(6).toString('hex')}:`;

export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    port: 0,
    host: '127.0.0.1',
    dataDir: overrides.dataDir ?? mkdtempSync(join(tmpdir(), 'shipyard-test-')),
    adminToken: undefined,
    databaseUrl: undefined,
    seed: 'none',
    publishStageDelayMs: 0,
    runtimeStageDeadlineMs: 30_000,
    runtimeUrlAllow: [],
    maxUploadBytes: 4 * 1024 ** 3,
    maxMultipartBytes: 64 * 1024 ** 2,
    uploadQuotaBytes: 16 * 1024 ** 3,
    publicUrl: undefined,
    corsOrigins: [],
    logLevel: (process.env.TEST_LOG_LEVEL as Config['logLevel'] | undefined) ?? 'silent',
    graphiqlPrefill: true,
    metricsToken: undefined,
    redisUrl: process.env.TEST_REDIS_URL || undefined,
    redisPrefix: testRedisPrefix,
    ...overrides,
  };
}

/** Which database the suite runs on: `SHIPYARD_TEST_DATABASE=postgres` (the `postgres` vitest project) or SQLite files. */
export const testDialect: 'sqlite' | 'postgres' = process.env.SHIPYARD_TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite';

/**
 * On PostgreSQL, each data directory's own database, made from the migrated template the first
 * time a server starts on it: a server started again on the same directory finds its data, and
 * every other server starts empty, as with SQLite's file in the directory. The setup file drops
 * them when the test file ends.
 */
const postgresOf = new Map<string, Promise<string | undefined>>();
/** The same, once made. */
const postgresUrls = new Map<string, string>();

/** The `DATABASE_URL` a server on `dataDir` uses in this run: undefined on SQLite. */
export function testDatabaseFor(dataDir: string): Promise<string | undefined> {
  let url = postgresOf.get(dataDir);
  if (!url) {
    url = testDatabaseUrl().then((made) => {
      if (made) postgresUrls.set(dataDir, made);
      return made;
    });
    postgresOf.set(dataDir, url);
  }
  return url;
}

/** `DATABASE_URL` for a process (`npm start`, a CLI) on `dataDir`, on PostgreSQL; nothing on SQLite. */
export async function testDatabaseEnv(dataDir: string): Promise<Record<string, string>> {
  const url = await testDatabaseFor(dataDir);
  return url ? { DATABASE_URL: url } : {};
}

let accountCounter = 0;
let userCounter = 0;

/** Starts a real server on a free port with its own temporary data directory. */
export async function startServer(overrides: Partial<Config> = {}, options: ServerOptions = {}): Promise<TestServer> {
  const config = testConfig(overrides);
  if (!('databaseUrl' in overrides)) config.databaseUrl = await testDatabaseFor(config.dataDir);
  const server = await createServer(config, options);
  const url = await server.start();
  const graphqlUrl = `${url}/graphql`;
  const tokenFile = join(config.dataDir, 'admin-token');
  const adminToken = server.createdAdminToken ?? config.adminToken ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : null);
  const admin = new Client(graphqlUrl, adminToken);

  return {
    server,
    url,
    dataDir: config.dataDir,
    config,
    admin,
    client: (token) => new Client(graphqlUrl, token),
    async as(role) {
      userCounter += 1;
      const created = await admin.request(
        `mutation ($input: CreateUserInput!) { createUser(input: $input) { user { id } userErrors { message } } }`,
        { input: { email: `${role.toLowerCase()}${userCounter}@example.com`, name: `${role} ${userCounter}`, role } },
      );
      const token = await admin.request(
        `mutation ($input: CreateApiTokenInput!) { createApiToken(input: $input) { token userErrors { message } } }`,
        { input: { name: 'test', userId: created.createUser.user.id } },
      );
      return new Client(graphqlUrl, token.createApiToken.token);
    },
    async otherAccount(name = 'Other') {
      accountCounter += 1;
      const result = await server.domain.accounts.createAccount({ name, email: `owner${accountCounter}@other.example` });
      if (!result.ok) throw new Error(result.userErrors[0]?.message);
      return new Client(graphqlUrl, result.value.token);
    },
    async stop({ keepData = false } = {}) {
      await server.stop();
      if (!keepData) rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}

/** Asserts a payload has no user errors and returns it. */
export function noUserErrors<T extends { userErrors: unknown[] }>(payload: T): T {
  if (payload.userErrors.length > 0) throw new Error(`unexpected userErrors: ${JSON.stringify(payload.userErrors)}`);
  return payload;
}

export const UPLOAD_MUTATION = `mutation ($input: UploadClientBinaryInput!) {
  uploadClientBinary(input: $input) {
    binary { id platform version bundleId fileName sizeBytes sha256 description downloadUrl uploadedBy { email } app { name } }
    userErrors { code message field }
  }
}`;

/** A GraphQL multipart request (the spec yoga implements) carrying one file as `input.file`. */
export async function multipartUpload(
  client: Client,
  input: Record<string, unknown>,
  file: { name: string; content: Buffer },
  { csrf = true, query = UPLOAD_MUTATION } = {},
): Promise<{ status: number; body: GraphQLResponse & Record<string, unknown> }> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables: { input: { ...input, file: null } } }));
  form.append('map', JSON.stringify({ 0: ['variables.input.file'] }));
  form.append('0', new Blob([new Uint8Array(file.content)]), file.name);
  const response = await fetch(client.graphqlUrl, {
    method: 'POST',
    headers: { ...(client.token ? { authorization: `Bearer ${client.token}` } : {}), ...(csrf ? { 'x-graphql-yoga-csrf': '1' } : {}) },
    body: form,
  });
  const text = await response.text();
  let body: GraphQLResponse & Record<string, unknown>;
  try {
    body = JSON.parse(text) as GraphQLResponse & Record<string, unknown>;
  } catch {
    body = { status: response.status, text };
  }
  return { status: response.status, body };
}

/** One statement on the SQLite file of the server on `dataDir`, on a connection of its own. */
function sqliteStatement<T>(dataDir: string, text: string, params: unknown[]): T[] {
  const sqlite = new Database(join(dataDir, 'shipyard.db'));
  try {
    const statement = sqlite.prepare(text);
    if (statement.reader) return statement.all(...params) as T[];
    statement.run(...params);
    return [];
  } finally {
    sqlite.close();
  }
}

/**
 * Runs one statement on the database of the server on `dataDir`, behind that server's back (as
 * another instance or an operator would), and answers its rows. `?` marks each parameter on both
 * dialects; bigint results read as numbers.
 */
export async function testSql<T = Record<string, unknown>>(dataDir: string, text: string, params: unknown[] = []): Promise<T[]> {
  const url = await testDatabaseFor(dataDir);
  if (!url) return sqliteStatement<T>(dataDir, text, params);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let n = 0;
    const result = await client.query<T & pg.QueryResultRow>({
      text: text.replace(/\?/g, () => `$${++n}`),
      values: params,
      types: { getTypeParser: (oid: number, format?: string) => (oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format as 'text')) },
    });
    return result.rows;
  } finally {
    await client.end();
  }
}

/**
 * `testSql` for a caller that cannot wait, such as a server's synchronous fault hook: on
 * PostgreSQL the statement runs in a child process while this one blocks. Only for a database
 * `testDatabaseFor` has already answered for (a server was started on `dataDir`).
 */
export function testSqlSync<T = Record<string, unknown>>(dataDir: string, text: string, params: unknown[] = []): T[] {
  if (!postgresUrls.has(dataDir)) return sqliteStatement<T>(dataDir, text, params);
  let n = 0;
  const script = `import pg from 'pg';
    pg.types.setTypeParser(pg.types.builtins.INT8, Number);
    const [url, text, params] = JSON.parse(process.argv[1]);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query(text, params);
    await client.end();
    process.stdout.write(JSON.stringify(rows));`;
  const input = JSON.stringify([postgresUrls.get(dataDir), text.replace(/\?/g, () => `$${++n}`), params]);
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, input], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`testSqlSync: ${child.stderr}`);
  return JSON.parse(child.stdout) as T[];
}

/** The names of the tables of the server on `dataDir` (migration bookkeeping aside), optionally only those with `column`. */
export async function testTables(dataDir: string, column?: string): Promise<string[]> {
  const rows =
    testDialect === 'postgres'
      ? await testSql<{ name: string }>(
          dataDir,
          `select table_name as name from information_schema.columns where table_schema = 'public' and (?::text is null or column_name = ?) group by table_name order by 1`,
          [column ?? null, column ?? null],
        )
      : await testSql<{ name: string }>(
          dataDir,
          `select m.name from sqlite_master m where m.type = 'table' and m.name not like 'sqlite_%' and m.name <> '__drizzle_migrations'
             and (? is null or exists (select 1 from pragma_table_info(m.name) where name = ?)) order by 1`,
          [column ?? null, column ?? null],
        );
  return rows.map(({ name }) => name);
}

/**
 * Rows as JSON in a stable order (neither dialect promises one without `order by`), aside from
 * the times that move on their own: token last use, and lease expiries the heartbeat renews (R59).
 */
const canonicalRows = (rows: Record<string, unknown>[]) =>
  rows
    .map((row) => {
      const { last_used_at: _used, lease_expires_at: _lease, ...rest } = row;
      return JSON.stringify(rest);
    })
    .sort();

/**
 * Every table's rows (token last-use times and lease bookkeeping aside), to show that a refused
 * request changed nothing. The `leases` table only says which instance runs background work.
 */
export async function databaseReading(dataDir: string): Promise<string> {
  const tables = (await testTables(dataDir)).filter((name) => name !== 'leases');
  const reading: [string, string[]][] = [];
  for (const name of tables) reading.push([name, canonicalRows(await testSql(dataDir, `select * from "${name}"`))]);
  return JSON.stringify(reading);
}
