import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyPostgresTestDatabase, postgresTestDatabase, redisTestPrefix, type TestDatabase } from './databases.js';
import { zip } from './fixtures.js';
import { closeInstances, eventually, INSTANCES_ADMIN_TOKEN, readyStatus, startInstances, type Instance } from './instances.js';
import { Client, multipartUpload, noUserErrors, startServer, type TestServer } from './kit.js';
import { rawSubscription, sseStream, type RawSubscription } from './streams.js';

// R58: instances over one PostgreSQL database, one Redis and one BLOB_DIR act as one server.
const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';

const CREATE_TOKEN = `mutation ($input: CreateApiTokenInput!) { createApiToken(input: $input) { token apiToken { id } userErrors { code message } } }`;
const REVOKE = 'mutation ($id: ID!) { revokeApiToken(input: { id: $id }) { deletedId userErrors { code } } }';
const CREATE_USER = `mutation ($input: CreateUserInput!) { createUser(input: $input) { user { id } userErrors { message } } }`;
const UPDATE_USER = `mutation ($input: UpdateUserInput!) { updateUser(input: $input) { user { id } userErrors { code message } } }`;
const JOBS_UPDATED = 'subscription { publishJobsUpdated { id state } }';

const graphql = (instance: { url: string }, token: string) => new Client(`${instance.url}/graphql`, token);

async function countRows(url: string, tables: readonly string[]): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const counts: Record<string, number> = {};
    for (const table of tables) counts[table] = Number((await client.query<{ n: string }>(`select count(*) as n from "${table}"`)).rows[0]?.n);
    return counts;
  } finally {
    await client.end();
  }
}

/** A token of a new user of `role`, made through `client`. */
async function userToken(client: Client, role: 'ADMIN' | 'MEMBER' | 'VIEWER', email: string): Promise<{ userId: string; token: string; tokenId: string }> {
  const { createUser } = await client.request(CREATE_USER, { input: { email, name: email, role } });
  const userId = noUserErrors(createUser).user.id as string;
  const { createApiToken } = await client.request(CREATE_TOKEN, { input: { name: 'stream', userId } });
  const created = noUserErrors(createApiToken) as { token: string; apiToken: { id: string } };
  return { userId, token: created.token, tokenId: created.apiToken.id };
}

