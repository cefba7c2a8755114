import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer, databaseReading } from './kit.js';
import { baselineInput, createEveryNode, leaves, mutationFields, sendMutation, setPath, type EveryNode } from './schema-walk.js';

let t: TestServer;
let world: EveryNode;


/** Values a careless or hostile client sends, by the kind of field; each must be refused. */
function badValues(kind: string, world: EveryNode): unknown[] {
  const b64 = (value: string) => Buffer.from(value).toString('base64');
  switch (kind) {
    case 'ID':
      return ['', 'garbage', '%00', b64('App:0'), b64('App:-1'), b64('App:99999999'), b64('../../etc/passwd:1'), 'A'.repeat(5000), world.Account];
    case 'String':
      return ['x'.repeat(10_000), 'nul\u0000byte', 'bell\u0007'];
    case 'Int':
    case 'SafeInt':
      return [-1, 0, 2 ** 60, 'ten'];
    case 'Boolean':
      return ['yes', 2];
    default:
      // Enums and File: anything that is not one of their values.
      return ['NOT_A_VALUE', 42];
  }
}

const internals = /SQLITE|sqlite|drizzle|at \S+\.(ts|js):\d+|\/work\/|node_modules|Unexpected error/;

beforeAll(async () => {
  t = await startServer();
  world = await createEveryNode(t.admin);
});
afterAll(() => t.stop());

describe('bad-input corpus over every mutation of the printed schema (R43)', () => {
  it('answers each bad input with a userError or a GraphQL error, leaks nothing and changes nothing', async () => {
    const before = await databaseReading(t.dataDir);
    const counts: Record<string, number> = {};
    for (const field of mutationFields()) {
      const inputArg = field.args.find((arg) => arg.name === 'input');
      if (!inputArg) continue;
      const baseline = baselineInput(field.name, inputArg.type, world) as Record<string, unknown>;
      const cases: unknown[] = [null, {}, 'not an object'];
      for (const leaf of leaves(inputArg.type)) {
        for (const bad of badValues(leaf.kind, world)) cases.push(setPath(baseline, leaf.path, leaf.list ? [bad] : bad));
      }
      for (const input of cases) {
        const response = await sendMutation(t.admin, field, input);
        const label = `${field.name} ${JSON.stringify(input)?.slice(0, 120)}`;
        expect(response.status, label).toBeLessThan(500);
        expect(JSON.stringify(response.errors ?? []), label).not.toMatch(internals);
        const payload = response.data?.[field.name] as { userErrors: unknown[] } | null | undefined;
        if (!response.errors) expect(payload?.userErrors.length, label).toBeGreaterThan(0);
      }
      counts[field.name] = cases.length;
    }
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    console.info(`bad-input corpus: ${Object.keys(counts).length} mutations, ${total} cases`);
    expect(Object.keys(counts).length).toBe(mutationFields().length);
    expect(await databaseReading(t.dataDir)).toBe(before);
  });
});
