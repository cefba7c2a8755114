import type { Runtime } from '../src/runtime/runtime.js';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './kit.js';
import { wsClient } from './live.js';

const logLines: Record<string, unknown>[] = [];
const logger = pino(
  { level: 'error' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  }),
);

let t: TestServer;
beforeAll(async () => {
  // A probe that throws stands in for a bug deep inside a resolver.
  const bug = () => Promise.reject(new Error('SQLITE_CORRUPT: database disk image is malformed at /var/lib/secret.db'));
  const broken: Runtime = { location: 'broken', info: bug, management: bug, services: bug, notifications: bug, hasBlob: bug, putBlob: bug, run: bug };
  t = await startServer({}, { logger, remoteRuntime: () => broken });
});
afterAll(() => t.stop());

const nest = (levels: number) => {
  let inner = 'name';
  for (let i = 0; i < levels; i += 1) inner = i % 2 === 0 ? `environment { ${inner} }` : `latestNativeJob { ${inner} }`;
  return inner;
};

describe('operation limits (R44)', () => {
  it('refuses depth past 12, aliases past 30 and tokens past 5,000 with a code, before execution', async () => {
    const deep = `{ apps { nodes { environmentStatuses { ${nest(9)} } } } }`;
    const aliases = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: serverInfo { consoleVersion }`).join(' ')} }`;
    const tokens = `{ viewer { user { ${Array(5001).fill('id').join(' ')} } } }`;
    for (const [query, message] of [
      [deep, /depth limit of 12/],
      [aliases, /Aliases limit of 30/],
      [tokens, /Token limit of 5000/],
    ] as const) {
      const response = await t.admin.raw(query);
      expect(response.data ?? null).toBeNull();
      expect(response.errors?.[0]).toMatchObject({ message: expect.stringMatching(message), extensions: { code: expect.stringMatching(/OPERATION_LIMIT_EXCEEDED|GRAPHQL_PARSE_FAILED/) } });
    }
    const withinLimits = `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: serverInfo { consoleVersion }`).join(' ')} }`;
    expect((await t.admin.raw(withinLimits)).errors).toBeUndefined();
  });

  it('applies the same limits over graphql-ws', async () => {
    const client = wsClient(t.url, t.admin.token);
    try {
      const aliases = `subscription { ${Array.from({ length: 31 }, (_, i) => `a${i}: environmentStatusChanged { status }`).join(' ')} }`;
      const iterator = client.iterate({ query: aliases });
      await expect(iterator.next()).rejects.toEqual([expect.objectContaining({ message: expect.stringMatching(/Aliases limit of 30/), extensions: { code: 'OPERATION_LIMIT_EXCEEDED' } })]);
    } finally {
      await client.dispose();
    }
  });

  it('refuses a JSON body over 1 MiB with 413 and a multipart body over the limit before reading it', async () => {
    const big = JSON.stringify({ query: '{ serverInfo { consoleVersion } }', variables: { padding: 'x'.repeat(1024 * 1024) } });
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.admin.token}` },
      body: big,
    });
    expect(response.status).toBe(413);
  });

  it('caps pages at 100', async () => {
    for (const query of ['{ apps(first: 101) { totalCount } }', '{ environments(last: 500) { totalCount } }', '{ publishJobs(first: -1) { totalCount } }']) {
      const response = await t.admin.raw(query);
      expect(response.errors?.map((e) => e.extensions?.code), query).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('shows field suggestions to signed-in callers only; the others get 401 before parsing', async () => {
    const signedIn = await t.admin.raw('{ viewr { user { id } } }');
    expect(signedIn.errors?.[0]?.message).toMatch(/Did you mean "viewer"/);
    const anonymous = await t.client(null).raw('{ viewr { user { id } } }');
    expect(anonymous.status).toBe(401);
    expect(JSON.stringify(anonymous)).not.toMatch(/viewer/);
  });
});

describe('masked errors (R43)', () => {
  it('answers an unexpected error with a generic message and a request id that the log has with the stack', async () => {
    const { environments } = await t.admin.request('mutation { createEnvironment(input: { name: "remote", url: "http://127.0.0.1:9" }) { environment { id } } }').then(() =>
      t.admin.request('{ environments { nodes { id } } }'),
    );
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.admin.token}` },
      body: JSON.stringify({ query: `mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { environment { id } } }`, variables: { id: environments.nodes[0].id } }),
    });
    const body = (await response.json()) as { errors: { message: string; extensions: { code: string; requestId: string } }[] };
    const requestId = response.headers.get('x-request-id');
    expect(body.errors[0]?.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', requestId });
    expect(body.errors[0]?.message).toBe(`Unexpected error. Quote request id ${requestId} to support.`);
    expect(JSON.stringify(body)).not.toMatch(/SQLITE|secret\.db|at \S+\.ts/);
    const logged = logLines.find((line) => line.requestId === requestId);
    expect(logged).toMatchObject({ msg: 'unexpected error', err: { message: expect.stringMatching(/SQLITE_CORRUPT/), stack: expect.stringMatching(/Error: SQLITE_CORRUPT/) } });
  });
});
