import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, testSql, testTables, type Client, type TestServer } from './kit.js';
import { wsClient } from './live.js';
import { PUBLISH_NATIVE } from './publish-kit.js';
import { baselineInput, createEveryNode, mutationFields, nodeTypes, queryFields, sendMutation, subscriptionFields, type EveryNode } from './schema-walk.js';

let t: TestServer;
let a: EveryNode;
let b: EveryNode;
let clientB: Client;

/** Account A's rows, every table, to show that nothing B did touched them. */
async function accountRows(dataDir: string, accountId: number): Promise<string> {
  const rows: [string, string[]][] = [];
  for (const name of await testTables(dataDir, 'account_id')) {
    const ofAccount = await testSql(dataDir, `select * from "${name}" where account_id = ?`, [accountId]);
    // In a stable order: neither dialect promises one without `order by`.
    rows.push([name, ofAccount.map(({ last_used_at: _ignored, ...rest }) => JSON.stringify(rest)).sort()]);
  }
  return JSON.stringify(rows);
}

const accountIdOf = (globalId: string) => Number(Buffer.from(globalId, 'base64').toString().split(':')[1]);

beforeAll(async () => {
  t = await startServer();
  a = await createEveryNode(t.admin);
  clientB = await t.otherAccount('Tenant B');
  b = await createEveryNode(clientB);
});
afterAll(() => t.stop());

describe("tenant isolation: account B using account A's ids (R6)", () => {
  it('has an object of every node type in both accounts', () => {
    expect(Object.keys(a).sort()).toEqual(nodeTypes());
    expect(Object.keys(b).sort()).toEqual(nodeTypes());
  });

  it('gets null from node and nodes for every node type', async () => {
    let cases = 0;
    for (const type of nodeTypes()) {
      const data = await clientB.request(`query ($id: ID!) { node(id: $id) { id } }`, { id: a[type] });
      expect(data.node, type).toBeNull();
      expect((await clientB.request(`query ($id: ID!) { node(id: $id) { id } }`, { id: b[type] })).node, type).toEqual({ id: b[type] });
      cases += 1;
    }
    const all = await clientB.request(`query ($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: Object.values(a) });
    expect(all.nodes.every((node: unknown) => node === null)).toBe(true);
    expect(cases).toBe(nodeTypes().length);
  });

  it("sees none of A's objects through any root query field", async () => {
    const covered: string[] = [];
    const seen = new Set<string>();
    for (const field of queryFields()) {
      if (field.name === 'node' || field.name === 'nodes') continue;
      const idArgs = field.args.filter((arg) => String(arg.type).replace(/[!\]]/g, '').replace('[', '') === 'ID');
      const args = idArgs.map((arg) => `${arg.name}: ${JSON.stringify(a[arg.name === 'appId' ? 'App' : 'Environment'])}`).join(', ');
      const selection = field.name === 'viewer' ? '{ user { id } account { id } apiTokens { id } }' : field.name === 'serverInfo' ? '{ consoleVersion }' : '{ totalCount nodes { id } }';
      const data = await clientB.request(`{ ${field.name}${args ? `(${args})` : ''} ${selection} }`);
      JSON.stringify(data, (_key, value: unknown) => {
        if (typeof value === 'string') seen.add(value);
        return value;
      });
      if (idArgs.length > 0) expect(data[field.name].totalCount, field.name).toBe(0);
      covered.push(field.name);
    }
    for (const id of Object.values(a)) expect(seen.has(id)).toBe(false);
    expect(covered.sort()).toEqual(queryFields().map((f) => f.name).filter((name) => name !== 'node' && name !== 'nodes').sort());
  });

  it("answers NOT_FOUND to every mutation that names A's objects, and A's rows are unchanged", async () => {
    const before = await accountRows(t.dataDir, accountIdOf(a.Account ?? ''));
    let cases = 0;
    for (const field of mutationFields()) {
      const inputArg = field.args.find((arg) => arg.name === 'input');
      if (!inputArg) continue;
      const input = baselineInput(field.name, inputArg.type, a);
      const hasIds = JSON.stringify(input).includes('"') && Object.values(a).some((id) => JSON.stringify(input).includes(id));
      if (!hasIds) continue;
      const response = await sendMutation(clientB, field, input);
      expect(response.status, field.name).toBe(200);
      const payload = response.data?.[field.name] as { userErrors: { code: string }[] } | undefined;
      expect(payload?.userErrors.map((e) => e.code), field.name).toContain('NOT_FOUND');
      cases += 1;
    }
    expect(cases).toBeGreaterThanOrEqual(15);
    expect(await accountRows(t.dataDir, accountIdOf(a.Account ?? ''))).toBe(before);
  });

  it("gets an error or nothing from every subscription given A's ids, never A's data", async () => {
    const client = wsClient(t.url, clientB.token);
    try {
      for (const field of subscriptionFields()) {
        const args = field.args.map((arg) => {
          const type = arg.name.replace(/Ids?$/, '') === 'job' ? 'PublishJob' : arg.name.startsWith('app') ? 'App' : 'Environment';
          return [arg.name, String(arg.type).startsWith('[') ? [a[type]] : a[type]] as const;
        });
        const variables = Object.fromEntries(args);
        const signature = field.args.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(', ');
        const call = field.args.map((arg) => `${arg.name}: $${arg.name}`).join(', ');
        const query = `subscription (${signature}) { ${field.name}(${call}) { __typename } }`;
        const events: unknown[] = [];
        const iterator = client.iterate({ query, variables });
        const reading = (async () => {
          try {
            for await (const result of iterator) if (result.data) events.push(result.data);
          } catch {
            // Refused with an error: allowed, as long as no data came.
          }
        })();
        await new Promise((resolve) => setTimeout(resolve, 50));
        // Something happens in A meanwhile: a job runs in A's environment, which goes BUSY and back.
        await t.admin.request(PUBLISH_NATIVE, {
          input: { appId: a.App, environmentId: a.Environment, option: 'APP_STORE', workflowState: 'DRAFT', removePlatforms: ['WINDOWS'], sync: true },
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
        await iterator.return?.();
        await reading;
        const outcome = { events };
        expect('events' in outcome ? outcome.events : [], field.name).toEqual([]);
      }
    } finally {
      await client.dispose();
    }
  });
});
