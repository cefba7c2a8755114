import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipa, manyEntryZip, zip } from './fixtures.js';
import { multipartUpload, startServer, type TestServer } from './kit.js';

let t: TestServer;
let appId: string;
beforeAll(async () => {
  t = await startServer();
  appId = (await t.admin.request('mutation { createApp(input: { name: "Abused" }) { app { id } } }')).createApp.app.id;
});
afterAll(() => t.stop());

const upload = async (name: string, content: Buffer, platform = 'IOS_PHONE') => {
  const response = await multipartUpload(t.admin, { appId, platform, version: '1.0' }, { name, content });
  expect(response.status).toBe(200);
  return (response.body.data as { uploadClientBinary: { binary: unknown; userErrors: { code: string; message: string }[] } }).uploadClientBinary;
};

/** Rewrites the sizes a ZIP declares for one entry, in its local header and central directory. */
function claimSize(archive: Buffer, entryName: string, uncompressedSize: number): Buffer {
  const copy = Buffer.from(archive);
  const name = Buffer.from(entryName);
  for (let at = copy.indexOf(name); at >= 0; at = copy.indexOf(name, at + 1)) {
    if (at >= 46 && copy.readUInt32LE(at - 46) === 0x02014b50) copy.writeUInt32LE(uncompressedSize, at - 46 + 24);
    if (at >= 30 && copy.readUInt32LE(at - 30) === 0x04034b50) copy.writeUInt32LE(uncompressedSize, at - 30 + 22);
  }
  return copy;
}

describe('upload abuse is refused cleanly (R43)', () => {
  it('refuses a ZIP of 100,000 entries without reading them', async () => {
    const payload = await upload('big.ipa', manyEntryZip(100_000));
    expect(payload.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_BINARY', message: expect.stringMatching(/100000 entries; at most 50000/) })]);
  });

  it('refuses a manifest entry that claims to be 10 GiB', async () => {
    const honest = await ipa();
    const payload = await upload('bomb.ipa', claimSize(honest, 'Payload/Banking.app/Info.plist', 0xffffffff));
    expect(payload.userErrors.map((e) => e.code)).toEqual(['INVALID_BINARY']);
  });

  it('does not look inside nested archives', async () => {
    const inner = await ipa();
    const payload = await upload('nested.ipa', await zip({ 'inner.ipa': inner, 'Payload/readme.txt': 'no app here' }));
    expect(payload.userErrors.map((e) => e.code)).toEqual(['INVALID_BINARY']);
  });

  it('refuses entries with path traversal or absolute names as an unreadable archive or ignores them', async () => {
    // yazl will not write such a name, so it is put in afterwards, byte for byte.
    const archive = await zip({ 'xx/xx/evil.sh': 'rm -rf /', 'Payload/Banking.app/Banking': 'x' });
    const evil = Buffer.from(archive.toString('latin1').replaceAll('xx/xx/evil.sh', '../../evil.sh'), 'latin1');
    const payload = await upload('evil.ipa', evil);
    expect(payload.userErrors.map((e) => e.code)).toEqual(['INVALID_BINARY']);
  });

  it('refuses path-like names and sizes of 0 or below for streamed uploads', async () => {
    for (const [fileName, sizeBytes, code] of [
      ['../evil.ipa', 10, 'INVALID_INPUT'],
      ['/etc/passwd.ipa', 10, 'INVALID_INPUT'],
      ['ok.ipa', 0, 'INVALID_INPUT'],
      ['ok.ipa', -1, 'INVALID_INPUT'],
    ] as const) {
      const payload = await t.admin.request(
        `mutation ($input: CreateBinaryUploadInput!) { createBinaryUpload(input: $input) { upload { id } userErrors { code } } }`,
        { input: { appId, platform: 'IOS_PHONE', fileName, sizeBytes } },
      );
      expect(payload.createBinaryUpload, fileName).toEqual({ upload: null, userErrors: [{ code }] });
    }
  });
});

describe('odd manifests', () => {
  it('accepts an .aab whose manifest is too short to be binary XML, with the version given', async () => {
    const archive = await zip({ 'base/manifest/AndroidManifest.xml': Buffer.from([0x0a]), 'base/dex/classes.dex': 'dex' });
    const response = await multipartUpload(t.admin, { appId, platform: 'ANDROID_PHONE', version: '3.0' }, { name: 'short.aab', content: archive });
    expect((response.body.data as { uploadClientBinary: { userErrors: unknown[] } }).uploadClientBinary.userErrors).toEqual([]);
  });
});
