import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aab, apk, appx, ipa, war, webZip, zip } from './fixtures.js';
import { Client, multipartUpload, noUserErrors, startServer, testSql, type TestServer } from './kit.js';

let t: TestServer;
let appId: string;
let otherAppId: string;

beforeAll(async () => {
  t = await startServer();
  const data = await t.admin.request(`mutation {
    a: createApp(input: { name: "Banking" }) { app { id } }
    b: createApp(input: { name: "Insurance" }) { app { id } }
  }`);
  appId = data.a.app.id;
  otherAppId = data.b.app.id;
});
afterAll(() => t.stop());

const upload = async (platform: string, file: { name: string; content: Buffer }, extra: Record<string, unknown> = {}, client: Client = t.admin) => {
  const response = await multipartUpload(client, { appId, platform, ...extra }, file);
  expect(response.status).toBe(200);
  expect(response.body.errors).toBeUndefined();
  return (response.body.data as { uploadClientBinary: { binary: Record<string, unknown> | null; userErrors: { code: string; field: string[] }[] } })
    .uploadClientBinary;
};

const sha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');
const filesUnder = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)) : [];
const binaryRows = async () => (await testSql<{ n: number }>(t.dataDir, 'select count(*) as n from client_binaries'))[0]?.n;

describe('multipart upload: validation by content and identity (R14, R15, R19)', () => {
  it('reads bundle id and version from an XML Info.plist', async () => {
    const content = await ipa({ CFBundleShortVersionString: '1.2.3' });
    const payload = await upload('IOS_PHONE', { name: 'Banking.ipa', content }, { description: 'First build' });
    expect(payload.userErrors).toEqual([]);
    expect(payload.binary).toMatchObject({
      platform: 'IOS_PHONE',
      version: '1.2.3',
      bundleId: 'com.example.banking',
      fileName: 'Banking.ipa',
      sizeBytes: content.length,
      sha256: sha256(content),
      description: 'First build',
      uploadedBy: { email: 'admin@shipyard.local' },
      app: { name: 'Banking' },
    });
  });

  it('reads a binary plist', async () => {
    const payload = await upload('IOS_TABLET', { name: 'Banking.ipa', content: await ipa({ CFBundleShortVersionString: '2.0', CFBundleIdentifier: 'com.example.tablet' }, { binary: true }) });
    expect(payload.binary).toMatchObject({ platform: 'IOS_TABLET', version: '2.0', bundleId: 'com.example.tablet' });
  });

  it('reads package and versionName from a binary-XML AndroidManifest', async () => {
    const payload = await upload('ANDROID_PHONE', { name: 'banking.apk', content: await apk({ package: 'com.example.droid', versionName: '3.1' }) });
    expect(payload.binary).toMatchObject({ platform: 'ANDROID_PHONE', version: '3.1', bundleId: 'com.example.droid' });
  });

  it('accepts an .aab, whose version must be given', async () => {
    const content = await aab();
    expect((await upload('ANDROID_TABLET', { name: 'banking.aab', content })).userErrors).toEqual([
      expect.objectContaining({ code: 'INVALID_VERSION', field: ['input', 'version'] }),
    ]);
    expect((await upload('ANDROID_TABLET', { name: 'banking.aab', content }, { version: '3.1' })).binary).toMatchObject({ version: '3.1', bundleId: null });
  });

  it('reads the AppX Identity, dropping a fourth part that is zero', async () => {
    const payload = await upload('WINDOWS', { name: 'Banking.appx', content: await appx({ name: 'Example.Banking', version: '4.5.6.0' }) });
    expect(payload.binary).toMatchObject({ platform: 'WINDOWS', version: '4.5.6', bundleId: 'Example.Banking' });
  });

  it('accepts a .war and a .zip for the web, with a given version', async () => {
    expect((await upload('WEB', { name: 'banking.war', content: await war() }, { version: '1.0' })).userErrors).toEqual([]);
    expect((await upload('WEB', { name: 'banking.zip', content: await webZip() }, { version: '1.1' })).userErrors).toEqual([]);
  });

  it('refuses what is not a ZIP, or lacks the entry its platform needs, as INVALID_BINARY', async () => {
    const cases: [string, string, Buffer][] = [
      ['IOS_PHONE', 'text.ipa', Buffer.from('just some text')],
      ['IOS_PHONE', 'empty.ipa', Buffer.alloc(0)],
      ['IOS_PHONE', 'noplist.ipa', await zip({ 'Payload/Banking.app/Banking': 'binary' })],
      ['ANDROID_PHONE', 'truncated.apk', (await apk()).subarray(0, 100)],
      ['WINDOWS', 'nothing.appx', await zip({ 'readme.txt': 'hello' })],
      ['WEB', 'nothing.zip', await zip({ 'readme.txt': 'hello' })],
    ];
    for (const [platform, name, content] of cases) {
      const payload = await upload(platform, { name, content }, { version: '9.9' });
      expect(payload.userErrors.map((e) => e.code), name).toEqual(['INVALID_BINARY']);
    }
  });

  it("refuses another platform's kind as PLATFORM_MISMATCH, whatever the file is called", async () => {
    const cases: [string, string, Buffer][] = [
      ['IOS_PHONE', 'disguised.ipa', await apk()],
      ['ANDROID_PHONE', 'disguised.apk', await ipa()],
      ['WEB', 'disguised.zip', await appx()],
      ['WINDOWS', 'disguised.appx', await war()],
    ];
    for (const [platform, name, content] of cases) {
      const payload = await upload(platform, { name, content }, { version: '9.9' });
      expect(payload.userErrors.map((e) => e.code), name).toEqual(['PLATFORM_MISMATCH']);
    }
  });

  it('refuses a file name of the wrong kind or a path-like one', async () => {
    const content = await ipa({ CFBundleShortVersionString: '7.0' });
    expect((await upload('IOS_PHONE', { name: 'Banking.zip', content })).userErrors.map((e) => e.code)).toEqual(['INVALID_BINARY']);
    // Whatever path a client puts in a multipart file name, none reaches the stored name.
    const pathLike = await upload('IOS_PHONE', { name: '../../etc/Banking.ipa', content });
    expect(pathLike.binary?.fileName ?? '').not.toContain('/');
  });

  it('leaves no row and no file behind for a refused upload', async () => {
    const rows = await binaryRows();
    await upload('IOS_PHONE', { name: 'x.ipa', content: await apk() });
    expect(await binaryRows()).toBe(rows);
    expect(filesUnder(join(t.dataDir, 'tmp'))).toEqual([]);
  });
});

