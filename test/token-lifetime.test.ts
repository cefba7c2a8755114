import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, noUserErrors, startServer, testSql, type TestServer } from './kit.js';
import { PUBLISH_NATIVE, publishWorld, waitForJob, type PublishWorld } from './publish-kit.js';
import { eventually, rawSubscription, sseStream } from './streams.js';

const JOBS_UPDATED = 'subscription { publishJobsUpdated { id state } }';
const CREATE_TOKEN = `mutation ($input: CreateApiTokenInput!) { createApiToken(input: $input) { token apiToken { id expiresAt } userErrors { code message field } } }`;
const REVOKE = 'mutation ($id: ID!) { revokeApiToken(input: { id: $id }) { deletedId userErrors { code } } }';

const createToken = async (t: TestServer, expiresAt?: Date) =>
  noUserErrors((await t.admin.request(CREATE_TOKEN, { input: { name: 'stream', ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}) } })).createApiToken) as {
    token: string;
    apiToken: { id: string; expiresAt: string | null };
  };

/** Runs a native publish to completion, so that every account-wide subscriber gets events. */
const publish = async (t: TestServer, w: PublishWorld) => {
  const { job } = noUserErrors(
    (await t.admin.request(PUBLISH_NATIVE, {
      input: { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'DRAFT', removePlatforms: ['WINDOWS'] },
    })).publishNativeClient,
  );
  await waitForJob(t.admin, job.id);
};

describe('a revoked token (R70)', () => {
  // Without the periodic sweep, so that what ends the streams is the revocation itself.
  let t: TestServer;
  let w: PublishWorld;
  beforeAll(async () => {
    t = await startServer({ publishStageDelayMs: 5 }, { tokenSweepIntervalMs: 3_600_000 });
    w = await publishWorld(t.admin);
  });
  afterAll(() => t.stop());
  const newToken = (expiresAt?: Date) => createToken(t, expiresAt);
  const publishOnce = () => publish(t, w);

  it("ends that token's WebSocket (4403) and SSE streams, while another token's streams keep receiving", async () => {
    const [doomed, kept] = [await newToken(), await newToken()];
    const doomedWs = await rawSubscription(t.url, doomed.token);
    const keptWs = await rawSubscription(t.url, kept.token);
    doomedWs.subscribe('1', JOBS_UPDATED);
    keptWs.subscribe('1', JOBS_UPDATED);
    const doomedSse = await sseStream(t.url, doomed.token, JOBS_UPDATED);
    // And graphql-ws's own client, as a dashboard would hold it.
    let clientCloseCode: number | null = null;
    const doomedClient = createClient({
      url: `${t.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${doomed.token}` },
      retryAttempts: 0,
      on: { closed: (event) => (clientCloseCode = (event as { code: number }).code) },
    });
    const clientEvents: unknown[] = [];
    const clientDone = (async () => {
      try {
        for await (const event of doomedClient.iterate({ query: JOBS_UPDATED })) clientEvents.push(event);
      } catch {
        // Ends with the close below.
      }
    })();
    const keptSse = await sseStream(t.url, kept.token, JOBS_UPDATED);
    try {
      await publishOnce();
      expect(await eventually(() => [doomedWs, keptWs, doomedSse, keptSse].every((s) => s.events.length > 0) && clientEvents.length > 0)).toBe(true);

      noUserErrors((await t.admin.request(REVOKE, { id: doomed.apiToken.id })).revokeApiToken);
      expect(await eventually(() => doomedWs.closeCode !== null && doomedSse.ended && clientCloseCode !== null)).toBe(true);
      expect(doomedWs.closeCode).toBe(4403);
      expect(clientCloseCode).toBe(4403);
      await clientDone;

      // Positive control in the same window: the other token's streams are open and still receive.
      const [wsBefore, sseBefore] = [keptWs.events.length, keptSse.events.length];
      await publishOnce();
      expect(await eventually(() => keptWs.events.length > wsBefore && keptSse.events.length > sseBefore)).toBe(true);
      expect(keptWs.closeCode).toBeNull();
      expect(keptSse.ended).toBe(false);

      // The revoked token opens nothing new.
      expect((await t.client(doomed.token).raw('{ viewer { user { id } } }')).status).toBe(401);
      await expect(rawSubscription(t.url, doomed.token)).rejects.toThrow(/closed with 4401/);
    } finally {
      for (const socket of [doomedWs, keptWs]) socket.socket.close();
      for (const stream of [doomedSse, keptSse]) stream.stop();
      await doomedClient.dispose();
    }
    expect(await eventually(() => t.server.sessions.size === 0)).toBe(true);
  });

  it('closes with 4403, not 4500, a socket whose token went away when it subscribes again', async () => {
    const lost = await newToken();
    const socket = await rawSubscription(t.url, lost.token);
    // Revoked behind the server's back (another instance, a database edit): no event announces it.
    await testSql(t.dataDir, 'delete from api_tokens where token_sha256 = (select token_sha256 from api_tokens order by id desc limit 1)');
    socket.subscribe('2', JOBS_UPDATED);
    expect(await eventually(() => socket.closeCode !== null)).toBe(true);
    expect(socket.closeCode).toBe(4403);
  });
});

describe('an expiring token (R70)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(() => t.stop());
  const newToken = (expiresAt?: Date) => createToken(t, expiresAt);

  it('refuses an expiresAt in the past', async () => {
    const payload = (await t.admin.request(CREATE_TOKEN, { input: { name: 'late', expiresAt: new Date(Date.now() - 60_000).toISOString() } })).createApiToken;
    expect(payload).toEqual({ token: null, apiToken: null, userErrors: [{ code: 'INVALID_INPUT', message: 'expiresAt must be in the future', field: ['input', 'expiresAt'] }] });
  });

  it('works until it expires, then its streams end and it is refused everywhere', async () => {
    const expiresAt = new Date(Date.now() + 1500);
    const expiring = await newToken(expiresAt);
    expect(Date.parse(expiring.apiToken.expiresAt ?? '')).toBe(expiresAt.getTime());
    const kept = await newToken();
    const client = new Client(t.admin.graphqlUrl, expiring.token);
    expect((await client.raw('{ viewer { user { id } } }')).status).toBe(200);
    const socket = await rawSubscription(t.url, expiring.token);
    socket.subscribe('1', JOBS_UPDATED);
    const stream = await sseStream(t.url, expiring.token, JOBS_UPDATED);
    const keptSocket = await rawSubscription(t.url, kept.token);
    try {
      expect(await eventually(() => Date.now() > expiresAt.getTime() && socket.closeCode !== null && stream.ended)).toBe(true);
      expect(socket.closeCode).toBe(4403);
      expect(keptSocket.closeCode).toBeNull();
      expect((await client.raw('{ viewer { user { id } } }')).status).toBe(401);
      await expect(rawSubscription(t.url, expiring.token)).rejects.toThrow(/closed with 4401/);
      const download = await fetch(`${t.url}/binaries/1/file`, { headers: { authorization: `Bearer ${expiring.token}` } });
      expect(download.status).toBe(401);
    } finally {
      socket.socket.close();
      keptSocket.socket.close();
      stream.stop();
    }
  });
});

