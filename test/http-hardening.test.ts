import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipa } from './fixtures.js';
import { multipartUpload, startServer, type TestServer } from './kit.js';

const ALLOWED = 'https://console.example.com';
const STRANGER = 'http://localhost:5555';

let open: TestServer;
let listed: TestServer;
beforeAll(async () => {
  [open, listed] = await Promise.all([
    startServer(),
    startServer({ corsOrigins: [ALLOWED, 'http://127.0.0.1:8080'], publicUrl: 'https://shipyard.example.com' }),
  ]);
});
afterAll(() => Promise.all([open.stop(), listed.stop()]));

/** A raw HTTP request, so that Host and Origin are exactly what an attacker would send. */
function send(url: string, options: { method?: string; path: string; headers?: Record<string, string>; body?: string }) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const target = new URL(url);
    const req = request({ host: target.hostname, port: target.port, method: options.method ?? 'GET', path: options.path, headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.once('error', reject);
    req.end(options.body);
  });
}

const QUERY = JSON.stringify({ query: '{ serverInfo { consoleVersion } }' });
const postGraphQL = (t: TestServer, headers: Record<string, string>) =>
  send(t.url, {
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(QUERY)), authorization: `Bearer ${t.admin.token}`, ...headers },
    body: QUERY,
  });

