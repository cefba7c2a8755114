import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import yazl from 'yazl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build as buildXmlPlist } from 'plist';
import { multipartUpload, noUserErrors, startServer, testSql, UPLOAD_MUTATION, type Client, type TestServer } from './kit.js';

const logLines: Record<string, unknown>[] = [];
const logger = pino(
  { level: 'warn' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  }),
);

const MULTIPART_LIMIT = 32 * 1024 ** 2;
const QUOTA = 1000;

let t: TestServer;
let appId: string;
beforeAll(async () => {
  t = await startServer({ maxMultipartBytes: MULTIPART_LIMIT, uploadQuotaBytes: QUOTA }, { logger });
  appId = (await t.admin.request('mutation { createApp(input: { name: "Bounded" }) { app { id } } }')).createApp.app.id;
});
afterAll(() => t.stop());

const NODES = 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }';

describe('nodes(ids:) (R69)', () => {
  it('refuses more than 100 ids with one BAD_USER_INPUT error before looking any up, and logs nothing', async () => {
    const own = (await t.admin.request('{ viewer { user { id } } }')).viewer.user.id as string;
    const logged = logLines.length;
    for (const count of [101, 33_000]) {
      const response = await t.admin.raw(NODES, { ids: Array.from({ length: count }, () => own) });
      expect(response.data ?? null).toBeNull();
      expect(response.errors).toEqual([expect.objectContaining({ message: `\`nodes\` takes at most 100 ids; ${count} were given`, extensions: { code: 'BAD_USER_INPUT' } })]);
    }
    // Positive control: 100 ids are answered.
    const hundred = await t.admin.raw(NODES, { ids: Array.from({ length: 100 }, () => own) });
    expect(hundred.errors).toBeUndefined();
    expect((hundred.data as { nodes: unknown[] }).nodes).toHaveLength(100);
    expect(logLines.slice(logged)).toEqual([]);
  });

  it('reads malformed ids as nothing, without a logged stack', async () => {
    const logged = logLines.length;
    const ids = ['', '!!!', 'QXBwOg==', 'QXBwOi0x', 'Tm9wZTox', 'eA', '\u0000', 'VXNlcjo5OTk5OTk5OTk5OTk5OTk5OTk5OTk='];
    const response = await t.admin.raw(`query ($ids: [ID!]!, $one: ID!) { nodes(ids: $ids) { id } node(id: $one) { id } }`, { ids, one: '%%%' });
    expect(response.errors).toBeUndefined();
    expect(response.data).toEqual({ nodes: ids.map(() => null), node: null });
    expect(logLines.slice(logged)).toEqual([]);
  });
});

