import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntimeServer, type RuntimeServerHandle } from '../src/runtime/server/app.js';
import { noUserErrors, startServer, type TestServer } from './kit.js';
import { binary, PUBLISH_NATIVE, publishWorld } from './publish-kit.js';

const TOKEN = 'transfer-runtime-token-0123456789';
let t: TestServer;
let runtime: RuntimeServerHandle;
let runtimeUrl: string;
beforeAll(async () => {
  runtime = createRuntimeServer({ dataDir: mkdtempSync(join(tmpdir(), 'shipyard-transfer-')), token: TOKEN });
  runtimeUrl = await runtime.start();
  t = await startServer();
});
afterAll(async () => {
  await t.stop();
  await runtime.stop();
});

const auth = { authorization: `Bearer ${TOKEN}` };
const holds = async (path: string, sha256: string) => (await fetch(`${runtimeUrl}${path}/v1/blobs/${sha256}`, { method: 'HEAD', headers: auth })).status === 200;

async function remoteWorld(path: string) {
  const w = await publishWorld(t.admin, { environment: { url: `${runtimeUrl}${path}`, runtimeToken: TOKEN } });
  await t.admin.request(`mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { environment { status } } }`, { id: w.environmentId });
  return w;
}

const sha256Of = async (id: string) => (await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on ClientBinary { sha256 } } }`, { id })).node.sha256 as string;
const transferMessage = (job: { stages: { key: string; message: string }[] }) => job.stages.find((stage) => stage.key === 'TRANSFER_BINARIES')?.message;

describe('binaries travel to a remote runtime (R48)', () => {
  it('sends a binary once: what the runtime holds is not sent again', async () => {
    const w = await remoteWorld('/once');
    const ios = await binary(t.admin, w.appId, 'IOS_PHONE', '1.0');
    const base = { appId: w.appId, environmentId: w.environmentId, workflowState: 'DRAFT', sync: true, binaryIds: [ios] };
    const preview = noUserErrors((await t.admin.request(PUBLISH_NATIVE, { input: { ...base, option: 'PREVIEW' } })).publishNativeClient).job;
    expect(transferMessage(preview)).toMatch(/^Transferred 1 of 1 binaries/);
    expect(await holds('/once', await sha256Of(ios))).toBe(true);
    const production = noUserErrors((await t.admin.request(PUBLISH_NATIVE, { input: { ...base, option: 'APP_STORE' } })).publishNativeClient).job;
    expect(production.state).toBe('SUCCEEDED');
    expect(transferMessage(production)).toMatch(/^Transferred 0 of 1 binaries .*the runtime held the others/);
  });

  it('refuses a file whose bytes do not match its SHA-256, keeping nothing: the job fails BINARY_CORRUPT', async () => {
    const w = await remoteWorld('/corrupt');
    // A version of its own: the first test's binary (same bytes within ZIP's two-second clock) is held already.
    const ios = await binary(t.admin, w.appId, 'IOS_PHONE', '1.1');
    const sha256 = await sha256Of(ios);
    // The stored file rots after its upload.
    writeFileSync(join(t.dataDir, 'blobs', sha256.slice(0, 2), sha256), 'not the uploaded bytes');
    const { job } = noUserErrors(
      (await t.admin.request(PUBLISH_NATIVE, { input: { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'DRAFT', sync: true, binaryIds: [ios] } })).publishNativeClient,
    );
    expect(job).toMatchObject({ state: 'FAILED', error: { code: 'BINARY_CORRUPT', stage: 'TRANSFER_BINARIES' } });
    expect(await holds('/corrupt', sha256)).toBe(false);
    const { apps } = await (await fetch(`${runtimeUrl}/corrupt/v1/management`, { headers: auth })).json();
    expect(apps).toEqual([]);

    // Straight to the runtime: the same refusal, and a positive control with the right name.
    const bytes = Buffer.from('some artifact');
    const right = createHash('sha256').update(bytes).digest('hex');
    const wrong = createHash('sha256').update('other bytes').digest('hex');
    const refused = await fetch(`${runtimeUrl}/corrupt/v1/blobs/${wrong}`, { method: 'PUT', headers: auth, body: new Uint8Array(bytes) });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ code: 'SHA256_MISMATCH' });
    expect(await holds('/corrupt', wrong)).toBe(false);
    expect((await fetch(`${runtimeUrl}/corrupt/v1/blobs/${right}`, { method: 'PUT', headers: auth, body: new Uint8Array(bytes) })).status).toBe(201);
    expect(await holds('/corrupt', right)).toBe(true);
  });
});
