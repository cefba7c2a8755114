import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './kit.js';

/** A GET with exactly these headers (fetch would add its own and refuses to forge Host). */
function get(url: string, path: string, headers: OutgoingHttpHeaders, host?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const target = new URL(path, url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { hostname: host ?? target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: 'GET', headers: { host: target.host, ...headers }, setHost: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const browserNavigation = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
const PAGES = ['/graphql', '/dashboard'];

let t: TestServer;
let token: string;
beforeAll(async () => {
  t = await startServer();
  token = t.admin.token ?? '';
});
afterAll(() => t.stop());

describe('GraphiQL and dashboard pages (R2, R63, R65)', () => {
  it.each(PAGES)('%s is pre-filled for a plain loopback same-origin GET (the positive control)', async (path) => {
    expect((await get(t.url, path, { accept: 'text/html' })).body).toContain(token);
    expect((await get(t.url, path, browserNavigation)).body).toContain(token);
    const port = new URL(t.url).port;
    expect((await get(t.url, path, { ...browserNavigation, host: `localhost:${port}` }, '127.0.0.1')).body).toContain(token);
    expect((await get(t.url, path, { ...browserNavigation, 'sec-fetch-site': 'same-origin', origin: t.url })).body).toContain(token);
  });

  const port = () => new URL(t.url).port;
  const refused: [string, () => OutgoingHttpHeaders][] = [
    ['a page on another local port', () => ({ accept: 'text/html', origin: 'http://127.0.0.1:9', 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' })],
    ['a page on another local port, without Fetch Metadata', () => ({ accept: 'text/html', origin: 'http://localhost:9' })],
    ['a file:// page', () => ({ accept: 'text/html', origin: 'null', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' })],
    ['another site navigating here', () => ({ ...browserNavigation, 'sec-fetch-site': 'cross-site' })],
    ['a frame on another local port', () => ({ ...browserNavigation, 'sec-fetch-site': 'same-site', 'sec-fetch-dest': 'iframe' })],
    ['a reverse proxy (X-Forwarded-For)', () => ({ ...browserNavigation, 'x-forwarded-for': '203.0.113.7' })],
    ['a reverse proxy (X-Forwarded-Host)', () => ({ ...browserNavigation, 'x-forwarded-host': 'shipyard.example.com' })],
    ['a reverse proxy (Forwarded)', () => ({ ...browserNavigation, forwarded: 'for=203.0.113.7;proto=https' })],
    ['a reverse proxy (Via)', () => ({ ...browserNavigation, via: '1.1 proxy' })],
    ['a forged Host header', () => ({ ...browserNavigation, host: `attacker.example:${port()}` })],
    ['a rebound DNS name', () => ({ ...browserNavigation, host: 'attacker.example' })],
    ['a loopback Host on another port', () => ({ ...browserNavigation, host: '127.0.0.1:9' })],
  ];
  it.each(PAGES.flatMap((path) => refused.map(([who, headers]) => [path, who, headers] as const)))('%s is not pre-filled for %s', async (path, _who, headers) => {
    const page = await get(t.url, path, headers());
    expect(page.status).toBe(200);
    expect(page.body).not.toContain(token);
    // The positive control in the same window: the same page still carries it for the owner.
    expect((await get(t.url, path, browserNavigation)).body).toContain(token);
  });

  it('is not pre-filled for a peer that is not on loopback', async () => {
    const address = Object.values(networkInterfaces())
      .flat()
      .find((candidate) => candidate && candidate.family === 'IPv4' && !candidate.internal)?.address;
    expect(address, 'this machine has a non-loopback IPv4 address').toBeDefined();
    const open = await startServer({ host: '0.0.0.0' });
    try {
      const openPort = new URL(open.url).port;
      const remote = await get(`http://${address}:${openPort}`, '/graphql', { ...browserNavigation, host: `localhost:${openPort}` });
      expect(remote.body).not.toContain(open.admin.token);
      const local = await get(`http://127.0.0.1:${openPort}`, '/graphql', browserNavigation);
      expect(local.body).toContain(open.admin.token);
    } finally {
      await open.stop();
    }
  });

  it('GRAPHIQL_PREFILL=false pre-fills nothing, even for the owner', async () => {
    const off = await startServer({ graphiqlPrefill: false });
    try {
      for (const path of PAGES) {
        const page = await get(off.url, path, browserNavigation);
        expect(page.status).toBe(200);
        expect(page.body).not.toContain(off.admin.token);
      }
    } finally {
      await off.stop();
    }
  });

  it.each(PAGES)('%s carries a Content-Security-Policy, X-Frame-Options DENY and nosniff, and is never cached', async (path) => {
    const page = await get(t.url, path, browserNavigation);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['cache-control']).toBe('no-store');
  });

  it.each(PAGES)('%s loads only its own files: every script and stylesheet is served here', async (path) => {
    const page = await get(t.url, path, browserNavigation);
    const references = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] ?? '');
    expect(references.length).toBeGreaterThanOrEqual(2);
    expect(page.body).not.toMatch(/<script>|\son\w+=/);
    for (const reference of references) {
      expect(reference).toMatch(/^\/[a-z]/);
      const asset = await get(t.url, reference, {});
      expect(asset.status, reference).toBe(200);
      expect(asset.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it("opens GraphiQL on the README's first example", async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const first = /^```graphql\n([\s\S]*?)^```/m.exec(readme)?.[1] ?? '';
    expect(first).toMatch(/^query Overview/);
    const page = await get(t.url, '/graphql', browserNavigation);
    const options = JSON.parse(/<script type="application\/json" id="graphiql-options">(.*?)<\/script>/s.exec(page.body)?.[1] ?? '{}') as { defaultQuery: string };
    expect(options.defaultQuery.endsWith(first)).toBe(true);
  });

  it('answers GraphQL, not the page, to a GET that does not ask for HTML', async () => {
    const response = await get(t.url, '/graphql?query=%7B__typename%7D', { authorization: `Bearer ${token}`, accept: 'application/json', 'x-graphql-yoga-csrf': '1' });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ data: { __typename: 'Query' } });
  });
});
