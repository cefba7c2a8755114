import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noUserErrors, type TestServer } from './kit.js';
import { World } from './world.js';

let w: World;
let t: TestServer;
beforeAll(async () => {
  w = await World.start();
  t = w.t;
});
afterAll(() => w.stop());

const CREATE = `mutation ($input: CreateAppInput!) { createApp(input: $input) { app { id name description createdAt identityServices { name providerType } } userErrors { code message field } } }`;
const UPDATE = `mutation ($input: UpdateAppInput!) { updateApp(input: $input) { app { name description identityServices { name providerType } } userErrors { code field } } }`;

describe('apps', () => {
  it('creates an app with identity services in the order given', async () => {
    const payload = noUserErrors(
      (
        await t.admin.request(CREATE, {
          input: {
            name: 'Banking',
            description: 'Retail banking',
            identityServices: [
              { name: 'Zeta', providerType: 'OAuth2' },
              { name: 'Alpha', providerType: 'UserStore' },
            ],
          },
        })
      ).createApp,
    );
    expect(payload.app).toMatchObject({
      name: 'Banking',
      description: 'Retail banking',
      identityServices: [
        { name: 'Zeta', providerType: 'OAuth2' },
        { name: 'Alpha', providerType: 'UserStore' },
      ],
    });
    expect(Date.parse(payload.app.createdAt)).not.toBeNaN();
  });

  it('creates one app when several creates of one name arrive at once; the others are NAME_TAKEN, none fails', async () => {
    // The name is checked and written in one transaction. Checked apart, every create started in
    // the same tick finds it free, and all but one fail on the unique index instead of answering.
    const owner = await t.otherAccount('Concurrent');
    const principal = await t.server.domain.accounts.authenticate(owner.token ?? '');
    if (!principal) throw new Error('no principal');
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => t.server.domain.apps.create(principal, { name: 'AtOnce' })));
    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(1);
    expect(outcomes.flatMap((outcome) => (outcome.ok ? [] : outcome.userErrors.map((error) => error.code)))).toEqual(Array(7).fill('NAME_TAKEN'));
  });

  it('refuses a taken name in any case, and names that are not Volt MX app names', async () => {
    expect((await t.admin.request(CREATE, { input: { name: 'BANKING' } })).createApp.userErrors).toEqual([
      expect.objectContaining({ code: 'NAME_TAKEN', field: ['input', 'name'] }),
    ]);
    for (const name of ['', '9Lives', 'My App', 'App_preview', 'x'.repeat(201), 'Tab\tName']) {
      expect((await t.admin.request(CREATE, { input: { name } })).createApp.userErrors, name).toEqual([
        expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', 'name'] }),
      ]);
    }
  });

  it('refuses duplicate identity services and over-long descriptions', async () => {
    const duplicate = await t.admin.request(CREATE, {
      input: { name: 'Dup', identityServices: [{ name: 'Login', providerType: 'A' }, { name: 'login', providerType: 'B' }] },
    });
    expect(duplicate.createApp.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', 'identityServices', '1', 'name'] })]);
    const long = await t.admin.request(CREATE, { input: { name: 'Long', description: 'x'.repeat(4001) } });
    expect(long.createApp.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', 'description'] })]);
    expect((await t.admin.request('{ apps { totalCount } }')).apps.totalCount).toBe(1);
  });

  it('updates the description and replaces identity services only when given', async () => {
    const { apps } = await t.admin.request('{ apps(search: "bank") { nodes { id } } }');
    const id = apps.nodes[0].id;
    const described = await t.admin.request(UPDATE, { input: { id, description: 'New words' } });
    expect(described.updateApp.app.description).toBe('New words');
    expect(described.updateApp.app.identityServices).toHaveLength(2);
    const replaced = await t.admin.request(UPDATE, { input: { id, identityServices: [{ name: 'Only', providerType: 'SAML' }] } });
    expect(replaced.updateApp.app).toEqual({ name: 'Banking', description: 'New words', identityServices: [{ name: 'Only', providerType: 'SAML' }] });
    const cleared = await t.admin.request(UPDATE, { input: { id, description: null } });
    expect(cleared.updateApp.app.description).toBeNull();
  });

  it('searches by name and pages through apps', async () => {
    for (const name of ['Alpha', 'Beta', 'Gamma', 'Delta']) noUserErrors((await t.admin.request(CREATE, { input: { name } })).createApp);
    expect((await t.admin.request('{ apps(search: "ta") { nodes { name } } }')).apps.nodes.map((a: { name: string }) => a.name)).toEqual([
      'Beta',
      'Delta',
    ]);
    const first = await t.admin.request('{ apps(first: 2) { edges { cursor node { name } } pageInfo { hasNextPage endCursor } totalCount } }');
    expect(first.apps.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['Alpha', 'Banking']);
    expect(first.apps.totalCount).toBe(5);
    const rest = await t.admin.request(`query ($after: String) { apps(first: 10, after: $after) { nodes { name } pageInfo { hasNextPage hasPreviousPage } } }`, {
      after: first.apps.pageInfo.endCursor,
    });
    expect(rest.apps).toEqual({ nodes: [{ name: 'Beta' }, { name: 'Delta' }, { name: 'Gamma' }], pageInfo: { hasNextPage: false, hasPreviousPage: true } });
  });
});

describe('global ids (Relay)', () => {
  it('refetches any object through node and nodes, opaque and stable', async () => {
    const { apps } = await t.admin.request('{ apps(first: 2) { nodes { id name } } }');
    const [a, b] = apps.nodes;
    expect(a.id).not.toContain('App');
    const data = await t.admin.request(`query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on App { name } } }`, { ids: [b.id, a.id] });
    expect(data.nodes).toEqual([b, a]);
  });

  it('answers null for malformed ids, unknown types and ids of non-node types, never an error', async () => {
    const { apps } = await t.admin.request('{ apps(first: 1) { nodes { id } } }');
    const ids = [
      'garbage',
      '',
      Buffer.from('Nope:1').toString('base64'),
      Buffer.from('Query:1').toString('base64'),
      Buffer.from('App:999999').toString('base64'),
      Buffer.from('App:-1').toString('base64'),
      Buffer.from('App:1e3').toString('base64'),
      Buffer.from('App:99999999999999999999').toString('base64'),
      apps.nodes[0].id,
    ];
    for (const id of ids.slice(0, -1)) {
      const response = await t.admin.raw(`query ($id: ID!) { node(id: $id) { id } }`, { id });
      expect(response, id).toEqual({ status: 200, data: { node: null } });
    }
    const all = await t.admin.raw(`query ($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids });
    expect(all.errors, JSON.stringify(all.errors)).toBeUndefined();
    expect(all.data?.nodes).toEqual([...ids.slice(0, -1).map(() => null), { id: apps.nodes[0].id }]);
  });

  it('answers NOT_FOUND when a mutation gets an id of the wrong type', async () => {
    await w.admin.environment({ name: 'typed' });
    const { apps } = await t.admin.request('{ apps(first: 1) { nodes { id } } }');
    const payload = await t.admin.request(`mutation ($id: ID!) { deleteEnvironment(input: { id: $id }) { deletedId userErrors { code field } } }`, {
      id: apps.nodes[0].id,
    });
    expect(payload.deleteEnvironment).toEqual({ deletedId: null, userErrors: [{ code: 'NOT_FOUND', field: ['input', 'id'] }] });
  });
});
