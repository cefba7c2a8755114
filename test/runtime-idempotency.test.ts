import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntimeServer, type RuntimeServerHandle } from '../src/runtime/server/app.js';
import { noUserErrors, startServer, type TestServer } from './kit.js';
import { binary, PUBLISH_NATIVE, publishWorld } from './publish-kit.js';

const TOKEN = 'idempotency-runtime-token-0123456789';

/**
 * Sends every change twice (R49): each POST /v1/commands and PUT /v1/blobs goes to the runtime
 * once, then again with the same idempotency key; the second answer must equal the first.
 */
async function repeatingProxy(target: string) {
  const log: { path: string; first: string; second: string }[] = [];
  const forward = async (method: string, path: string, headers: IncomingHttpHeaders, body: Buffer) => {
    const response = await fetch(`${target}${path}`, {
      method,
      headers: Object.fromEntries(Object.entries(headers).filter(([name]) => !['host', 'connection', 'content-length', 'transfer-encoding'].includes(name)) as [string, string][]),
      ...(method === 'GET' || method === 'HEAD' ? {} : { body: new Uint8Array(body) }),
    });
    return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const path = req.url ?? '/';
        const change = req.method === 'POST' || req.method === 'PUT';
        const first = await forward(req.method ?? 'GET', path, req.headers, body);
        const answer = change ? await forward(req.method ?? 'GET', path, req.headers, body) : first;
        if (change) log.push({ path: `${req.method} ${path.split('?')[0]}`, first: `${first.status} ${first.body}`, second: `${answer.status} ${answer.body}` });
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
        res.end(answer.body);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

let t: TestServer;
let runtime: RuntimeServerHandle;
let runtimeUrl: string;
let proxy: Awaited<ReturnType<typeof repeatingProxy>>;
beforeAll(async () => {
  runtime = createRuntimeServer({ dataDir: mkdtempSync(join(tmpdir(), 'shipyard-idem-')), token: TOKEN });
  runtimeUrl = await runtime.start();
  proxy = await repeatingProxy(runtimeUrl);
  t = await startServer();
});
afterAll(async () => {
  await t.stop();
  await proxy.close();
  await runtime.stop();
});

describe('idempotency keys (R49)', () => {
  it('applies every change once when each call arrives twice', async () => {
    const w = await publishWorld(t.admin, { environment: { url: `${proxy.url}/twice`, runtimeToken: TOKEN } });
    await t.admin.request(`mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { environment { status } } }`, { id: w.environmentId });
    const input = { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', signAction: 'WRAP_AND_SIGN', workflowState: 'ACTIVE', sync: true };
    const first = noUserErrors(
      (await t.admin.request(PUBLISH_NATIVE, {
        input: { ...input, binaryIds: [await binary(t.admin, w.appId, 'IOS_PHONE', '1.0'), await binary(t.admin, w.appId, 'WINDOWS', '1.0')], targets: { userIds: [w.users.ann], groupIds: [w.groups.Team] } },
      })).publishNativeClient,
    );
    expect(first.job.state).toBe('SUCCEEDED');
    const second = noUserErrors(
      (await t.admin.request(PUBLISH_NATIVE, { input: { ...input, binaryIds: [await binary(t.admin, w.appId, 'IOS_PHONE', '2.0')], removePlatforms: ['WINDOWS'] } })).publishNativeClient,
    );
    expect(second.job.state).toBe('SUCCEEDED');

    // Every kind of change went twice, and each repeat was answered as the first.
    const kinds = new Set(proxy.log.map((entry) => entry.path.replace(/[0-9a-f]{64}/, '<sha256>')));
    expect(kinds).toEqual(new Set(['POST /twice/v1/commands', 'PUT /twice/v1/blobs/<sha256>']));
    expect(proxy.log.filter((entry) => entry.path.endsWith('/commands')).length).toBeGreaterThanOrEqual(10);
    for (const entry of proxy.log.filter((one) => one.path.endsWith('/commands'))) expect(entry.second).toBe(entry.first);

    // Applied once: each version once, targets once, one notification per targeted user and publish.
    const read = async (path: string) => (await fetch(`${runtimeUrl}/twice${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
    const { apps } = await read('/v1/management');
    expect(apps).toHaveLength(1);
    expect(apps[0].versions.map((version: { platform: string; version: string }) => `${version.platform} ${version.version}`).sort()).toEqual(['IOS_PHONE 1.0', 'IOS_PHONE 2.0']);
    expect(apps[0].targets).toHaveLength(2);
    let notifications = 0;
    for (const user of [w.users.ann, w.users.bea, w.users.cal, w.users.dee]) {
      const { node } = await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on DirectoryUser { notifications { message } } } }`, { id: user });
      notifications += node.notifications.length;
    }
    // ann, bea and cal are targeted (dee is CLOUD); two ACTIVE publishes: six notifications, not twelve.
    expect(notifications).toBe(6);
    const { restorePoints } = await read('/v1/restore-points');
    expect(restorePoints).toEqual([]);
  });
});