describe('instances started together on an empty database, sharing PostgreSQL, Redis and BLOB_DIR', () => {
  let database: TestDatabase;
  let blobDir: string;
  let instances: Instance[] = [];
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    database = await emptyPostgresTestDatabase();
    blobDir = mkdtempSync(join(tmpdir(), 'shipyard-consist-blobs-'));
    instances = await startInstances(2, {
      env: { DATABASE_URL: database.url, REDIS_URL, REDIS_PREFIX: redisTestPrefix(), BLOB_DIR: blobDir, SEED: 'demo', PUBLISH_STAGE_DELAY_MS: '0' },
      startTimeoutMs: 60_000,
    });
    [a, b] = instances as [Instance, Instance];
  }, 90_000);
  afterAll(async () => {
    await closeInstances(instances);
    await database?.drop();
    if (blobDir) rmSync(blobDir, { recursive: true, force: true });
  });

  it('bootstrap once: one account, one admin, one ADMIN_TOKEN, one demo data set; both serve with that token', async () => {
    expect(await readyStatus(a.url)).toBe(200);
    expect(await readyStatus(b.url)).toBe(200);
    expect(await countRows(database.url, ['accounts', 'users', 'api_tokens', 'apps', 'environments'])).toEqual({
      accounts: 1,
      users: 1,
      api_tokens: 1,
      apps: 2,
      environments: 3,
    });
    for (const instance of [a, b]) {
      const { apps } = await graphql(instance, INSTANCES_ADMIN_TOKEN).request('{ apps(first: 10) { nodes { name } } }');
      expect(apps.nodes.map((app: { name: string }) => app.name).sort()).toEqual(['FieldService', 'RetailBanking']);
    }
  });

  it("serves through B what a services publish through A made: the app secret, and the web client at its webClientUrl", async () => {
    const admin = graphql(a, INSTANCES_ADMIN_TOKEN);
    const created = await admin.request(
      `mutation ($app: CreateAppInput!, $env: CreateEnvironmentInput!) {
        createApp(input: $app) { app { id name } userErrors { message } }
        createEnvironment(input: $env) { environment { id } userErrors { message } }
      }`,
      {
        app: { name: 'Shared', identityServices: [{ name: 'Login', providerType: 'UserStore' }] },
        env: { name: 'shared-embedded' },
      },
    );
    const appId = created.createApp.app.id as string;
    const environmentId = created.createEnvironment.environment.id as string;
    const page = '<!doctype html><html><head><title>Shared</title></head><body><h1>Published through A</h1></body></html>';
    const upload = await multipartUpload(admin, { appId, platform: 'WEB', version: '1.0' }, { name: 'site.zip', content: await zip({ 'index.html': page }) });
    const binaryId = (upload.body.data as { uploadClientBinary: { binary: { id: string } } }).uploadClientBinary.binary.id;
    const { publishServicesAndWeb } = await admin.request(
      `mutation ($input: PublishServicesAndWebInput!) { publishServicesAndWeb(input: $input) { job { id state error { code message } } userErrors { code message } } }`,
      { input: { appId, environmentId, webClientBinaryId: binaryId, sync: true } },
    );
    const job = noUserErrors(publishServicesAndWeb).job as { state: string; error: unknown };
    expect([job.state, job.error], a.output().slice(-4000)).toEqual(['SUCCEEDED', null]);

    const STATUS = `query ($id: ID!) { node(id: $id) { ... on App { environmentStatuses { environment { id } webClientUrl clientConfig { appKey appSecret } } } } }`;
    const statusOn = async (instance: Instance, token: string) => {
      const { node } = await graphql(instance, token).request(STATUS, { id: appId });
      return node.environmentStatuses.find((row: { environment: { id: string } }) => row.environment.id === environmentId) as {
        webClientUrl: string;
        clientConfig: { appKey: string; appSecret: string | null };
      };
    };
    const onA = await statusOn(a, INSTANCES_ADMIN_TOKEN);
    expect(onA.clientConfig.appSecret).toMatch(/\S{16,}/);
    // The secret is sealed with the key A made; B opens it with the same key, for an ADMIN and a MEMBER.
    const member = await userToken(admin, 'MEMBER', 'member-consist@example.com');
    expect((await statusOn(b, INSTANCES_ADMIN_TOKEN)).clientConfig).toEqual(onA.clientConfig);
    expect((await statusOn(b, member.token)).clientConfig).toEqual(onA.clientConfig);

    // The web client's files were stored by A's embedded runtime; B serves them at the same path.
    const path = new URL(onA.webClientUrl).pathname;
    for (const instance of [a, b]) {
      const response = await fetch(`${instance.url}${path}`);
      expect([instance.index, response.status, await response.text()]).toEqual([instance.index, 200, page]);
    }
  });

  it('completes an upload URL once when two PUTs of it go to A and to B at the same time (R18, R58)', async () => {
    const admin = graphql(a, INSTANCES_ADMIN_TOKEN);
    const { createApp } = await admin.request('mutation { createApp(input: { name: "TwoPuts" }) { app { id } } }');
    const { createBinaryUpload } = await admin.request(
      `mutation ($input: CreateBinaryUploadInput!) { createBinaryUpload(input: $input) { upload { id uploadUrl } userErrors { message } } }`,
      { input: { appId: createApp.app.id, platform: 'IOS_PHONE', fileName: 'a.ipa', sizeBytes: 2048 } },
    );
    const upload = noUserErrors(createBinaryUpload).upload as { id: string; uploadUrl: string };
    const path = new URL(upload.uploadUrl).pathname;
    // Each PUT sends its first half and waits, so that both are under way before either ends.
    const halves: ReadableStreamDefaultController<Uint8Array>[] = [];
    const puts = [a, b].map((instance, index) =>
      fetch(`${instance.url}${path}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${INSTANCES_ADMIN_TOKEN}`, 'content-length': '2048' },
        body: new ReadableStream<Uint8Array>({
          start(controller) {
            halves[index] = controller;
            controller.enqueue(new Uint8Array(1024).fill(index + 1));
          },
        }),
        duplex: 'half',
      } as RequestInit),
    );
    const RECEIVED = `query ($id: ID!) { node(id: $id) { ... on BinaryUpload { receivedBytes } } }`;
    const receiving = async (instance: Instance) => (await graphql(instance, INSTANCES_ADMIN_TOKEN).request(RECEIVED, { id: upload.id })).node.receivedBytes as number;
    expect(await eventually(async () => (await receiving(a)) >= 1024 && (await receiving(b)) >= 1024, { what: 'both PUTs to be under way' })).toBe(true);
    for (const [index, controller] of halves.entries()) {
      controller.enqueue(new Uint8Array(1024).fill(index + 1));
      controller.close();
    }
    const statuses = await Promise.all(puts.map(async (put) => (await put).status));
    expect(statuses.sort(), a.output().slice(-3000) + b.output().slice(-3000)).toEqual([201, 409]);
  });

  it("ends on B the streams of a token revoked on A, and of a user deactivated on A (4403); another token's stream stays (R70)", async () => {
    const admin = graphql(a, INSTANCES_ADMIN_TOKEN);
    const revoked = await userToken(admin, 'VIEWER', 'revoked-consist@example.com');
    const deactivated = await userToken(admin, 'VIEWER', 'deactivated-consist@example.com');
    const kept = await userToken(admin, 'VIEWER', 'kept-consist@example.com');
    const sockets: RawSubscription[] = [];
    const open = async (token: string) => {
      const socket = await rawSubscription(b.url, token);
      socket.subscribe('1', JOBS_UPDATED);
      sockets.push(socket);
      return socket;
    };
    const [revokedWs, deactivatedWs, keptWs] = [await open(revoked.token), await open(deactivated.token), await open(kept.token)];
    const revokedSse = await sseStream(b.url, revoked.token, JOBS_UPDATED);
    const keptSse = await sseStream(b.url, kept.token, JOBS_UPDATED);
    try {
      noUserErrors((await admin.request(REVOKE, { id: revoked.tokenId })).revokeApiToken);
      expect(await eventually(() => revokedWs.closeCode !== null && revokedSse.ended, { what: "the revoked token's streams on B to end" })).toBe(true);
      expect(revokedWs.closeCode).toBe(4403);

      noUserErrors((await admin.request(UPDATE_USER, { input: { userId: deactivated.userId, deactivated: true } })).updateUser);
      expect(await eventually(() => deactivatedWs.closeCode !== null, { what: "the deactivated user's stream on B to end" })).toBe(true);
      expect(deactivatedWs.closeCode).toBe(4403);

      // Positive control: the other token's streams on B are open and it still works there.
      expect(keptWs.closeCode).toBeNull();
      expect(keptSse.ended).toBe(false);
      expect((await graphql(b, kept.token).raw('{ viewer { user { id } } }')).status).toBe(200);
    } finally {
      for (const socket of sockets) socket.socket.close();
      for (const stream of [revokedSse, keptSse]) stream.stop();
    }
  });
});