describe('versions (R15, R16)', () => {
  it('refuses a given version that differs from the binary and malformed versions', async () => {
    const content = await ipa({ CFBundleShortVersionString: '5.0' });
    expect((await upload('IOS_PHONE', { name: 'a.ipa', content }, { version: '5.1' })).userErrors.map((e) => e.code)).toEqual(['INVALID_VERSION']);
    for (const version of ['01.0', '1.2.3.4', 'v1', '1..2', '', '1.-1', '1.0 ']) {
      expect((await upload('WEB', { name: 'w.war', content: await war() }, { version })).userErrors.map((e) => e.code), version).toEqual(['INVALID_VERSION']);
    }
    expect((await upload('IOS_PHONE', { name: 'a.ipa', content }, { version: '5.0.0' })).userErrors).toEqual([]);
  });

  it('refuses a version that equals an existing one numerically as DUPLICATE_VERSION', async () => {
    const payload = await upload('IOS_PHONE', { name: 'b.ipa', content: await ipa({ CFBundleShortVersionString: '5' }) });
    expect(payload.userErrors).toEqual([expect.objectContaining({ code: 'DUPLICATE_VERSION', field: ['input', 'version'] })]);
  });

  it('allows the same version on another platform and in another app', async () => {
    const content = await ipa({ CFBundleShortVersionString: '5.0' });
    expect((await upload('IOS_TABLET', { name: 'a.ipa', content })).userErrors).toEqual([]);
    const other = await multipartUpload(t.admin, { appId: otherAppId, platform: 'IOS_PHONE' }, { name: 'a.ipa', content });
    expect((other.body.data as { uploadClientBinary: { userErrors: unknown[] } }).uploadClientBinary.userErrors).toEqual([]);
  });

  it('lists binaries by platform, newest version first, compared numerically', async () => {
    for (const version of ['1.9', '1.10', '10.0', '2']) {
      noUserErrors(await upload('ANDROID_TABLET', { name: 'n.apk', content: await apk({ versionName: version }) }));
    }
    const data = await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on App {
      android: clientBinaries(platform: ANDROID_TABLET) { totalCount nodes { version } }
      all: clientBinaries(first: 100) { nodes { platform version } }
    } } }`, { id: appId });
    expect(data.node.android.nodes.map((b: { version: string }) => b.version)).toEqual(['10.0', '3.1', '2', '1.10', '1.9']);
    const platforms = data.node.all.nodes.map((b: { platform: string }) => b.platform);
    expect(platforms).toEqual([...platforms].sort());
  });

  it('keeps at most 10 web binaries per app (LIMIT_EXCEEDED)', async () => {
    const { node } = await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on App { clientBinaries(platform: WEB) { totalCount } } } }`, { id: appId });
    for (let i = node.clientBinaries.totalCount; i < 10; i += 1) {
      noUserErrors(await upload('WEB', { name: 'w.war', content: await war() }, { version: `2.${i}` }));
    }
    const eleventh = await upload('WEB', { name: 'w.war', content: await war() }, { version: '3.0' });
    expect(eleventh.userErrors.map((e) => e.code)).toEqual(['LIMIT_EXCEEDED']);
  });
});

