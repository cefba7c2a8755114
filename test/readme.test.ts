import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './kit.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const operations = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ seed: 'demo' });
});
afterAll(() => t.stop());

describe('README example operations', () => {
  it('has examples to run', () => {
    expect(operations.length).toBeGreaterThanOrEqual(5);
  });

  it.each(operations.map((operation) => [/^(?:query|mutation) (\w+)/m.exec(operation)?.[1] ?? operation.slice(0, 40), operation]))(
    '%s runs as written against the demo data',
    async (name, operation) => {
      const response = await t.admin.raw(operation);
      expect(response.status).toBe(200);
      expect(response.errors).toBeUndefined();
      const payloads = Object.values(response.data ?? {}).filter(
        (value): value is { userErrors: unknown[] } => typeof value === 'object' && value !== null && 'userErrors' in value,
      );
      for (const payload of payloads) {
        if (name.startsWith('Bad')) expect(payload.userErrors.length).toBeGreaterThan(0);
        else expect(payload.userErrors).toEqual([]);
      }
    },
  );

  it('directory example shows the demo users starting with B', async () => {
    const operation = operations.find((o) => o.includes('DirectoryStartingWithB')) ?? '';
    const data = await t.admin.request(operation);
    const managed = data.environments.nodes.find((e: { directoryUsers: { totalCount: number } }) => e.directoryUsers.totalCount > 0);
    expect(managed.directoryUsers.nodes.map((u: { username: string }) => u.username)).toEqual(['bob']);
  });

  it('the curl example authenticates as shown', async () => {
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ viewer { user { name role } } }' }),
    });
    expect(await response.json()).toEqual({ data: { viewer: { user: { name: 'Administrator', role: 'ADMIN' } } } });
  });
});