describe('bootstrap races (R58)', () => {
  // Two servers in one process reach bootstrap within a few milliseconds of each other far more
  // often than two processes do (their starts seldom overlap that closely), so this is where a
  // bootstrap outside the exclusive section shows: a second account or admin, or a start that fails.
  it('two servers starting at once on an empty database, four times: each time both start over one account, admin, token and demo set', async () => {
    for (let round = 0; round < 4; round += 1) {
      const database = await emptyPostgresTestDatabase();
      const shared = { databaseUrl: database.url, seed: 'demo' as const, adminToken: INSTANCES_ADMIN_TOKEN };
      const started = await Promise.allSettled([startServer(shared), startServer(shared)]);
      try {
        expect(started.map((outcome) => (outcome.status === 'rejected' ? String(outcome.reason) : 'started')), `round ${round}`).toEqual(['started', 'started']);
        expect(await countRows(database.url, ['accounts', 'users', 'api_tokens', 'apps', 'environments']), `round ${round}`).toEqual({
          accounts: 1,
          users: 1,
          api_tokens: 1,
          apps: 2,
          environments: 3,
        });
      } finally {
        for (const outcome of started) if (outcome.status === 'fulfilled') await outcome.value.stop();
        await database.drop();
      }
    }
  }, 120_000);
});