describe('storage (R17) and download (R20)', () => {
  it('stores identical content once and streams it back byte for byte, with length and name', async () => {
    const content = await ipa({ CFBundleShortVersionString: '8.0' });
    const first = noUserErrors(await upload('IOS_PHONE', { name: 'Same Name.ipa', content }));
    const before = filesUnder(join(t.dataDir, 'blobs')).length;
    noUserErrors(await multipartUpload(t.admin, { appId: otherAppId, platform: 'IOS_PHONE', version: '8.0' }, { name: 'copy.ipa', content }).then((r) => (r.body.data as { uploadClientBinary: { userErrors: unknown[] } }).uploadClientBinary));
    expect(filesUnder(join(t.dataDir, 'blobs')).length).toBe(before);
    expect(filesUnder(join(t.dataDir, 'blobs')).some((path) => path.endsWith(sha256(content)))).toBe(true);

    const response = await fetch(first.binary?.downloadUrl as string, { headers: { authorization: `Bearer ${t.admin.token}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe(String(content.length));
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename*=UTF-8''Same%20Name.ipa`);
    expect(Buffer.from(await response.arrayBuffer()).equals(content)).toBe(true);
  });

  it('serves downloads to any token of the account and to nobody else', async () => {
    const content = await ipa({ CFBundleShortVersionString: '8.1' });
    const { binary } = noUserErrors(await upload('IOS_PHONE', { name: 'a.ipa', content }));
    const url = binary?.downloadUrl as string;
    const viewer = await t.as('VIEWER');
    expect((await fetch(url, { headers: { authorization: `Bearer ${viewer.token}` } })).status).toBe(200);
    expect((await fetch(url)).status).toBe(401);
    const stranger = await t.otherAccount();
    expect((await fetch(url, { headers: { authorization: `Bearer ${stranger.token}` } })).status).toBe(404);
  });

  it('updates the description and deletes the binary and, when unshared, its file', async () => {
    const content = await ipa({ CFBundleShortVersionString: '9.0', CFBundleName: 'Unique' });
    const { binary } = noUserErrors(await upload('IOS_PHONE', { name: 'a.ipa', content }));
    const updated = await t.admin.request(`mutation ($id: ID!) { updateClientBinary(input: { id: $id, description: "Release notes" }) { binary { description } userErrors { code } } }`, { id: binary?.id });
    expect(updated.updateClientBinary).toEqual({ binary: { description: 'Release notes' }, userErrors: [] });
    const deleted = await t.admin.request(`mutation ($id: ID!) { deleteClientBinary(input: { id: $id }) { deletedId userErrors { code } } }`, { id: binary?.id });
    expect(deleted.deleteClientBinary).toEqual({ deletedId: binary?.id, userErrors: [] });
    expect(filesUnder(join(t.dataDir, 'blobs')).some((path) => path.endsWith(sha256(content)))).toBe(false);
    expect((await fetch(binary?.downloadUrl as string, { headers: { authorization: `Bearer ${t.admin.token}` } })).status).toBe(404);
  });
});

describe('roles and CSRF', () => {
  it('lets a MEMBER upload, edit and delete, and refuses a VIEWER', async () => {
    const member = await t.as('MEMBER');
    const { binary } = noUserErrors(await upload('IOS_PHONE', { name: 'm.ipa', content: await ipa({ CFBundleShortVersionString: '11.0' }) }, {}, member));
    const viewer = await t.as('VIEWER');
    const refused = await upload('IOS_PHONE', { name: 'v.ipa', content: await ipa({ CFBundleShortVersionString: '12.0' }) }, {}, viewer);
    expect(refused).toEqual({ binary: null, userErrors: [expect.objectContaining({ code: 'FORBIDDEN' })] });
    for (const mutation of [
      `mutation ($id: ID!) { updateClientBinary(input: { id: $id, description: "x" }) { userErrors { code } } }`,
      `mutation ($id: ID!) { deleteClientBinary(input: { id: $id }) { userErrors { code } } }`,
    ]) {
      const data = await viewer.request(mutation, { id: binary?.id });
      expect(Object.values(data)[0]).toEqual({ userErrors: [{ code: 'FORBIDDEN' }] });
    }
    const removed = await member.request(`mutation ($id: ID!) { deleteClientBinary(input: { id: $id }) { userErrors { code } } }`, { id: binary?.id });
    expect(removed.deleteClientBinary.userErrors).toEqual([]);
  });

  it('refuses a multipart request without the CSRF header', async () => {
    const rows = await binaryRows();
    const response = await multipartUpload(t.admin, { appId, platform: 'IOS_PHONE' }, { name: 'a.ipa', content: await ipa({ CFBundleShortVersionString: '13.0' }) }, { csrf: false });
    expect(response.status).toBe(403);
    expect(await binaryRows()).toBe(rows);
  });

  it('refuses a multipart request over MAX_MULTIPART_BYTES with 413 before reading it', async () => {
    const small = await startServer({ maxMultipartBytes: 64 * 1024 });
    try {
      const { apps } = await small.admin.request('mutation { createApp(input: { name: "Small" }) { app { id } } }').then(() => small.admin.request('{ apps { nodes { id } } }'));
      const content = await zip({ 'index.html': randomBytes(200 * 1024) });
      const response = await multipartUpload(small.admin, { appId: apps.nodes[0].id, platform: 'WEB', version: '1.0' }, { name: 'big.zip', content });
      expect(response.status).toBe(413);
      expect(filesUnder(join(small.dataDir, 'blobs'))).toEqual([]);
    } finally {
      await small.stop();
    }
  });
});