describe('a value where a file belongs (R73)', () => {
  it('answers a string as the file with BAD_USER_INPUT, inline or as a variable', async () => {
    const logged = logLines.length;
    const asVariable = await t.admin.raw(UPLOAD_MUTATION, { input: { appId, platform: 'WEB', file: 'x.zip' } });
    expect(asVariable.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(asVariable.errors?.[0]?.message).toMatch(/File expects a file part of a multipart request/);
    const inline = await t.admin.raw(`mutation { uploadClientBinary(input: { appId: "${appId}", platform: WEB, file: "x.zip" }) { userErrors { code } } }`);
    expect(inline.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    const object = await t.admin.raw(UPLOAD_MUTATION, { input: { appId, platform: 'WEB', file: { name: 'x.zip', size: 3 } } });
    expect(object.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(logLines.slice(logged)).toEqual([]);
  });

  it('answers a multipart field that is not a file with BAD_USER_INPUT', async () => {
    const form = new FormData();
    form.append('operations', JSON.stringify({ query: UPLOAD_MUTATION, variables: { input: { appId, platform: 'WEB', file: null } } }));
    form.append('map', JSON.stringify({ 0: ['variables.input.file'] }));
    form.append('0', 'just some text');
    const response = await fetch(t.admin.graphqlUrl, { method: 'POST', headers: { authorization: `Bearer ${t.admin.token}`, 'x-graphql-yoga-csrf': '1' }, body: form });
    const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });
});

/** A valid .ipa of about `bytes`, padded with a stored (uncompressed) entry of random bytes. */
function paddedIpa(bytes: number, version: string): Promise<Buffer> {
  const archive = new yazl.ZipFile();
  archive.addBuffer(Buffer.from(buildXmlPlist({ CFBundleIdentifier: 'com.example.big', CFBundleShortVersionString: version })), 'Payload/Big.app/Info.plist');
  archive.addBuffer(randomBytes(bytes), 'Payload/Big.app/Assets.car', { compress: false });
  archive.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    archive.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    archive.outputStream.once('end', () => resolve(Buffer.concat(chunks)));
    archive.outputStream.once('error', reject);
  });
}

describe('MAX_MULTIPART_BYTES is the limit that applies (R69)', () => {
  it('accepts a 30 MB multipart upload under a 32 MiB limit and refuses one just over it with 413', async () => {
    const big = await paddedIpa(30_000_000, '30.0');
    const accepted = await multipartUpload(t.admin, { appId, platform: 'IOS_PHONE' }, { name: 'Big.ipa', content: big });
    expect(accepted.status).toBe(200);
    expect(noUserErrors((accepted.body.data as { uploadClientBinary: { userErrors: unknown[]; binary: { sizeBytes: number } } }).uploadClientBinary).binary.sizeBytes).toBe(big.length);

    const over = await paddedIpa(MULTIPART_LIMIT, '31.0');
    const refused = await multipartUpload(t.admin, { appId, platform: 'IOS_PHONE' }, { name: 'Over.ipa', content: over });
    expect(refused.status).toBe(413);
  });
});

describe('completing an upload URL (R71)', () => {
  const CREATE = `mutation ($input: CreateBinaryUploadInput!) { createBinaryUpload(input: $input) { upload { uploadUrl } userErrors { code } } }`;
  const put = (url: string, client: Client, body: Buffer) =>
    fetch(url, { method: 'PUT', headers: { authorization: `Bearer ${client.token}` }, body: new Uint8Array(body) });

  it('takes the bytes only from a role that may upload, of the same account', async () => {
    const body = Buffer.from('0123456789');
    const [viewer, member] = [await t.as('VIEWER'), await t.as('MEMBER')];
    const stranger = await t.otherAccount('Strangers');
    const cases: [string, Client, number][] = [
      ['VIEWER of the account', viewer, 403],
      ['ADMIN of another account', stranger, 404],
      ['MEMBER of the account', member, 201],
      ['ADMIN of the account', t.admin, 201],
    ];
    for (const [who, client, status] of cases) {
      const upload = noUserErrors((await t.admin.request(CREATE, { input: { appId, platform: 'IOS_PHONE', fileName: 'a.ipa', sizeBytes: body.length } })).createBinaryUpload).upload;
      const response = await put(upload.uploadUrl, client, body);
      expect(response.status, who).toBe(status);
      if (status !== 201) {
        // Refused without taking a byte: the upload is still open for the right caller.
        expect((await put(upload.uploadUrl, t.admin, body)).status, who).toBe(201);
      }
    }
  });
});

describe('UPLOAD_QUOTA_BYTES (R69)', () => {
  const CREATE = `mutation ($input: CreateBinaryUploadInput!) { createBinaryUpload(input: $input) { upload { id uploadUrl } userErrors { code message field } } }`;
  const create = (client: Client, app: string, sizeBytes: number) =>
    client.request(CREATE, { input: { appId: app, platform: 'IOS_PHONE', fileName: 'q.ipa', sizeBytes } }).then((r) => r.createBinaryUpload);

  it('bounds the declared bytes of an account\'s outstanding uploads; completed and expired ones no longer count', async () => {
    // Earlier tests completed theirs; start from what is outstanding now.
    const first = noUserErrors(await create(t.admin, appId, 600));
    const refused = await create(t.admin, appId, QUOTA - 600 + 1);
    expect(refused).toEqual({ upload: null, userErrors: [{ code: 'LIMIT_EXCEEDED', message: expect.stringMatching(/600 of 1000 bytes/), field: ['input', 'sizeBytes'] }] });
    noUserErrors(await create(t.admin, appId, QUOTA - 600));

    // Another account has its own quota.
    const stranger = await t.otherAccount('Quota');
    const strangerApp = (await stranger.request('mutation { createApp(input: { name: "Theirs" }) { app { id } } }')).createApp.app.id;
    noUserErrors(await create(stranger, strangerApp, QUOTA));

    // Completing the first frees its bytes.
    expect((await fetch(first.upload.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${t.admin.token}` }, body: new Uint8Array(600) })).status).toBe(201);
    const second = noUserErrors(await create(t.admin, appId, 600));

    // So does expiry.
    expect((await create(t.admin, appId, 1)).userErrors.map((e: { code: string }) => e.code)).toEqual(['LIMIT_EXCEEDED']);
    await testSql(t.dataDir, 'update binary_uploads set expires_at = ? where completed_at is null', [Date.now() - 1000]);
    noUserErrors(await create(t.admin, appId, QUOTA));
    expect(second.upload.id).toBeTruthy();
  });

  it('lets only what fits through when several uploads of one account are created at once', async () => {
    // The outstanding bytes are read and the upload written in one transaction. Read apart, every
    // create started in the same tick sees the whole quota free and all of them are accepted.
    // On PostgreSQL the transactions run side by side, and overlap or not by timing: a few rounds.
    for (let round = 0; round < 5; round++) {
      const owner = await t.otherAccount(`QuotaAtOnce${round}`);
      const principal = await t.server.domain.accounts.authenticate(owner.token ?? '');
      if (!principal) throw new Error('no principal');
      const app = await t.server.domain.apps.create(principal, { name: 'AtOnce' });
      if (!app.ok) throw new Error('no app');
      const outcomes = await Promise.all(
        Array.from({ length: 4 }, () => t.server.domain.uploads.create(principal, { appId: app.value.id, platform: 'IOS_PHONE', fileName: 'q.ipa', sizeBytes: 400 })),
      );
      expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(2);
      expect(outcomes.flatMap((outcome) => (outcome.ok ? [] : outcome.userErrors.map((error) => error.code)))).toEqual(['LIMIT_EXCEEDED', 'LIMIT_EXCEEDED']);
    }
  });
});
