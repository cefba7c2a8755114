import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from './kit.js';
import { World, type Actor } from './world.js';

let w: World;
let a: Client;
let b: Client;

interface Shapes {
  appId: string;
  environmentId: string;
  userId: string;
  groupId: string;
  tokenId: string;
  accountId: string;
  viewerId: string;
}

async function makeShapes(actor: Actor): Promise<Shapes> {
  const appId = await actor.app({ name: 'Same', identityServices: [{ name: 'Login', providerType: 'UserStore' }] });
  const environmentId = await actor.environment({ name: 'same-env', managementEnabled: true });
  const userId = await actor.directoryUser(environmentId, { username: 'same', displayName: 'Same User' });
  const groupId = await actor.directoryGroup(environmentId, { name: 'Same' });
  const tokenId = await actor.apiToken('same');
  const viewer = await actor.client.request('{ viewer { user { id } account { id } } }');
  return { appId, environmentId, userId, groupId, tokenId, accountId: viewer.viewer.account.id, viewerId: viewer.viewer.user.id };
}

let shapesA: Shapes;
const readingOfA = () =>
  a.request(`{
    apps { nodes { id name description identityServices { name } } }
    environments { nodes { id name managementEnabled allowManualPublishOnly runtimeVersions { sync }
      directoryUsers { nodes { id username groups { name } } } directoryGroups { nodes { id name members { username } } } } }
    viewer { apiTokens { id name } }
  }`);

beforeAll(async () => {
  w = await World.start();
  const other = await w.otherAccount('Tenant B');
  a = w.admin.client;
  b = other.client;
  shapesA = await makeShapes(w.admin);
  await makeShapes(other);
});
afterAll(() => w.stop());

describe("another account's ids behave like ids that do not exist (R6)", () => {
  it('answers null from node and nodes for every type', async () => {
    for (const id of Object.values(shapesA)) {
      expect((await b.request(`query ($id: ID!) { node(id: $id) { id } }`, { id })).node, id).toBeNull();
    }
    expect((await b.request(`query ($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: Object.values(shapesA) })).nodes).toEqual(
      Object.values(shapesA).map(() => null),
    );
  });

  it("shows none of A's objects in B's lists", async () => {
    const data = await b.request('{ apps { totalCount nodes { id } } environments { totalCount nodes { id } } viewer { apiTokens { id } } }');
    expect(data.apps.totalCount).toBe(1);
    expect(data.environments.totalCount).toBe(1);
    const ids = [...data.apps.nodes, ...data.environments.nodes, ...data.viewer.apiTokens].map((n: { id: string }) => n.id);
    for (const id of Object.values(shapesA)) expect(ids).not.toContain(id);
  });

  it("answers NOT_FOUND to every mutation that names A's objects, and A's data is unchanged", async () => {
    const before = await readingOfA();
    const { appId, environmentId, userId, groupId, tokenId, viewerId } = shapesA;
    const mutations: [string, string, Record<string, unknown>][] = [
      ['updateApp', 'mutation ($id: ID!) { updateApp(input: { id: $id, description: "hijacked" }) { userErrors { code } } }', { id: appId }],
      ['updateEnvironment', 'mutation ($id: ID!) { updateEnvironment(input: { id: $id, managementEnabled: false }) { userErrors { code } } }', { id: environmentId }],
      ['deleteEnvironment', 'mutation ($id: ID!) { deleteEnvironment(input: { id: $id }) { userErrors { code } } }', { id: environmentId }],
      ['checkEnvironment', 'mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { userErrors { code } } }', { id: environmentId }],
      ['createDirectoryUser', 'mutation ($id: ID!) { createDirectoryUser(input: { environmentId: $id, username: "x", displayName: "X", source: LOCAL }) { userErrors { code } } }', { id: environmentId }],
      ['createDirectoryGroup', 'mutation ($id: ID!) { createDirectoryGroup(input: { environmentId: $id, name: "X", source: LOCAL }) { userErrors { code } } }', { id: environmentId }],
      ['revokeApiToken', 'mutation ($id: ID!) { revokeApiToken(input: { id: $id }) { userErrors { code } } }', { id: tokenId }],
      ['createApiToken', 'mutation ($id: ID!) { createApiToken(input: { name: "x", userId: $id }) { token userErrors { code } } }', { id: viewerId }],
    ];
    for (const [name, mutation, variables] of mutations) {
      const data = await b.request(mutation, variables);
      expect(data[name].userErrors, name).toEqual([{ code: 'NOT_FOUND' }]);
    }
    const ownEnvironment = (await b.request('{ environments { nodes { id } } }')).environments.nodes[0].id;
    const crossMembers = await b.request(
      `mutation ($env: ID!, $user: ID!, $group: ID!) {
        g: createDirectoryGroup(input: { environmentId: $env, name: "Cross", source: LOCAL, memberIds: [$user] }) { userErrors { code } }
        u: createDirectoryUser(input: { environmentId: $env, username: "cross", displayName: "Cross", source: LOCAL, groupIds: [$group] }) { userErrors { code } }
      }`,
      { env: ownEnvironment, user: userId, group: groupId },
    );
    expect(crossMembers).toEqual({ g: { userErrors: [{ code: 'NOT_FOUND' }] }, u: { userErrors: [{ code: 'NOT_FOUND' }] } });
    expect(await readingOfA()).toEqual(before);
  });
});

describe('uniqueness does not reach across accounts (R6, R8)', () => {
  const createEnvironment = (client: Client, name: string, url: string) =>
    client
      .request(`mutation ($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { url } userErrors { code field } } }`, {
        input: { name, url },
      })
      .then((data) => data.createEnvironment);
  const createUser = (client: Client, email: string) =>
    client
      .request(`mutation ($input: CreateUserInput!) { createUser(input: $input) { user { email } userErrors { code field } } }`, {
        input: { email, name: 'Somebody', role: 'VIEWER' },
      })
      .then((data) => data.createUser);

  it("lets B not learn that A has an environment URL; A's second environment on it is URL_TAKEN", async () => {
    const url = 'https://runtime-a.example.com/foundry';
    expect((await createEnvironment(a, 'rt-a', url)).userErrors).toEqual([]);
    // B gets the answer it would get if A did not exist.
    expect(await createEnvironment(b, 'rt-b', url)).toEqual({ environment: { url }, userErrors: [] });
    // Positive control within one account, in another spelling.
    expect((await createEnvironment(a, 'rt-a-again', 'https://RUNTIME-A.example.com/foundry/')).userErrors).toEqual([{ code: 'URL_TAKEN', field: ['input', 'url'] }]);
  });

  it("lets B not learn that A has a user's email; A's second user with it is NAME_TAKEN", async () => {
    const email = 'someone@tenant-a.example';
    expect((await createUser(a, email)).userErrors).toEqual([]);
    expect(await createUser(b, email.toUpperCase())).toEqual({ user: { email: email.toUpperCase() }, userErrors: [] });
    expect((await createUser(a, email.toUpperCase())).userErrors).toEqual([{ code: 'NAME_TAKEN', field: ['input', 'email'] }]);
  });
});
