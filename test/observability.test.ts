import { decodeGlobalID } from '@pothos/plugin-relay';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_OPERATION_LABELS } from '../src/ops/metrics.js';
import { noUserErrors, startServer, type Client, type TestServer } from './kit.js';
import { wsClient } from './live.js';

/** A logger whose JSON lines land in `lines`, as pino writes them to stdout in production. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => (raw.push(line), lines.push(JSON.parse(line) as Record<string, unknown>)) });
  return { logger, lines, raw };
}

const PUBLISH = `mutation PublishForMetrics($input: PublishServicesAndWebInput!) {
  publishServicesAndWeb(input: $input) { job { id state } userErrors { code message } }
}`;

/** Sample values of a metric in Prometheus text, by its label set. */
async function scrape(url: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(`${url}/metrics`, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return response.text();
}

function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = (match[2] ?? '').split(',');
    if (wanted.every((label) => present.includes(label))) total += Number(match[3]);
  }
  return total;
}

async function appAndEnvironment(admin: Client, suffix: string) {
  const created = await admin.request(
    `mutation ($app: CreateAppInput!, $env: CreateEnvironmentInput!) {
      createApp(input: $app) { app { id } } createEnvironment(input: $env) { environment { id } }
    }`,
    { app: { name: `Metered${suffix}`, identityServices: [{ name: 'Login', providerType: 'UserStore' }] }, env: { name: `metered-${suffix}` } },
  );
  return { appId: created.createApp.app.id as string, environmentId: created.createEnvironment.environment.id as string };
}

describe('/metrics (R61)', () => {
  let t: TestServer;
  let other: TestServer;
  beforeAll(async () => {
    [t, other] = await Promise.all([startServer(), startServer()]);
  });
  afterAll(() => Promise.all([t.stop(), other.stop()]));

  it('counts a publish, its stages, its requests by operation name and errors by code; another server in the process keeps its own numbers', async () => {
    const before = await scrape(t.url);
    expect(sample(before, 'shipyard_publish_jobs_total', { kind: 'SERVICES_AND_WEB', state: 'SUCCEEDED' })).toBe(0);
    const world = await appAndEnvironment(t.admin, 'a');
    const { job } = noUserErrors((await t.admin.request(PUBLISH, { input: { ...world, sync: true } })).publishServicesAndWeb);
    expect(job.state).toBe('SUCCEEDED');
    expect((await t.admin.raw('{ nope }')).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect((await t.client('not-a-token').raw('{ __typename }')).status).toBe(401);

    const after = await scrape(t.url);
    expect(sample(after, 'shipyard_publish_jobs_total', { kind: 'SERVICES_AND_WEB', action: 'PUBLISH', state: 'SUCCEEDED' })).toBe(1);
    expect(sample(after, 'shipyard_publish_stage_duration_seconds_count', { kind: 'SERVICES_AND_WEB', stage: 'VALIDATE', state: 'SUCCEEDED' })).toBe(1);
    expect(sample(after, 'shipyard_publish_stage_duration_seconds_count', { stage: 'ACTIVATE' })).toBe(1);
    expect(sample(after, 'shipyard_http_requests_total', { route: '/graphql', operation: 'PublishForMetrics', status: '200' })).toBe(1);
    expect(sample(after, 'shipyard_http_request_duration_seconds_count', { route: '/graphql', operation: 'PublishForMetrics' })).toBe(1);
    expect(sample(after, 'shipyard_graphql_errors_total', { code: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);
    expect(sample(after, 'shipyard_graphql_errors_total', { code: 'UNAUTHENTICATED' })).toBe(1);
    expect(after).toContain('shipyard_runtime_call_duration_seconds');
    expect(after).toContain('shipyard_process_cpu_seconds_total');

    const elsewhere = await scrape(other.url);
    expect(sample(elsewhere, 'shipyard_publish_jobs_total')).toBe(0);
    expect(sample(elsewhere, 'shipyard_http_requests_total', { operation: 'PublishForMetrics' })).toBe(0);
  });

  it('shows open subscriptions while they are open', async () => {
    const client = wsClient(t.url, t.admin.token);
    const subscription = client.iterate({ query: 'subscription Watching { environmentStatusChanged { status } }' });
    const pending = subscription.next();
    try {
      for (let attempt = 0; attempt < 100 && sample(await scrape(t.url), 'shipyard_subscriptions_open') < 1; attempt += 1)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(sample(await scrape(t.url), 'shipyard_subscriptions_open')).toBe(1);
    } finally {
      await subscription.return?.();
      await client.dispose();
      void pending.catch(() => undefined);
    }
    for (let attempt = 0; attempt < 100 && sample(await scrape(t.url), 'shipyard_subscriptions_open') > 0; attempt += 1)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sample(await scrape(t.url), 'shipyard_subscriptions_open')).toBe(0);
    expect(await scrape(t.url)).toContain('shipyard_subscriptions_dropped_total 0');
  });

  it(`keeps at most ${MAX_OPERATION_LABELS} operation names; clients cannot grow it without end`, async () => {
    const names = Array.from({ length: MAX_OPERATION_LABELS + 20 }, (_, index) => `Flood${index}`);
    for (const name of names) await t.admin.request(`query ${name} { __typename }`);
    const text = await scrape(t.url);
    const labels = new Set([...text.matchAll(/^shipyard_http_requests_total\{[^}]*operation="([^"]*)"/gm)].map((match) => match[1]));
    expect(labels.size).toBeLessThanOrEqual(MAX_OPERATION_LABELS + 2); // the names, "" for no operation, "other"
    expect(labels.has('other')).toBe(true);
    expect(sample(text, 'shipyard_http_requests_total', { operation: 'other' })).toBeGreaterThanOrEqual(20);
  });
});

describe('/metrics with METRICS_TOKEN (R61)', () => {
  const metricsToken = 'scraper-secret-0123456789';
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ metricsToken });
  });
  afterAll(() => t.stop());

  it('answers only the metrics token; an API token or none is refused', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: `Bearer ${t.admin.token}` }];
    for (const headers of attempts) {
      const response = await fetch(`${t.url}/metrics`, { headers });
      expect(response.status).toBe(401);
      expect(await response.text()).not.toContain('shipyard_');
    }
    expect(await scrape(t.url, { authorization: `Bearer ${metricsToken}` })).toContain('shipyard_http_requests_total');
  });
});

