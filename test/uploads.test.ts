import { existsSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apk, ipa } from './fixtures.js';
import { noUserErrors, startServer, testSql, type TestServer } from './kit.js';

let t: TestServer;
let appId: string;

beforeAll(async () => {
  t = await startServer();
  appId = (await t.admin.request('mutation { createApp(input: { name: "Streamed" }) { app { id } } }')).createApp.app.id;
});
afterAll(() => t.stop());

const CREATE = `mutation ($input: CreateBinaryUploadInput!) {
  createBinaryUpload(input: $input) { upload { id uploadUrl expiresAt maxBytes receivedBytes completed } userErrors { code message field } }
}`;
const ADD = `mutation ($input: AddClientBinaryInput!) {
  addClientBinary(input: $input) { binary { id version bundleId sizeBytes sha256 fileName } userErrors { code message field } }
}`;
const UPLOAD_STATE = `query ($id: ID!) { node(id: $id) { ... on BinaryUpload { receivedBytes completed maxBytes } } }`;

const createUpload = async (fileName: string, sizeBytes: number, platform = 'IOS_PHONE') =>
  noUserErrors((await t.admin.request(CREATE, { input: { appId, platform, fileName, sizeBytes } })).createBinaryUpload).upload;

const put = (url: string, body: Buffer, token = t.admin.token) =>
  fetch(url, { method: 'PUT', headers: token ? { authorization: `Bearer ${token}` } : {}, body: new Uint8Array(body) });

const filesUnder = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) : [];

const waitUntil = async (condition: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await condition()); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  return condition();
};

