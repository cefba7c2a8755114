import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer, databaseReading } from './kit.js';

let t: TestServer;
let ids: Record<string, string>;


beforeAll(async () => {
  t = await startServer({ seed: 'demo' });
  const data = await t.admin.request('{ apps(first: 1) { nodes { id } } environments(first: 1) { nodes { id } } viewer { apiTokens { id } } }');
  ids = { app: data.apps.nodes[0].id, environment: data.environments.nodes[0].id, token: data.viewer.apiTokens[0].id };
});
afterAll(() => t.stop());

const huge = 'x'.repeat(100_000);
const control = 'bad\u0000name\u0007';
const malformedIds = ['', 'garbage', '%%%', Buffer.from('App:0').toString('base64'), Buffer.from('App:abc').toString('base64'), 'A'.repeat(10_000)];

/** Mutations this release has, each with inputs a careless or hostile client might send. */
const cases = (): [string, string, Record<string, unknown>][] => [
  ...[huge, control, '', '   '].map((name): [string, string, Record<string, unknown>] => [
    'createApp', 'mutation ($n: String!) { createApp(input: { name: $n }) { app { id } userErrors { code } } }', { n: name },
  ]),
  ['createApp', 'mutation ($d: String) { createApp(input: { name: "Described", description: $d }) { userErrors { code } } }', { d: huge }],
  ['createApp', 'mutation ($n: String!) { createApp(input: { name: "Svc", identityServices: [{ name: $n, providerType: $n }] }) { userErrors { code } } }', { n: control }],
  ...[huge, control, '', 'http://[::1', `http://x.example/${huge}`].map((url): [string, string, Record<string, unknown>] => [
    'createEnvironment', 'mutation ($u: String) { createEnvironment(input: { name: "bad-input", url: $u }) { userErrors { code } } }', { u: url },
  ]),
  ['createEnvironment', 'mutation ($n: String!) { createEnvironment(input: { name: $n }) { userErrors { code } } }', { n: huge }],
  ['createEnvironment', 'mutation ($v: String!) { createEnvironment(input: { name: "versions", runtimeVersions: { integration: $v, sync: $v, messaging: $v } }) { userErrors { code } } }', { v: huge }],
  ...malformedIds.flatMap((id): [string, string, Record<string, unknown>][] => [
    ['updateApp', 'mutation ($id: ID!) { updateApp(input: { id: $id, description: "x" }) { userErrors { code } } }', { id }],
    ['updateEnvironment', 'mutation ($id: ID!) { updateEnvironment(input: { id: $id, managementEnabled: true }) { userErrors { code } } }', { id }],
    ['deleteEnvironment', 'mutation ($id: ID!) { deleteEnvironment(input: { id: $id }) { userErrors { code } } }', { id }],
    ['checkEnvironment', 'mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { userErrors { code } } }', { id }],
    ['revokeApiToken', 'mutation ($id: ID!) { revokeApiToken(input: { id: $id }) { userErrors { code } } }', { id }],
    ['createDirectoryUser', 'mutation ($id: ID!) { createDirectoryUser(input: { environmentId: $id, username: "u", displayName: "U", source: LOCAL }) { userErrors { code } } }', { id }],
    ['createDirectoryGroup', 'mutation ($id: ID!) { createDirectoryGroup(input: { environmentId: $id, name: "G", source: LOCAL, memberIds: [$id] }) { userErrors { code } } }', { id }],
  ]),
  ['updateApp', 'mutation ($id: ID!) { updateApp(input: { id: $id, description: "x" }) { userErrors { code } } }', { id: ids.environment }],
  ['deleteEnvironment', 'mutation ($id: ID!) { deleteEnvironment(input: { id: $id }) { userErrors { code } } }', { id: ids.app }],
  ['createDirectoryUser', 'mutation ($id: ID!, $u: String!) { createDirectoryUser(input: { environmentId: $id, username: $u, displayName: $u, source: LOCAL }) { userErrors { code } } }', { id: ids.environment, u: huge }],
  ['createDirectoryUser', 'mutation ($id: ID!) { createDirectoryUser(input: { environmentId: $id, username: "mail", displayName: "Mail", email: "not-an-email", source: LOCAL }) { userErrors { code } } }', { id: ids.environment }],
  ['createDirectoryUser', 'mutation ($id: ID!, $g: [ID!]) { createDirectoryUser(input: { environmentId: $id, username: "many", displayName: "Many", source: LOCAL, groupIds: $g }) { userErrors { code } } }', { id: ids.environment, g: Array.from({ length: 2000 }, () => ids.app) }],
  ['createUser', 'mutation ($e: String!) { createUser(input: { email: $e, name: "N", role: VIEWER }) { userErrors { code } } }', { e: huge }],
  ['createApiToken', 'mutation ($n: String!) { createApiToken(input: { name: $n }) { token userErrors { code } } }', { n: control }],
  ['createApiToken', 'mutation ($id: ID) { createApiToken(input: { name: "x", userId: $id }) { token userErrors { code } } }', { id: ids.app }],
];

describe('bad input changes nothing and never answers 500 (R43)', () => {
  it('answers userErrors to every malformed mutation', async () => {
    const before = await databaseReading(t.dataDir);
    let count = 0;
    for (const [name, mutation, variables] of cases()) {
      const response = await t.admin.raw(mutation, variables);
      const label = `${name} ${JSON.stringify(variables).slice(0, 80)}`;
      expect(response.status, label).toBe(200);
      expect(response.errors, label).toBeUndefined();
      const payload = response.data?.[name] as { userErrors: { code: string }[] };
      expect(payload.userErrors.length, label).toBeGreaterThan(0);
      count += 1;
    }
    expect(count).toBeGreaterThan(60);
    expect(await databaseReading(t.dataDir)).toBe(before);
  });

  it('answers a GraphQL error, not a 500, to invalid enum values and wrong argument types', async () => {
    const before = await databaseReading(t.dataDir);
    for (const [query, variables] of [
      ['mutation { createUser(input: { email: "a@b.example", name: "N", role: ROOT }) { userErrors { code } } }', {}],
      ['mutation ($s: DirectorySource!) { createDirectoryGroup(input: { environmentId: "x", name: "G", source: $s }) { userErrors { code } } }', { s: 'MARS' }],
      ['mutation ($n: String!) { createApp(input: { name: $n }) { userErrors { code } } }', { n: 42 }],
      ['{ apps(first: "ten") { totalCount } }', {}],
      ['{ apps(first: 99999999999) { totalCount } }', {}],
      ['{ nope }', {}],
    ] as const) {
      const response = await t.admin.raw(query, variables);
      expect(response.status, query).toBeLessThan(500);
      expect(response.errors?.length, query).toBeGreaterThan(0);
      expect(JSON.stringify(response.errors), query).not.toMatch(/Unexpected error|SQLITE|at .*\.ts:/);
    }
    expect(await databaseReading(t.dataDir)).toBe(before);
  });

  it('answers 400, not 500, to bodies that are not GraphQL requests', async () => {
    for (const body of ['{', 'null', '[]', '{"query": 5}', '']) {
      const response = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.admin.token}` },
        body,
      });
      expect(response.status, body).toBeGreaterThanOrEqual(400);
      expect(response.status, body).toBeLessThan(500);
    }
  });
});
