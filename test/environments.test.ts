import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './kit.js';
import { startRuntimeResponder, unreachableUrl, type RuntimeResponder } from './runtime-responder.js';
import { Actor, eventually, World } from './world.js';

let w: World;
let t: TestServer;
let runtime: RuntimeResponder;
beforeAll(async () => {
  w = await World.start();
  t = w.t;
  runtime = await startRuntimeResponder();
});
afterAll(async () => {
  await w.stop();
  await runtime.close();
});

const CREATE = `mutation ($input: CreateEnvironmentInput!) {
  createEnvironment(input: $input) {
    environment { id name url status statusCheckedAt managementEnabled allowManualPublishOnly runtimeVersions { integration sync messaging } }
    userErrors { code message field }
  }
}`;
const CHECK = `mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { environment { status statusCheckedAt } userErrors { code } } }`;

const create = async (input: Record<string, unknown>) => (await t.admin.request(CREATE, { input })).createEnvironment;

describe('environment names (R8)', () => {
  const valid = ['dev', 'Prod-EU-1', 'a23', 'abcdefghij0123456789', 'q-a'];
  const invalid = ['qa', '1dev', '-dev', 'dev-', 'abcdefghij01234567890', 'de v', 'dév', 'dev_1', '', 'd'.repeat(300)];

  for (const name of valid) {
    it(`accepts ${name}`, async () => {
      const payload = await create({ name });
      expect(payload.userErrors).toEqual([]);
      expect(payload.environment.name).toBe(name);
    });
  }

  for (const name of invalid) {
    it(`refuses ${JSON.stringify(name.slice(0, 30))}`, async () => {
      const before = (await t.admin.request('{ environments { totalCount } }')).environments.totalCount;
      const payload = await create({ name });
      expect(payload.environment).toBeNull();
      expect(payload.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', 'name'] })]);
      expect((await t.admin.request('{ environments { totalCount } }')).environments.totalCount).toBe(before);
    });
  }

  it('keeps names unique in the account, ignoring case', async () => {
    expect((await create({ name: 'unique-one' })).userErrors).toEqual([]);
    const payload = await create({ name: 'UNIQUE-one' });
    expect(payload.userErrors).toEqual([expect.objectContaining({ code: 'NAME_TAKEN', field: ['input', 'name'] })]);
  });

  it('has no way to change a name or URL after creation', async () => {
    const { environment } = await create({ name: 'fixed' });
    const response = await t.admin.raw(`mutation ($id: ID!) { updateEnvironment(input: { id: $id, name: "renamed" }) { userErrors { code } } }`, {
      id: environment.id,
    });
    expect(response.data).toBeUndefined();
    expect(response.errors?.[0]?.message).toMatch(/Field "name" is not defined by type "UpdateEnvironmentInput"/);
  });
});

describe('environment URLs (R8, R9)', () => {
  it('lets a URL belong to one environment only, in any spelling', async () => {
    expect((await create({ name: 'url-a', url: 'https://Runtime.Example.com/foundry/' })).environment.url).toBe(
      'https://runtime.example.com/foundry',
    );
    const payload = await create({ name: 'url-b', url: 'https://runtime.example.com/foundry' });
    expect(payload.userErrors).toEqual([expect.objectContaining({ code: 'URL_TAKEN', field: ['input', 'url'] })]);
  });

  it('refuses what is not an http URL', async () => {
    for (const url of ['ftp://x.example', 'not a url', 'http://user:pw@x.example', 'javascript:alert(1)', `http://x.example/${'a'.repeat(2100)}`]) {
      const payload = await create({ name: 'bad-url', url });
      expect(payload.userErrors, url).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', 'url'] })]);
    }
  });

  it('is UNKNOWN when the runtime does not answer, and was probed', async () => {
    const { environment } = await create({ name: 'nobody-home', url: await unreachableUrl() });
    expect(environment.status).toBe('UNKNOWN');
    const checked = (await t.admin.request(CHECK, { id: environment.id })).checkEnvironment;
    expect(checked.environment.status).toBe('UNKNOWN');
    expect(checked.environment.statusCheckedAt).not.toBeNull();
  });

  it('is AVAILABLE once its runtime answers GET /v1/info with the token, and UNKNOWN again when it stops', async () => {
    const { environment } = await create({ name: 'remote', url: runtime.url, runtimeToken: runtime.token });
    expect(environment.status).toBe('UNKNOWN');
    expect(environment.statusCheckedAt).toBeNull();
    const requestsBefore = runtime.requests;
    expect((await t.admin.request(CHECK, { id: environment.id })).checkEnvironment.environment.status).toBe('AVAILABLE');
    expect(runtime.requests).toBe(requestsBefore + 1);
    runtime.healthy = false;
    expect((await t.admin.request(CHECK, { id: environment.id })).checkEnvironment.environment.status).toBe('UNKNOWN');
    runtime.healthy = true;
  });

  it('treats the embedded runtime as always AVAILABLE', async () => {
    const { environment } = await create({ name: 'embedded' });
    expect(environment).toMatchObject({ url: null, status: 'AVAILABLE' });
    expect((await t.admin.request(CHECK, { id: environment.id })).checkEnvironment.environment.status).toBe('AVAILABLE');
  });
});

describe('background probing (R9)', () => {
  it('notices a runtime going down and coming back without anyone asking', async () => {
    const responder = await startRuntimeResponder();
    const probed = await startServer({}, { probeIntervalMs: 50 });
    const statusOf = async () => (await probed.admin.request('{ environments { nodes { status } } }')).environments.nodes[0].status;
    try {
      await new Actor(probed.admin).environment({ name: 'watched', url: responder.url, runtimeToken: responder.token });
      await eventually(async () => expect(await statusOf()).toBe('AVAILABLE'));
      responder.healthy = false;
      await eventually(async () => expect(await statusOf()).toBe('UNKNOWN'));
      responder.healthy = true;
      await eventually(async () => expect(await statusOf()).toBe('AVAILABLE'));
    } finally {
      await probed.stop();
      await responder.close();
    }
  });
});

describe('runtime versions and settings (R12 data)', () => {
  it('defaults every component to the console version', async () => {
    const { serverInfo } = await t.admin.request('{ serverInfo { consoleVersion } }');
    const { environment } = await create({ name: 'versions' });
    const v = serverInfo.consoleVersion;
    expect(environment.runtimeVersions).toEqual({ integration: v, sync: v, messaging: v });
    expect(environment).toMatchObject({ managementEnabled: false, allowManualPublishOnly: false });
  });

  it('updates versions and flags, keeping what is not given', async () => {
    const { environment } = await create({ name: 'settings', managementEnabled: true });
    const updated = await t.admin.request(
      `mutation ($id: ID!) { updateEnvironment(input: { id: $id, allowManualPublishOnly: true, runtimeVersions: { integration: "9.5.0", sync: "9.4.1", messaging: "9.5.0.2" } }) {
        environment { managementEnabled allowManualPublishOnly runtimeVersions { integration sync messaging } } userErrors { code } } }`,
      { id: environment.id },
    );
    expect(updated.updateEnvironment).toEqual({
      environment: { managementEnabled: true, allowManualPublishOnly: true, runtimeVersions: { integration: '9.5.0', sync: '9.4.1', messaging: '9.5.0.2' } },
      userErrors: [],
    });
  });

  it('refuses a version that is not dot-separated numbers', async () => {
    const payload = await create({ name: 'bad-versions', runtimeVersions: { integration: 'v9', sync: '9.5.0', messaging: '09.1' } });
    expect(payload.userErrors.map((e: { field: string[] }) => e.field)).toEqual([
      ['input', 'runtimeVersions', 'integration'],
      ['input', 'runtimeVersions', 'messaging'],
    ]);
  });
});

describe('deleting environments (R13)', () => {
  it('removes the environment with its directory', async () => {
    const { environment } = await create({ name: 'doomed' });
    await w.admin.directoryUser(environment.id, { username: 'u', displayName: 'U' });
    const deleted = await t.admin.request(`mutation ($id: ID!) { deleteEnvironment(input: { id: $id }) { deletedId userErrors { code } } }`, {
      id: environment.id,
    });
    expect(deleted.deleteEnvironment).toEqual({ deletedId: environment.id, userErrors: [] });
    expect((await t.admin.request(`query ($id: ID!) { node(id: $id) { id } }`, { id: environment.id })).node).toBeNull();
    const again = await t.admin.request(`mutation ($id: ID!) { deleteEnvironment(input: { id: $id }) { deletedId userErrors { code } } }`, {
      id: environment.id,
    });
    expect(again.deleteEnvironment).toEqual({ deletedId: null, userErrors: [{ code: 'NOT_FOUND' }] });
  });
});
