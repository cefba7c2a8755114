import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/domain/tokens.js';
import { Client, startServer, testSql, type TestServer } from './kit.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ seed: 'demo' });
});
afterAll(() => t.stop());

const VIEWER_QUERY = '{ viewer { user { email role } account { name } } }';

describe('authentication at the door (R5)', () => {
  it('refuses a request without a token with 401', async () => {
    const response = await t.client(null).raw(VIEWER_QUERY);
    expect(response.status).toBe(401);
    expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(response.data ?? null).toBeNull();
  });

  it('refuses an unknown token and a malformed header with 401', async () => {
    expect((await t.client('shp_not-a-real-token').raw(VIEWER_QUERY)).status).toBe(401);
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic YWRtaW46YWRtaW4=' },
      body: JSON.stringify({ query: VIEWER_QUERY }),
    });
    expect(response.status).toBe(401);
  });

  it('serves /health and /ready without a token', async () => {
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
    expect((await fetch(`${t.url}/ready`)).status).toBe(200);
  });

  it('answers the admin token with the admin of the default account', async () => {
    const data = await t.admin.request(VIEWER_QUERY);
    expect(data.viewer).toEqual({ user: { email: 'admin@shipyard.local', role: 'ADMIN' }, account: { name: 'Default' } });
  });

  it('stores tokens as SHA-256 only', async () => {
    const created = await t.admin.request(`mutation { createApiToken(input: { name: "ci" }) { token apiToken { id name } } }`);
    const secret: string = created.createApiToken.token;
    expect(secret).toMatch(/^shp_/);
    const rows = await testSql(t.dataDir, 'select * from api_tokens');
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(rows.some((row) => row.token_sha256 === sha256Hex(secret))).toBe(true);
    expect((await t.client(secret).request(VIEWER_QUERY)).viewer.user.role).toBe('ADMIN');
  });

  it('refuses a revoked token with 401', async () => {
    const created = await t.admin.request(`mutation { createApiToken(input: { name: "temp" }) { token apiToken { id } } }`);
    const client = t.client(created.createApiToken.token);
    expect((await client.raw(VIEWER_QUERY)).status).toBe(200);
    const revoked = await t.admin.request(`mutation ($id: ID!) { revokeApiToken(input: { id: $id }) { deletedId userErrors { code } } }`, {
      id: created.createApiToken.apiToken.id,
    });
    expect(revoked.revokeApiToken).toEqual({ deletedId: created.createApiToken.apiToken.id, userErrors: [] });
    expect((await client.raw(VIEWER_QUERY)).status).toBe(401);
  });

  it('records when a token was last used', async () => {
    const data = await t.admin.request('{ viewer { apiTokens { name lastUsedAt } } }');
    const admin = data.viewer.apiTokens.find((token: { name: string }) => token.name === 'admin');
    expect(Date.parse(admin.lastUsedAt)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('roles (R7)', () => {
  let viewer: Client;
  let member: Client;
  beforeAll(async () => {
    viewer = await t.as('VIEWER');
    member = await t.as('MEMBER');
  });

  const appCount = async () => (await t.admin.request('{ apps { totalCount } }')).apps.totalCount as number;
  const environmentCount = async () => (await t.admin.request('{ environments { totalCount } }')).environments.totalCount as number;

  it('lets a VIEWER read everything', async () => {
    const data = await viewer.request('{ apps { totalCount } environments { nodes { name status } } viewer { user { role } } }');
    expect(data.viewer.user.role).toBe('VIEWER');
    expect(data.apps.totalCount).toBe(2);
    expect(data.environments.nodes).toHaveLength(3);
  });

  const adminOnly: [string, string][] = [
    ['createApp', 'mutation { createApp(input: { name: "Forbidden" }) { app { id } userErrors { code message } } }'],
    ['createEnvironment', 'mutation { createEnvironment(input: { name: "forbidden" }) { environment { id } userErrors { code } } }'],
    ['createUser', 'mutation { createUser(input: { email: "x@example.com", name: "X", role: ADMIN }) { user { id } userErrors { code } } }'],
  ];

  for (const [name, mutation] of adminOnly) {
    it(`refuses ${name} to VIEWER and MEMBER with FORBIDDEN and changes nothing`, async () => {
      const before = [await appCount(), await environmentCount()];
      for (const client of [viewer, member]) {
        const response = await client.raw(mutation);
        expect(response.status).toBe(200);
        expect(response.errors).toBeUndefined();
        const payload = Object.values(response.data ?? {})[0] as { userErrors: { code: string }[] };
        expect(payload.userErrors.map((e) => e.code)).toEqual(['FORBIDDEN']);
      }
      expect([await appCount(), await environmentCount()]).toEqual(before);
    });
  }

  it('refuses every ADMIN mutation on existing objects to a MEMBER', async () => {
    const { apps, environments } = await t.admin.request('{ apps { nodes { id } } environments { nodes { id name } } }');
    const appId = apps.nodes[0].id;
    const environment = environments.nodes.find((e: { name: string }) => e.name === 'dev');
    const mutations = [
      ['updateApp', `mutation { updateApp(input: { id: "${appId}", description: "x" }) { userErrors { code } } }`],
      ['updateEnvironment', `mutation { updateEnvironment(input: { id: "${environment.id}", managementEnabled: false }) { userErrors { code } } }`],
      ['deleteEnvironment', `mutation { deleteEnvironment(input: { id: "${environment.id}" }) { userErrors { code } } }`],
      ['createDirectoryUser', `mutation { createDirectoryUser(input: { environmentId: "${environment.id}", username: "z", displayName: "Z", source: LOCAL }) { userErrors { code } } }`],
      ['createDirectoryGroup', `mutation { createDirectoryGroup(input: { environmentId: "${environment.id}", name: "Z", source: LOCAL }) { userErrors { code } } }`],
    ];
    for (const [name, mutation] of mutations) {
      const data = await member.request(mutation as string);
      expect(data[name as string].userErrors, name).toEqual([{ code: 'FORBIDDEN' }]);
    }
    const after = await t.admin.request(`{ node(id: "${environment.id}") { ... on Environment { managementEnabled directoryUsers { totalCount } directoryGroups { totalCount } } } }`);
    expect(after.node).toEqual({ managementEnabled: true, directoryUsers: { totalCount: 5 }, directoryGroups: { totalCount: 3 } });
  });

  it('lets a MEMBER check an environment but not a VIEWER', async () => {
    const { environments } = await t.admin.request('{ environments { nodes { id } } }');
    const id = environments.nodes[0].id;
    const mutation = `mutation { checkEnvironment(input: { id: "${id}" }) { environment { id } userErrors { code } } }`;
    expect((await member.request(mutation)).checkEnvironment.userErrors).toEqual([]);
    expect((await viewer.request(mutation)).checkEnvironment).toEqual({ environment: null, userErrors: [{ code: 'FORBIDDEN' }] });
  });

  it('lets anyone hold tokens of their own but only an ADMIN create or revoke them for others', async () => {
    const own = await viewer.request('mutation { createApiToken(input: { name: "mine" }) { token apiToken { id } userErrors { code } } }');
    expect(own.createApiToken.userErrors).toEqual([]);
    expect((await t.client(own.createApiToken.token).request('{ viewer { user { role } } }')).viewer.user.role).toBe('VIEWER');

    const adminUser = (await t.admin.request('{ viewer { user { id } apiTokens { id } } }')).viewer;
    const forOther = await member.request(`mutation { createApiToken(input: { name: "steal", userId: "${adminUser.user.id}" }) { token userErrors { code } } }`);
    expect(forOther.createApiToken).toEqual({ token: null, userErrors: [{ code: 'FORBIDDEN' }] });
    const revokeOther = await member.request(`mutation { revokeApiToken(input: { id: "${adminUser.apiTokens[0].id}" }) { deletedId userErrors { code } } }`);
    expect(revokeOther.revokeApiToken).toEqual({ deletedId: null, userErrors: [{ code: 'FORBIDDEN' }] });
    expect((await t.admin.raw(VIEWER_QUERY)).status).toBe(200);

    const revokeOwn = await viewer.request(`mutation { revokeApiToken(input: { id: "${own.createApiToken.apiToken.id}" }) { userErrors { code } } }`);
    expect(revokeOwn.revokeApiToken.userErrors).toEqual([]);
    expect((await t.client(own.createApiToken.token).raw(VIEWER_QUERY)).status).toBe(401);
  });
});