describe('CORS (R63)', () => {
  it('answers an unlisted origin without any CORS grant, on the GraphiQL page, GraphQL, uploads, downloads and runtime pages', async () => {
    const responses = [
      await send(open.url, { path: '/graphql', headers: { accept: 'text/html', origin: STRANGER } }),
      await postGraphQL(open, { origin: STRANGER }),
      await send(open.url, { method: 'PUT', path: '/uploads/AAAAAAAAAAAAAAAAAAAAAAAA', headers: { origin: STRANGER, authorization: `Bearer ${open.admin.token}`, 'content-length': '0' } }),
      await send(open.url, { path: '/binaries/1/file', headers: { origin: STRANGER, authorization: `Bearer ${open.admin.token}` } }),
      await send(open.url, { path: '/runtime/nowhere/apps/Nothing/', headers: { origin: STRANGER } }),
      await postGraphQL(listed, { origin: STRANGER }),
    ];
    for (const response of responses) {
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
      expect(response.headers['access-control-allow-credentials']).toBeUndefined();
    }
    // The request itself was served (CORS is the browser's business); only the grant is missing.
    expect(responses[1]?.status).toBe(200);
    expect(responses[0]?.body).toContain('<html');
  });

  it('grants a listed origin exactly itself, never credentials', async () => {
    for (const origin of [ALLOWED, 'http://127.0.0.1:8080']) {
      const response = await postGraphQL(listed, { origin });
      expect(response.status).toBe(200);
      expect(response.headers['access-control-allow-origin']).toBe(origin);
      expect(response.headers['access-control-allow-credentials']).toBeUndefined();
      expect(response.headers.vary).toMatch(/Origin/);
    }
    const download = await send(listed.url, { path: '/binaries/1/file', headers: { origin: ALLOWED, authorization: `Bearer ${listed.admin.token}` } });
    expect(download.headers['access-control-allow-origin']).toBe(ALLOWED);
    const runtimePage = await send(listed.url, { path: '/runtime/nowhere/apps/Nothing/', headers: { origin: ALLOWED } });
    expect(runtimePage.headers['access-control-allow-origin']).toBe(ALLOWED);
  });

  it('answers preflights: the allowed methods and headers for a listed origin, nothing for another', async () => {
    const preflight = (t: TestServer, origin: string, path = '/graphql') =>
      send(t.url, {
        method: 'OPTIONS',
        path,
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
    const granted = await preflight(listed, ALLOWED);
    expect(granted.status).toBe(204);
    expect(granted.headers).toMatchObject({
      'access-control-allow-origin': ALLOWED,
      'access-control-allow-methods': expect.stringContaining('POST'),
      'access-control-allow-headers': expect.stringContaining('authorization'),
    });
    expect(granted.headers['access-control-allow-credentials']).toBeUndefined();
    const upload = await preflight(listed, ALLOWED, '/uploads/AAAAAAAAAAAAAAAAAAAAAAAA');
    expect(upload.headers['access-control-allow-methods']).toContain('PUT');

    for (const refused of [await preflight(listed, STRANGER), await preflight(open, STRANGER), await preflight(open, 'null')]) {
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
      expect(refused.headers['access-control-allow-methods']).toBeUndefined();
      expect(refused.headers['access-control-allow-credentials']).toBeUndefined();
    }
  });
});

describe('security headers (R63)', () => {
  it('sends nosniff on every response and refuses framing of HTML pages', async () => {
    const page = await send(open.url, { path: '/graphql', headers: { accept: 'text/html' } });
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    for (const response of [
      await postGraphQL(open, {}),
      await send(open.url, { path: '/health' }),
      await send(open.url, { path: '/ready' }),
      await send(open.url, { path: '/nowhere' }),
      await send(open.url, { path: '/binaries/1/file' }),
    ]) expect(response.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('PUBLIC_URL (R64)', () => {
  const CREATE = `mutation ($input: CreateBinaryUploadInput!) { createBinaryUpload(input: $input) { upload { uploadUrl } userErrors { code } } }`;

  const linksWithHost = async (t: TestServer, host: string) => {
    const created = await t.admin.request('mutation { createApp(input: { name: "Linked" }) { app { id } } }').catch(() => null);
    const appId = created?.createApp.app.id ?? (await t.admin.request('{ apps(first: 1) { nodes { id } } }')).apps.nodes[0].id;
    const uploaded = await multipartUpload(t.admin, { appId, platform: 'IOS_PHONE' }, { name: 'Linked.ipa', content: await ipa({ CFBundleShortVersionString: `1.${Math.floor(Math.random() * 1e6)}` }) });
    expect(uploaded.body.data).toMatchObject({ uploadClientBinary: { userErrors: [] } });
    const body = JSON.stringify({ query: CREATE, variables: { input: { appId, platform: 'IOS_PHONE', fileName: 'Big.ipa', sizeBytes: 10 } } });
    const response = await send(t.url, {
      method: 'POST',
      path: '/graphql',
      headers: { host, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), authorization: `Bearer ${t.admin.token}` },
      body,
    });
    const uploadUrl = (JSON.parse(response.body) as { data: { createBinaryUpload: { upload: { uploadUrl: string } } } }).data.createBinaryUpload.upload.uploadUrl;
    const listBody = JSON.stringify({ query: `{ apps(first: 10) { nodes { clientBinaries(first: 10) { nodes { downloadUrl } } } } }` });
    const listed = await send(t.url, {
      method: 'POST',
      path: '/graphql',
      headers: { host, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(listBody)), authorization: `Bearer ${t.admin.token}` },
      body: listBody,
    });
    const downloadUrls = JSON.stringify(JSON.parse(listed.body)).match(/"downloadUrl":"[^"]+"/g) ?? [];
    return { uploadUrl, downloadUrls };
  };

  it('builds uploadUrl and downloadUrl on PUBLIC_URL whatever Host the request names', async () => {
    const { uploadUrl, downloadUrls } = await linksWithHost(listed, 'evil.example');
    expect(uploadUrl).toMatch(/^https:\/\/shipyard\.example\.com\/uploads\//);
    expect(downloadUrls.length).toBeGreaterThan(0);
    for (const link of downloadUrls) expect(link).toMatch(/"downloadUrl":"https:\/\/shipyard\.example\.com\/binaries\/\d+\/file"/);
  });

  it('defaults to the address the server listens on, not the Host header', async () => {
    const { uploadUrl, downloadUrls } = await linksWithHost(open, 'evil.example:80');
    expect(uploadUrl.startsWith(`${open.url}/uploads/`)).toBe(true);
    expect(downloadUrls.length).toBeGreaterThan(0);
    for (const link of downloadUrls) expect(link).toContain(`"downloadUrl":"${open.url}/binaries/`);
  });
});