describe('revocations travel between instances over Redis (R58, R70)', () => {
  // Two servers in this process over one database and Redis, each with its own pubsub and its own
  // data directory, and without the periodic check of open streams: what ends B's stream is the
  // revocation relayed from A, not B reading the database.
  let database: TestDatabase;
  let blobDir: string;
  const servers: TestServer[] = [];

  beforeAll(async () => {
    database = await postgresTestDatabase();
    blobDir = mkdtempSync(join(tmpdir(), 'shipyard-consist-blobs-'));
    const shared = { databaseUrl: database.url, redisUrl: REDIS_URL, redisPrefix: redisTestPrefix(), blobDir, adminToken: INSTANCES_ADMIN_TOKEN };
    servers.push(await startServer(shared, { tokenSweepIntervalMs: 3_600_000 }));
    servers.push(await startServer(shared, { tokenSweepIntervalMs: 3_600_000 }));
  }, 60_000);
  afterAll(async () => {
    for (const server of servers) await server.stop();
    await database?.drop();
    if (blobDir) rmSync(blobDir, { recursive: true, force: true });
  });

  it("closes B's stream of a token revoked on A, and of a user deactivated on A, with 4403; another token's stays open", async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const revoked = await userToken(a.admin, 'VIEWER', 'relay-revoked@example.com');
    const deactivated = await userToken(a.admin, 'VIEWER', 'relay-deactivated@example.com');
    const kept = await userToken(a.admin, 'VIEWER', 'relay-kept@example.com');
    const sockets = [await rawSubscription(b.url, revoked.token), await rawSubscription(b.url, deactivated.token), await rawSubscription(b.url, kept.token)];
    const [revokedWs, deactivatedWs, keptWs] = sockets as [RawSubscription, RawSubscription, RawSubscription];
    for (const socket of sockets) socket.subscribe('1', JOBS_UPDATED);
    try {
      expect(await eventually(() => b.server.sessions.size === 3, { what: 'B to track the three streams' })).toBe(true);
      noUserErrors((await a.admin.request(REVOKE, { id: revoked.tokenId })).revokeApiToken);
      expect(await eventually(() => revokedWs.closeCode !== null, { what: "the revoked token's stream on B to end" })).toBe(true);
      expect(revokedWs.closeCode).toBe(4403);
      noUserErrors((await a.admin.request(UPDATE_USER, { input: { userId: deactivated.userId, deactivated: true } })).updateUser);
      expect(await eventually(() => deactivatedWs.closeCode !== null, { what: "the deactivated user's stream on B to end" })).toBe(true);
      expect(deactivatedWs.closeCode).toBe(4403);
      expect(keptWs.closeCode).toBeNull();
      expect(b.server.sessions.size).toBe(1);
    } finally {
      for (const socket of sockets) socket.socket.close();
    }
  });
});