describe('access log and publish outcomes (R62)', () => {
  const { logger, lines, raw } = capturingLogger();
  let failingAppId = 0;
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({}, { logger, runtimeFault: (stage, job) => (stage === 'ACTIVATE' && job.appId === failingAppId ? 'injected: activation refused' : null) });
  });
  afterAll(() => t.stop());

  const requestLines = () => lines.filter((line) => line.msg === 'request');

  it('writes one line per request with its id, method, path, operation, status and duration', async () => {
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query WhoAmI { viewer { user { name } } }' }),
    });
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id');
    const mine = requestLines().filter((line) => line.requestId === requestId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ level: 30, method: 'POST', path: '/graphql', operationName: 'WhoAmI', status: 200 });
    expect(typeof mine[0]?.durationMs).toBe('number');
  });

  it('writes a line for each graphql-ws connection when it closes, with its close code', async () => {
    const refused = wsClient(t.url, 'shp_not_a_real_token_at_all');
    await expect(refused.iterate({ query: '{ __typename }' }).next()).rejects.toMatchObject({ code: 4401 });
    await refused.dispose();
    const accepted = wsClient(t.url, t.admin.token);
    expect((await accepted.iterate({ query: '{ __typename }' }).next()).value).toEqual({ data: { __typename: 'Query' } });
    await accepted.dispose();
    const socketLines = () => requestLines().filter((line) => line.websocket === true);
    for (let attempt = 0; attempt < 100 && socketLines().length < 2; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(socketLines().map((line) => [line.level, line.path, line.status, line.closeCode])).toEqual([
      [30, '/graphql', 101, 4401],
      [30, '/graphql', 101, 1000],
    ]);
  });

  it("logs a client's mistakes below error, with their codes", async () => {
    const bad = await t.admin.raw('query Broken { nope }');
    const unauthenticated = await t.client('shp_not_a_real_token_at_all').raw('query Stranger { __typename }');
    const oversized = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ __typename } # ${'x'.repeat(1024 * 1024)}` }),
    });
    expect([bad.status, unauthenticated.status, oversized.status]).toEqual([200, 401, 413]);
    const byOperation = (name: string) => requestLines().find((line) => line.operationName === name);
    expect(byOperation('Broken')).toMatchObject({ level: 30, status: 200, errorCodes: ['GRAPHQL_VALIDATION_FAILED'] });
    expect(requestLines().find((line) => line.status === 401)).toMatchObject({ level: 30, errorCodes: ['UNAUTHENTICATED'] });
    expect(requestLines().find((line) => line.status === 413)).toMatchObject({ level: 30, errorCodes: ['REQUEST_TOO_LARGE'] });
    expect(lines.filter((line) => Number(line.level) >= 50)).toEqual([]);
  });

  it('never writes a token or an upload URL token', async () => {
    const { appId } = await appAndEnvironment(t.admin, 'log');
    const upload = noUserErrors(
      (
        await t.admin.request(
          `mutation ($input: CreateBinaryUploadInput!) { createBinaryUpload(input: $input) { upload { uploadUrl } userErrors { code message } } }`,
          { input: { appId, platform: 'WEB', fileName: 'web.zip', sizeBytes: 4 } },
        )
      ).createBinaryUpload,
    ).upload;
    const uploadToken = new URL(upload.uploadUrl).pathname.split('/').pop() ?? '';
    expect(uploadToken.length).toBeGreaterThanOrEqual(16);
    const put = await fetch(upload.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${t.admin.token}` }, body: 'oops' });
    expect(put.status).toBeGreaterThanOrEqual(200);
    await fetch(`${t.url}/graphql?token=${t.admin.token}`, { headers: { authorization: `Bearer ${t.admin.token}` } });
    // A store link's token is a credential too (R55).
    const { environmentId } = await appAndEnvironment(t.admin, 'store');
    const { createDirectoryUser } = await t.admin.request(
      `mutation ($input: CreateDirectoryUserInput!) { createDirectoryUser(input: $input) { user { id } } }`,
      { input: { environmentId, username: 'logged', displayName: 'Logged', source: 'LOCAL' } },
    );
    const { createStoreInvitation } = await t.admin.request(`mutation ($id: ID!) { createStoreInvitation(input: { directoryUserId: $id }) { storeUrl userErrors { code } } }`, {
      id: createDirectoryUser.user.id,
    });
    const storeToken = (createStoreInvitation.storeUrl as string).split('/').pop() ?? '';
    expect((await fetch(`${createStoreInvitation.storeUrl}?format=json`)).status).toBe(200);
    const storeLine = () => requestLines().find((line) => String(line.path).includes('/store/'));
    for (let attempt = 0; attempt < 200 && !storeLine(); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(storeLine()).toMatchObject({ path: '/runtime/metered-store/store/[redacted]' });
    const uploadLine = requestLines().find((line) => line.method === 'PUT');
    expect(uploadLine).toMatchObject({ path: '/uploads/[redacted]' });
    const everything = raw.join('');
    expect(everything).not.toContain(storeToken);
    expect(everything).not.toContain(uploadToken);
    expect(everything).not.toContain(t.admin.token);
  });

  it('logs each publish outcome once per job: a success at info, a rolled-back failure as a warning', async () => {
    const ok = await appAndEnvironment(t.admin, 'ok');
    const failing = await appAndEnvironment(t.admin, 'fail');
    const succeeded = noUserErrors((await t.admin.request(PUBLISH, { input: { ...ok, sync: true } })).publishServicesAndWeb).job;
    failingAppId = Number(decodeGlobalID(failing.appId).id);
    const failed = noUserErrors((await t.admin.request(PUBLISH, { input: { ...failing, sync: true } })).publishServicesAndWeb).job;
    expect([succeeded.state, failed.state]).toEqual(['SUCCEEDED', 'FAILED']);
    // Later changes of other jobs, and the same ended job announced again, must not log these again.
    noUserErrors((await t.admin.request(PUBLISH, { input: { ...ok, sync: true } })).publishServicesAndWeb);
    const endedJob = (await t.server.domain.jobs.read(Number(decodeGlobalID(succeeded.id).id)))?.job;
    if (endedJob) await t.server.domain.runner.announce(endedJob);
    const outcomes = lines.filter((line) => line.msg === 'publish job ended' || line.msg === 'publish job failed');
    const ofJob = (job: { id: string }) => outcomes.filter((line) => line.jobId === Number(decodeGlobalID(job.id).id));
    expect(outcomes.length).toBe(3);
    expect(ofJob(succeeded)).toHaveLength(1);
    expect(ofJob(succeeded)[0]).toMatchObject({ level: 30, kind: 'SERVICES_AND_WEB', state: 'SUCCEEDED' });
    expect(ofJob(failed)).toHaveLength(1);
    expect(ofJob(failed)[0]).toMatchObject({ level: 40, state: 'FAILED', errorCode: 'RUNTIME_FAULT', errorStage: 'ACTIVATE' });
  });
});
