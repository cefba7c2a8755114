import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, noUserErrors, startServer, testDatabaseEnv, type TestServer } from './kit.js';
import { binary, PUBLISH_NATIVE, publishWorld, type PublishWorld } from './publish-kit.js';
import { startRuntimeProcess, type RuntimeProcess } from './runtime-process.js';

/** What the runtime holds, read through its own API (R52): Management and services, without times. */
async function runtimeState(url: string, token: string) {
  const get = async (path: string) => {
    const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    return response.json();
  };
  const { apps } = (await get('/v1/management')) as { apps: { appId: number; preview: boolean; workflowState: string; versions: { platform: string; version: string; artifactSha256: string }[]; targets: unknown[] }[] };
  const { restorePoints } = (await get('/v1/restore-points')) as { restorePoints: string[] };
  return {
    apps: apps.map((app) => ({
      appId: app.appId,
      preview: app.preview,
      workflowState: app.workflowState,
      versions: app.versions.map((version) => `${version.platform} ${version.version} ${version.artifactSha256}`).sort(),
      targets: app.targets,
    })),
    restorePoints,
  };
}

/** The state once the finished job's restore point is gone: it is dropped just after the job ends. */
async function settledState(url: string, token: string) {
  for (let i = 0; i < 500; i += 1) {
    const state = await runtimeState(url, token);
    if (state.restorePoints.length === 0) return state;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return runtimeState(url, token);
}

const states = ['SUCCEEDED', 'FAILED', 'CANCELED'];
const isFinal = (job: Record<string, unknown>) => states.includes(String(job.state));
const JOB_DETAIL = `query ($id: ID!) { node(id: $id) { ... on PublishJob { state warnings error { code stage } stages { key state message } environment { status } } } }`;

/** Polls (bounded) until the job answers what `done` wants. */
async function jobUntil(admin: Client, id: string, done: (job: Record<string, any>) => boolean, attempts = 3000) { // eslint-disable-line @typescript-eslint/no-explicit-any -- GraphQL answers are untyped here
  for (let i = 0; i < attempts; i += 1) {
    const { node } = await admin.request(JOB_DETAIL, { id });
    if (done(node)) return node;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`job ${id} did not get there`);
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function shipyard(options: { deadlineMs?: number; callTimeoutMs?: number } = {}): Promise<TestServer> {
  const t = await startServer(
    { runtimeStageDeadlineMs: options.deadlineMs ?? 20_000 },
    { runtimeCallTimeoutMs: options.callTimeoutMs ?? 2_000, rollbackRetryMs: 100 },
  );
  cleanups.push(() => t.stop());
  return t;
}

async function runtime(env: Record<string, string> = {}): Promise<RuntimeProcess> {
  const started = await startRuntimeProcess({ env });
  cleanups.push(() => started.kill());
  return started;
}

/** A world on an environment at `url`, with a first publish (iOS 1.0) that a fault must not lose. */
async function publishedWorld(t: TestServer, url: string, token: string): Promise<PublishWorld> {
  const w = await publishWorld(t.admin, { environment: { url, runtimeToken: token } });
  const checked = await t.admin.request(`mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { environment { status } } }`, { id: w.environmentId });
  expect(checked.checkEnvironment.environment.status).toBe('AVAILABLE');
  const first = noUserErrors(
    (await t.admin.request(PUBLISH_NATIVE, {
      input: { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'DRAFT', sync: true, binaryIds: [await binary(t.admin, w.appId, 'IOS_PHONE', '1.0')] },
    })).publishNativeClient,
  );
  expect(first.job.state).toBe('SUCCEEDED');
  return w;
}

/** The second publish every fault interrupts: iOS 2.0 and Android 2.0, with targets, ACTIVE. */
async function secondPublish(t: TestServer, w: PublishWorld) {
  const binaryIds = [await binary(t.admin, w.appId, 'IOS_PHONE', '2.0'), await binary(t.admin, w.appId, 'ANDROID_PHONE', '2.0')];
  return noUserErrors(
    (await t.admin.request(PUBLISH_NATIVE, {
      input: { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'ACTIVE', targets: { userIds: [w.users.ann] }, binaryIds },
    })).publishNativeClient,
  ).job as { id: string };
}

/** R52: the runtime is exactly as before, or fully published; never between, and no restore point is left. */
function expectAllOrNothing(
  job: { state: string },
  before: Awaited<ReturnType<typeof runtimeState>>,
  after: Awaited<ReturnType<typeof runtimeState>>,
  published = ['ANDROID_PHONE 2.0', 'IOS_PHONE 1.0', 'IOS_PHONE 2.0'],
) {
  expect(after.restorePoints).toEqual([]);
  if (job.state !== 'SUCCEEDED') return expect(after).toEqual(before);
  expect(after.apps).toHaveLength(1);
  expect(after.apps[0]?.workflowState).toBe('ACTIVE');
  expect(after.apps[0]?.versions.map((version) => version.split(' ').slice(0, 2).join(' '))).toEqual(published);
  expect(after.apps[0]?.targets).toHaveLength(1);
}

describe('a runtime killed mid-publish and restarted (R52)', { timeout: 120_000 }, () => {
  for (const [moment, hold] of [
    ['mid-TRANSFER', 'blob'],
    ['mid-APPLY', 'command:addVersions'],
  ] as const) {
    it(`leaves the job SUCCEEDED or FAILED and the runtime as before or fully published: SIGKILL ${moment}`, async () => {
      const t = await shipyard();
      let rt = await runtime();
      const w = await publishedWorld(t, `${rt.url}/kill`, rt.token);
      const before = await runtimeState(`${rt.url}/kill`, rt.token);
      rt = await rt.restart({ RUNTIME_TEST_HOLD: hold });
      cleanups.push(() => rt.kill());
      const job = await secondPublish(t, w);
      await rt.printed(/runtime holding \S+/);
      rt = await rt.restart();
      cleanups.push(() => rt.kill());
      const final = await jobUntil(t.admin, job.id, isFinal);
      console.log(`runtime SIGKILL ${moment}: job ${final.state}${final.error ? ` ${final.error.code}` : ''}`);
      expect(['SUCCEEDED', 'FAILED']).toContain(final.state);
      expect(final.environment.status).toBe('AVAILABLE');
      expectAllOrNothing(final, before, await settledState(`${rt.url}/kill`, rt.token));
    });
  }
});

describe('a runtime that stops answering (R50, R51)', { timeout: 120_000 }, () => {
  it('fails the stage RUNTIME_UNREACHABLE past the deadline, stays BUSY while the rollback waits, and rolls back once it is back', async () => {
    const t = await shipyard({ deadlineMs: 1500, callTimeoutMs: 400 });
    const rt = await runtime({ RUNTIME_TEST_HOLD: 'command:upsertManagementApp' });
    const w = await publishWorld(t.admin, { environment: { url: `${rt.url}/stop`, runtimeToken: rt.token } });
    await t.admin.request(`mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { environment { status } } }`, { id: w.environmentId });
    const before = await runtimeState(`${rt.url}/stop`, rt.token);
    const job = await secondPublish(t, w);
    // The runtime applied the first change of REGISTER_VERSIONS; now it stops answering at all.
    await rt.printed(/runtime holding command upsertManagementApp/);
    rt.child.kill('SIGSTOP');
    cleanups.push(async () => rt.child.kill('SIGCONT'));
    const waiting = await jobUntil(t.admin, job.id, (node) => node.stages.some((stage: { message: string | null }) => stage.message?.startsWith('Rolling back')));
    expect(waiting.state).toBe('RUNNING');
    expect(waiting.environment.status).toBe('BUSY');
    rt.child.kill('SIGCONT');
    const final = await jobUntil(t.admin, job.id, isFinal);
    expect(final).toMatchObject({ state: 'FAILED', error: { code: 'RUNTIME_UNREACHABLE', stage: 'REGISTER_VERSIONS' }, environment: { status: 'AVAILABLE' } });
    expect(await runtimeState(`${rt.url}/stop`, rt.token)).toEqual(before);
  });

  it('lets an ADMIN, and not a MEMBER, end a job whose rollback waits: FAILED ROLLBACK_ABANDONED with a warning', async () => {
    const t = await shipyard({ deadlineMs: 1000, callTimeoutMs: 300 });
    const rt = await runtime({ RUNTIME_TEST_HOLD: 'command:upsertManagementApp' });
    const w = await publishWorld(t.admin, { environment: { url: `${rt.url}/abandon`, runtimeToken: rt.token } });
    await t.admin.request(`mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { environment { status } } }`, { id: w.environmentId });
    const job = await secondPublish(t, w);
    await rt.printed(/runtime holding command upsertManagementApp/);
    rt.child.kill('SIGSTOP');
    cleanups.push(async () => rt.child.kill('SIGCONT'));
    await jobUntil(t.admin, job.id, (node) => node.stages.some((stage: { message: string | null }) => stage.message?.startsWith('Rolling back')));
    const ABANDON = `mutation ($id: ID!) { cancelPublishJob(input: { jobId: $id, abandonRollback: true }) { job { state warnings error { code } environment { status } } userErrors { code } } }`;
    const member = await t.as('MEMBER');
    expect((await member.request(ABANDON, { id: job.id })).cancelPublishJob.userErrors.map((error: { code: string }) => error.code)).toEqual(['FORBIDDEN']);
    const ended = (await t.admin.request(ABANDON, { id: job.id })).cancelPublishJob;
    expect(ended.userErrors).toEqual([]);
    expect(ended.job).toMatchObject({ state: 'FAILED', error: { code: 'ROLLBACK_ABANDONED' }, environment: { status: 'AVAILABLE' } });
    expect(ended.job.warnings).toContainEqual(expect.stringMatching(/^ROLLBACK_ABANDONED: .*partial publish/));
  });
});

describe('Shipyard killed mid-publish to a remote runtime (R52)', { timeout: 120_000 }, () => {
  const TOKEN = 'fault-test-admin-token-000000001';
  const startShipyard = async (dataDir: string) => {
    const databaseEnv = await testDatabaseEnv(dataDir);
    return new Promise<{ child: ChildProcess; url: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env: { ...process.env, DATA_DIR: dataDir, PORT: '0', SEED: 'none', LOG_LEVEL: 'silent', PUBLISH_STAGE_DELAY_MS: '0', ADMIN_TOKEN: TOKEN, RUNTIME_STAGE_DEADLINE_MS: '20000', ...databaseEnv },
      });
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match?.[1]) resolve({ child, url: match[1] });
      });
      child.once('exit', () => reject(new Error(`server exited: ${output}`)));
    });
  };

  it('puts the runtime back as before when it starts again', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shipyard-fault-'));
    let server = await startShipyard(dataDir);
    cleanups.push(async () => server.child.kill('SIGKILL'));
    const rt = await runtime({ RUNTIME_TEST_HOLD: 'command:replaceTargets' });
    const admin = new Client(`${server.url}/graphql`, TOKEN);
    const w = await publishWorld(admin, { environment: { url: `${rt.url}/crash`, runtimeToken: rt.token } });
    await admin.request(`mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { environment { status } } }`, { id: w.environmentId });
    const before = await runtimeState(`${rt.url}/crash`, rt.token);
    const job = noUserErrors(
      (await admin.request(PUBLISH_NATIVE, {
        input: { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'ACTIVE', targets: { userIds: [w.users.ann] }, binaryIds: [await binary(admin, w.appId, 'IOS_PHONE', '2.0')] },
      })).publishNativeClient,
    ).job;
    // The runtime has applied versions and targets when Shipyard dies.
    await rt.printed(/runtime holding command replaceTargets/);
    expect(await runtimeState(`${rt.url}/crash`, rt.token)).not.toEqual(before);
    server.child.kill('SIGKILL');
    await new Promise((resolve) => server.child.once('exit', resolve));
    server = await startShipyard(dataDir);
    const again = new Client(`${server.url}/graphql`, TOKEN);
    const final = await jobUntil(again, job.id, isFinal);
    expect(final).toMatchObject({ state: 'FAILED', error: { code: 'INTERRUPTED' }, environment: { status: 'AVAILABLE' } });
    expect(await runtimeState(`${rt.url}/crash`, rt.token)).toEqual(before);
  });
});