describe('streamed uploads (R18)', () => {
  it('creates a one-time URL, takes the bytes with PUT, and adds the binary', async () => {
    const content = await ipa({ CFBundleShortVersionString: '4.2' });
    const upload = await createUpload('Big.ipa', content.length);
    expect(upload).toMatchObject({ maxBytes: content.length, receivedBytes: 0, completed: false });
    expect(upload.uploadUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/uploads\/[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(upload.expiresAt) - Date.now()).toBeGreaterThan(59 * 60 * 1000);

    const premature = (await t.admin.request(ADD, { input: { uploadId: upload.id } })).addClientBinary;
    expect(premature.userErrors.map((e: { code: string }) => e.code)).toEqual(['UPLOAD_INCOMPLETE']);

    const response = await put(upload.uploadUrl, content);
    expect(response.status).toBe(201);
    const receipt = await response.json();
    expect(receipt).toEqual({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), sizeBytes: content.length });
    expect((await t.admin.request(UPLOAD_STATE, { id: upload.id })).node).toEqual({ receivedBytes: content.length, completed: true, maxBytes: content.length });

    const added = noUserErrors((await t.admin.request(ADD, { input: { uploadId: upload.id, description: 'streamed' } })).addClientBinary);
    expect(added.binary).toMatchObject({ version: '4.2', bundleId: 'com.example.banking', sizeBytes: content.length, sha256: receipt.sha256, fileName: 'Big.ipa' });

    const again = (await t.admin.request(ADD, { input: { uploadId: upload.id } })).addClientBinary;
    expect(again.userErrors.map((e: { code: string }) => e.code)).toEqual(['INVALID_INPUT']);
    expect((await put(upload.uploadUrl, content)).status).toBe(409);
  });

  it("refuses the PUT of a VIEWER holding someone's upload URL with 403, storing nothing", async () => {
    const content = await ipa({ CFBundleShortVersionString: '4.3' });
    const upload = await createUpload('Viewer.ipa', content.length);
    const viewer = await t.as('VIEWER');
    const refused = await put(upload.uploadUrl, content, viewer.token);
    expect(refused.status).toBe(403);
    expect((await t.admin.request(UPLOAD_STATE, { id: upload.id })).node).toMatchObject({ receivedBytes: 0, completed: false });
    // Positive control: a MEMBER's PUT to the same URL is taken.
    const member = await t.as('MEMBER');
    expect((await put(upload.uploadUrl, content, member.token)).status).toBe(201);
  });

  it('validates the uploaded file like a multipart one', async () => {
    const content = await apk();
    const upload = await createUpload('wrong.ipa', content.length);
    expect((await put(upload.uploadUrl, content)).status).toBe(201);
    const added = (await t.admin.request(ADD, { input: { uploadId: upload.id } })).addClientBinary;
    expect(added.userErrors.map((e: { code: string }) => e.code)).toEqual(['PLATFORM_MISMATCH']);
  });

  it('refuses a declared size that is not positive or over MAX_UPLOAD_BYTES, and path-like names', async () => {
    for (const [input, code] of [
      [{ fileName: 'a.ipa', sizeBytes: 0 }, 'INVALID_INPUT'],
      [{ fileName: 'a.ipa', sizeBytes: -5 }, 'INVALID_INPUT'],
      [{ fileName: 'a.ipa', sizeBytes: 5 * 1024 ** 3 }, 'LIMIT_EXCEEDED'],
      [{ fileName: '../a.ipa', sizeBytes: 10 }, 'INVALID_INPUT'],
      [{ fileName: 'C:\\fakepath\\a.ipa', sizeBytes: 10 }, 'INVALID_INPUT'],
      [{ fileName: 'a.txt', sizeBytes: 10 }, 'INVALID_BINARY'],
    ] as const) {
      const payload = (await t.admin.request(CREATE, { input: { appId, platform: 'IOS_PHONE', ...input } })).createBinaryUpload;
      expect(payload.upload, JSON.stringify(input)).toBeNull();
      expect(payload.userErrors.map((e: { code: string }) => e.code), JSON.stringify(input)).toEqual([code]);
    }
  });

  it('answers 413 to a PUT longer than declared, and keeps nothing', async () => {
    const upload = await createUpload('a.ipa', 100);
    expect((await put(upload.uploadUrl, Buffer.alloc(101))).status).toBe(413);
    // Without a Content-Length the excess is noticed while streaming.
    const chunked = await fetch(upload.uploadUrl, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.admin.token}` },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new Uint8Array(60));
          controller.enqueue(new Uint8Array(60));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect((await t.admin.request(UPLOAD_STATE, { id: upload.id })).node.completed).toBe(false);
    expect(await waitUntil(() => filesUnder(join(t.dataDir, 'tmp')).length === 0)).toBe(true);
  });

  it('keeps nothing of a PUT shorter than declared or cut off mid-stream', async () => {
    const short = await createUpload('a.ipa', 1000);
    const shortResponse = await fetch(short.uploadUrl, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.admin.token}` },
      body: new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array(10)), c.close()) }),
      duplex: 'half',
    } as RequestInit);
    expect(shortResponse.status).toBe(400);

    const blobsBefore = filesUnder(join(t.dataDir, 'blobs')).length;
    const upload = await createUpload('a.ipa', 10 * 1024 * 1024);
    await new Promise<void>((resolve) => {
      const url = new URL(upload.uploadUrl);
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'PUT', headers: { authorization: `Bearer ${t.admin.token}`, 'content-length': String(10 * 1024 * 1024) } });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(1024 * 1024), () => {
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 50);
      });
    });
    expect(await waitUntil(() => filesUnder(join(t.dataDir, 'tmp')).length === 0)).toBe(true);
    expect(filesUnder(join(t.dataDir, 'blobs')).length).toBe(blobsBefore);
    expect((await t.admin.request(UPLOAD_STATE, { id: upload.id })).node).toMatchObject({ completed: false });
    const added = (await t.admin.request(ADD, { input: { uploadId: upload.id } })).addClientBinary;
    expect(added.userErrors.map((e: { code: string }) => e.code)).toEqual(['UPLOAD_INCOMPLETE']);
    // The URL can be used again after a cut-off PUT.
    expect(await waitUntil(async () => (await put(upload.uploadUrl, Buffer.alloc(1))).status === 400)).toBe(true);
  });

  it('answers 410 after expiry and UPLOAD_EXPIRED to addClientBinary', async () => {
    const content = await ipa({ CFBundleShortVersionString: '4.3' });
    const upload = await createUpload('late.ipa', content.length);
    await testSql(t.dataDir, 'update binary_uploads set expires_at = ? where file_name = ?', [Date.now() - 1000, 'late.ipa']);
    expect((await put(upload.uploadUrl, content)).status).toBe(410);
    const added = (await t.admin.request(ADD, { input: { uploadId: upload.id } })).addClientBinary;
    expect(added.userErrors.map((e: { code: string }) => e.code)).toEqual(['UPLOAD_EXPIRED']);
  });

  it('needs a token of the same account for the PUT', async () => {
    const content = await ipa({ CFBundleShortVersionString: '4.4' });
    const upload = await createUpload('auth.ipa', content.length);
    expect((await put(upload.uploadUrl, content, null)).status).toBe(401);
    expect((await put(upload.uploadUrl, content, (await t.otherAccount()).token)).status).toBe(404);
    expect((await put(upload.uploadUrl.replace(/uploads\/.*/, 'uploads/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), content)).status).toBe(404);
    expect((await put(upload.uploadUrl, content)).status).toBe(201);
  });
});

/** Streams `size` bytes of 42s to the URL with PUT from another process, so that only the server's memory is measured here. */
const putFromChild = (uploadUrl: string, token: string, size: number) =>
  new Promise<number>((resolve, reject) => {
    const script = `
      const [url, token, size] = process.argv.slice(1);
      const chunk = Buffer.alloc(1024 * 1024, 42);
      const req = require('node:http').request(url, { method: 'PUT', headers: { authorization: 'Bearer ' + token, 'content-length': size } }, (res) => {
        res.resume();
        process.stdout.write(String(res.statusCode));
      });
      let sent = 0;
      const more = () => {
        while (sent < Number(size)) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', more);
        }
        req.end();
      };
      more();`;
    const child = spawn(process.execPath, ['-e', script, uploadUrl, token, String(size)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (data: Buffer) => (out += data.toString()));
    child.once('error', reject);
    child.once('exit', () => resolve(Number(out)));
  });

describe('memory (R18)', () => {
  it('streams a 256 MiB upload with the server\'s buffers and resident memory bounded far below the file', async () => {
    const size = 256 * 1024 * 1024;
    const upload = await createUpload('huge.ipa', size);
    global.gc?.();
    const baseline = process.memoryUsage();
    let peak = { ...baseline };
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peak = { ...peak, heapUsed: Math.max(peak.heapUsed, now.heapUsed), arrayBuffers: Math.max(peak.arrayBuffers, now.arrayBuffers), rss: Math.max(peak.rss, now.rss) };
    }, 5);
    const status = await putFromChild(upload.uploadUrl, t.admin.token as string, size);
    clearInterval(sampler);
    expect(status).toBe(201);
    // Only socket chunks on their way to disk are held: Buffers (outside the heap) and resident
    // memory grow by a small fraction of the file, whatever the heap does.
    expect(peak.arrayBuffers - baseline.arrayBuffers).toBeLessThan(size / 4);
    expect(peak.rss - baseline.rss).toBeLessThan(size / 4);
    expect(peak.heapUsed - baseline.heapUsed).toBeLessThan(size / 16);
    expect((await t.admin.request(UPLOAD_STATE, { id: upload.id })).node).toEqual({ receivedBytes: size, completed: true, maxBytes: size });
  });
});