/** A TCP proxy that cuts every connection after `limit` bytes from Shipyard to the runtime. */
async function cuttingProxy(target: URL, limit: number): Promise<{ url: string; cuts: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { cuts: 0 };
  const server = createTcpServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    let sent = 0;
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (sent > limit) {
        state.cuts += 1;
        upstream.write(chunk.subarray(0, chunk.length - (sent - limit)));
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    for (const socket of [client, upstream]) socket.on('error', () => undefined).on('close', () => (client.destroy(), upstream.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get cuts() {
      return state.cuts;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a connection that drops after N bytes (R49, R51)', { timeout: 120_000 }, () => {
  it('leaves every publish all-or-nothing, whatever N is', async () => {
    const t = await shipyard({ deadlineMs: 2500, callTimeoutMs: 1000 });
    const rt = await runtime();
    const outcomes: string[] = [];
    // Every N lets one whole call through on a fresh connection; below that even the rollback
    // could never land, and the job would wait (BUSY) as R50 says.
    for (const limit of [1_500, 4_000, 9_000, 40_000, 400_000]) {
      const proxy = await cuttingProxy(new URL(rt.url), limit);
      cleanups.push(() => proxy.close());
      const w = await publishWorld(t.admin, { environment: { url: `${proxy.url}/cut${limit}`, runtimeToken: rt.token } });
      // Probed directly: the proxy may cut the probe too.
      const before = await runtimeState(`${rt.url}/cut${limit}`, rt.token);
      const job = await secondPublish(t, w);
      const final = await jobUntil(t.admin, job.id, isFinal);
      outcomes.push(`${limit}: ${final.state}${final.error ? ` ${final.error.code}` : ''}, ${proxy.cuts} cuts`);
      expect(['SUCCEEDED', 'FAILED']).toContain(final.state);
      expectAllOrNothing(final, before, await settledState(`${rt.url}/cut${limit}`, rt.token), ['ANDROID_PHONE 2.0', 'IOS_PHONE 2.0']);
    }
    console.log(`cutting proxy outcomes:\n  ${outcomes.join('\n  ')}`);
  });
});

describe('who counts as a runtime (R47)', { timeout: 120_000 }, () => {
  it('is UNKNOWN with a reason for a wrong token or a URL that is not a runtime, and publishes nothing there', async () => {
    const t = await shipyard();
    const rt = await runtime();
    const seen: string[] = [];
    const impostor: Server = createHttpServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>');
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => impostor.close(() => resolve())));
    const CHECK = `mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { environment { status statusReason runtimeVersions { integration } } } }`;
    const create = async (name: string, url: string, runtimeToken: string) =>
      (await t.admin.request(`mutation ($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { id } userErrors { code } } }`, {
        input: { name, url, runtimeToken, managementEnabled: true },
      })).createEnvironment.environment.id as string;

    const right = await create('right-token', `${rt.url}/right`, rt.token);
    expect((await t.admin.request(CHECK, { id: right })).checkEnvironment.environment).toMatchObject({ status: 'AVAILABLE', statusReason: null });
    const wrong = await create('wrong-token', `${rt.url}/wrong`, 'not-the-runtime-token-000000');
    expect((await t.admin.request(CHECK, { id: wrong })).checkEnvironment.environment).toMatchObject({ status: 'UNKNOWN', statusReason: expect.stringMatching(/^WRONG_TOKEN/) });
    const fake = await create('not-a-runtime', `http://127.0.0.1:${(impostor.address() as AddressInfo).port}`, rt.token);
    expect((await t.admin.request(CHECK, { id: fake })).checkEnvironment.environment).toMatchObject({ status: 'UNKNOWN', statusReason: expect.stringMatching(/^NOT_A_RUNTIME/) });

    const app = (await t.admin.request(`mutation { createApp(input: { name: "Impostor" }) { app { id } } }`)).createApp.app.id;
    const { job } = noUserErrors(
      (await t.admin.request(PUBLISH_NATIVE, { input: { appId: app, environmentId: fake, option: 'APP_STORE', workflowState: 'DRAFT', sync: true, binaryIds: [await binary(t.admin, app, 'IOS_PHONE', '1.0')] } })).publishNativeClient,
    );
    expect(job).toMatchObject({ state: 'FAILED', error: { stage: 'VALIDATE' } });
    // Nothing but the runtime's own description was ever asked of it.
    expect(new Set(seen)).toEqual(new Set(['GET /v1/info']));
  });

  it('keeps environments to the hosts RUNTIME_URL_ALLOW names', async () => {
    const t = await startServer({ runtimeUrlAllow: ['*.runtime.example', '127.0.0.1'] });
    cleanups.push(() => t.stop());
    const CREATE = `mutation ($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { url } userErrors { code field } } }`;
    const refused = (await t.admin.request(CREATE, { input: { name: 'elsewhere', url: 'http://169.254.169.254/latest' } })).createEnvironment;
    expect(refused).toEqual({ environment: null, userErrors: [{ code: 'URL_NOT_ALLOWED', field: ['input', 'url'] }] });
    const allowed = (await t.admin.request(CREATE, { input: { name: 'allowed', url: 'https://eu.runtime.example/foundry' } })).createEnvironment;
    expect(allowed).toEqual({ environment: { url: 'https://eu.runtime.example/foundry' }, userErrors: [] });
    expect((await t.admin.request(CREATE, { input: { name: 'loopback', url: 'http://127.0.0.1:4100' } })).createEnvironment.userErrors).toEqual([]);
  });
});

