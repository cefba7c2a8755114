import { createHash, verify } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { parse as parsePlist } from 'plist';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zip } from './fixtures.js';
import { multipartUpload, noUserErrors, type Client, type TestServer, startServer } from './kit.js';
import { binary, MANAGEMENT, onRuntime, probe, PUBLISH_NATIVE, publishWorld, RUNTIME_KINDS, runtimeEnvironment } from './publish-kit.js';

/** A GET with the path sent exactly as written (fetch would resolve `..` before sending). */
function rawGet(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: target.hostname, port: target.port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const STATUS = `query ($id: ID!) { node(id: $id) { ... on App { environmentStatuses {
  environment { id } webClientUrl clientConfig { appKey appSecret configUrl }
} } } }`;

const PUBLISH = `mutation ($input: PublishServicesAndWebInput!) {
  publishServicesAndWeb(input: $input) { job { id state error { code message } } userErrors { code message } }
}`;

const page = (title: string, filler = '') => `<!doctype html><html><head><title>${title}</title><link rel="stylesheet" href="css/site.css"></head><body><h1>${title}</h1>${filler}</body></html>`;

let apps = 0;

describe.each(RUNTIME_KINDS)('what the %s runtime serves', (kind) => {
  onRuntime(kind);
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(() => t.stop());

  async function world(client: Client = t.admin) {
    apps += 1;
    const created = await client.request(
      `mutation ($app: CreateAppInput!, $env: CreateEnvironmentInput!) {
        createApp(input: $app) { app { id name } userErrors { message } }
        createEnvironment(input: $env) { environment { id } userErrors { message } }
      }`,
      {
        app: {
          name: `Web${apps}`,
          identityServices: [{ name: 'Login', providerType: 'UserStore' }],
          integrationServices: [{ name: 'Orders', baseUrl: 'https://orders.example.com/api' }],
        },
        env: { name: `serve-${kind}-${apps}`, ...runtimeEnvironment() },
      },
    );
    await probe(client, created.createEnvironment.environment.id);
    return { appId: created.createApp.app.id as string, appName: created.createApp.app.name as string, environmentId: created.createEnvironment.environment.id as string };
  }

  async function upload(appId: string, version: string, name: string, files: Record<string, string | Buffer>): Promise<string> {
    const response = await multipartUpload(t.admin, { appId, platform: 'WEB', version }, { name, content: await zip(files) });
    const payload = (response.body.data as { uploadClientBinary: { binary: { id: string } | null; userErrors: unknown[] } }).uploadClientBinary;
    return noUserErrors(payload).binary?.id as string;
  }

  async function publish(w: { appId: string; environmentId: string }, webClientBinaryId: string | null, sync = true) {
    const { publishServicesAndWeb } = await t.admin.request(PUBLISH, { input: { appId: w.appId, environmentId: w.environmentId, webClientBinaryId, sync } });
    return noUserErrors(publishServicesAndWeb).job as { id: string; state: string };
  }

  async function statusOf(w: { appId: string; environmentId: string }, client: Client = t.admin) {
    const { node } = await client.request(STATUS, { id: w.appId });
    return node.environmentStatuses.find((row: { environment: { id: string } }) => row.environment.id === w.environmentId) as {
      webClientUrl: string | null;
      clientConfig: { appKey: string; appSecret: string | null; configUrl: string } | null;
    };
  }

  it('serves a .war web client from its archive: index, nested files, types, ETag, Range; no escape, no WEB-INF (R53)', async () => {
    const w = await world();
    const css = 'body { color: #123456 }\n'.repeat(40);
    const war = await upload(w.appId, '1.0', 'shop.war', {
      'index.html': page('Shop one'),
      'css/site.css': css,
      'js/app.js': 'console.log("app")',
      'docs/index.html': page('Docs'),
      'WEB-INF/web.xml': '<web-app/>',
      'META-INF/MANIFEST.MF': 'Manifest-Version: 1.0',
    });
    expect((await statusOf(w)).webClientUrl).toBeNull();
    expect((await publish(w, war)).state).toBe('SUCCEEDED');
    const url = (await statusOf(w)).webClientUrl as string;
    expect(url).toMatch(kind === 'embedded' ? new RegExp(`^${t.url}/runtime/serve-embedded-\\d+/apps/${w.appName}/$`) : new RegExp(`/apps/${w.appName}/$`));
    const base = new URL(url);

    const index = await fetch(url);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await index.text()).toBe(page('Shop one'));
    const sheet = await fetch(new URL('css/site.css', url));
    expect([sheet.status, sheet.headers.get('content-type'), await sheet.text()]).toEqual([200, 'text/css; charset=utf-8', css]);
    expect((await fetch(new URL('js/app.js', url))).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await (await fetch(new URL('docs/', url))).text()).toBe(page('Docs'));
    // The folder without its slash, the app without its slash: redirected so relative links work.
    expect((await fetch(new URL('docs', url), { redirect: 'manual' })).status).toBe(301);
    expect((await fetch(url.replace(/\/$/, ''), { redirect: 'manual' })).headers.get('location')).toBe(url);

    // Missing files, no listing, hidden folders (raw and encoded, any case), escapes.
    for (const path of ['missing.html', 'css/', 'WEB-INF/web.xml', 'web-inf/web.xml', 'META-INF/MANIFEST.MF', 'WEB-INF%2Fweb.xml', '%57EB-INF/web.xml', 'css%2Fsite.css', 'css/./site.css', '%2e%2e/%2e%2e/shipyard.db', '..%2F..%2Fshipyard.db', 'css/%2e%2e/index.html', '/etc/passwd', '%2Fetc%2Fpasswd', 'css%5csite.css', '%00'])
      expect((await rawGet(url, `${base.pathname}${path}`)).status, path).toBe(404);
    const escaped = await rawGet(url, `${base.pathname}../../../../etc/passwd`);
    expect(escaped.status).not.toBe(200);
    expect(escaped.body.toString()).not.toContain('root:');
    expect((await rawGet(url, `${base.pathname}css/../index.html`)).status).toBe(404);

    // ETag round trip.
    const etag = sheet.headers.get('etag') as string;
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    const again = await fetch(new URL('css/site.css', url), { headers: { 'if-none-match': etag } });
    expect([again.status, await again.text()]).toEqual([304, '']);
    expect((await fetch(new URL('css/site.css', url), { headers: { 'if-none-match': '"other"' } })).status).toBe(200);

    // Range: a slice of a deflated entry, a suffix, and one past the end.
    const slice = await fetch(new URL('css/site.css', url), { headers: { range: 'bytes=10-29' } });
    expect([slice.status, slice.headers.get('content-range'), slice.headers.get('content-length'), await slice.text()]).toEqual([206, `bytes 10-29/${css.length}`, '20', css.slice(10, 30)]);
    const suffix = await fetch(new URL('css/site.css', url), { headers: { range: 'bytes=-5' } });
    expect([suffix.status, await suffix.text()]).toEqual([206, css.slice(-5)]);
    const past = await fetch(new URL('css/site.css', url), { headers: { range: `bytes=${css.length + 10}-` } });
    expect([past.status, past.headers.get('content-range')]).toEqual([416, `bytes */${css.length}`]);

    // Unpublishing makes the URL 404, and the status has no URL any more.
    const { unpublishApp } = await t.admin.request(
      `mutation ($input: UnpublishAppInput!) { unpublishApp(input: $input) { job { state } userErrors { message } } }`,
      { input: { appId: w.appId, environmentId: w.environmentId, kind: 'SERVICES_AND_WEB', sync: true } },
    );
    expect(unpublishApp.job.state).toBe('SUCCEEDED');
    expect((await fetch(url)).status).toBe(404);
    expect((await statusOf(w)).webClientUrl).toBeNull();
  });

  it('serves a .zip web client, and a replaced one switches whole: 200 requests each see one version, never a mix (R38)', async () => {
    const w = await world();
    const filler = (letter: string) => `<p>${letter.repeat(100_000)}</p>`;
    const one = page('Version one', filler('a'));
    const two = page('Version two', filler('b'));
    const first = await upload(w.appId, '1.0', 'site.zip', { 'index.html': one, 'css/site.css': 'h1 {}' });
    const second = await upload(w.appId, '2.0', 'site.zip', { 'index.html': two, 'css/site.css': 'h1 {}' });
    await publish(w, first);
    const url = (await statusOf(w)).webClientUrl as string;
    expect(await (await fetch(url)).text()).toBe(one);

    const seen = { one: 0, two: 0 };
    let publishing = true;
    const publisher = (async () => {
      // Replace back and forth while the requests run.
      for (let round = 0; publishing && round < 40; round += 1) await publish(w, round % 2 === 0 ? second : first);
    })();
    for (let batch = 0; batch < 20; batch += 1) {
      const bodies = await Promise.all(Array.from({ length: 10 }, async () => {
        const response = await fetch(url);
        expect(response.status).toBe(200);
        return response.text();
      }));
      for (const body of bodies) {
        expect(body === one || body === two, `a page of ${body.length} characters, neither version whole`).toBe(true);
        seen[body === one ? 'one' : 'two'] += 1;
      }
    }
    publishing = false;
    await publisher;
    expect(seen.one + seen.two).toBe(200);
    expect(seen.two).toBeGreaterThan(0);
  });

  it('answers appconfig for the app key and secret, 401 otherwise; rotateAppSecret retires the old secret (R54)', async () => {
    const w = await world();
    expect((await statusOf(w)).clientConfig).toBeNull();
    await publish(w, await upload(w.appId, '1.0', 'site.zip', { 'index.html': page('Config') }));
    const { clientConfig, webClientUrl } = await statusOf(w);
    expect(clientConfig).toMatchObject({ appKey: expect.stringMatching(/^[0-9a-f]{32}$/), appSecret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const config = clientConfig as { appKey: string; appSecret: string; configUrl: string };
    expect(config.configUrl).toBe(`${webClientUrl}appconfig`);
    const ask = (key: string, secret: string) => fetch(config.configUrl, { headers: { 'x-app-key': key, 'x-app-secret': secret } });

    const answer = await ask(config.appKey, config.appSecret);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({
      appName: w.appName,
      identityServices: [{ name: 'Login', providerType: 'UserStore', loginUrl: expect.stringContaining(`/apps/${w.appName}/authService/login?provider=Login`) }],
      integrationServices: [{ name: 'Orders', url: 'https://orders.example.com/api' }],
      webClientUrl,
      runtimeVersions: { integration: '9.5.0', sync: '9.5.0', messaging: '9.5.0' },
    });
    expect((await ask(config.appKey, `${config.appSecret}x`)).status).toBe(401);
    expect((await ask('0'.repeat(32), config.appSecret)).status).toBe(401);
    expect((await fetch(config.configUrl)).status).toBe(401);

    // A second publish keeps the key and the secret.
    await publish(w, null);
    expect((await statusOf(w)).clientConfig).toEqual(config);
    // A VIEWER sees the key, not the secret.
    const viewer = await t.as('VIEWER');
    expect((await statusOf(w, viewer)).clientConfig).toEqual({ ...config, appSecret: null });
    const refused = await viewer.request(
      `mutation ($input: RotateAppSecretInput!) { rotateAppSecret(input: $input) { clientConfig { appSecret } userErrors { code } } }`,
      { input: { appId: w.appId, environmentId: w.environmentId } },
    );
    expect(refused.rotateAppSecret.userErrors).toEqual([{ code: 'FORBIDDEN' }]);
    expect((await ask(config.appKey, config.appSecret)).status).toBe(200);

    const member = await t.as('MEMBER');
    const { rotateAppSecret } = await member.request(
      `mutation ($input: RotateAppSecretInput!) { rotateAppSecret(input: $input) { clientConfig { appKey appSecret configUrl } userErrors { code } } }`,
      { input: { appId: w.appId, environmentId: w.environmentId } },
    );
    const rotated = noUserErrors(rotateAppSecret).clientConfig as typeof config;
    expect(rotated.appKey).toBe(config.appKey);
    expect(rotated.appSecret).not.toBe(config.appSecret);
    expect((await ask(config.appKey, config.appSecret)).status).toBe(401);
    expect((await ask(rotated.appKey, rotated.appSecret)).status).toBe(200);
    expect((await statusOf(w)).clientConfig).toEqual(rotated);
  });

  it('store links list exactly the ACTIVE apps targeting their user; revoked, expired and untargeted links see nothing; downloads verify (R55, R56)', async () => {
    const w = await publishWorld(t.admin);
    const { createApp } = await t.admin.request(`mutation { createApp(input: { name: "Drafty${apps}" }) { app { id } } }`);
    const invite = async (user: string, expiresAt?: string) => {
      const { createStoreInvitation } = await t.admin.request(
        `mutation ($input: CreateStoreInvitationInput!) { createStoreInvitation(input: $input) { invitation { id state } storeUrl userErrors { code message } } }`,
        { input: { directoryUserId: user, ...(expiresAt ? { expiresAt } : {}) } },
      );
      return noUserErrors(createStoreInvitation) as { invitation: { id: string; state: string }; storeUrl: string };
    };
    const ann = await invite(w.users.ann);
    const bea = await invite(w.users.bea);
    const cal = await invite(w.users.cal);
    const dee = await invite(w.users.dee);
    expect(ann.storeUrl).toMatch(/\/store\/[A-Za-z0-9_-]{43}$/);
    // A member may not invite; the link is never shown again.
    const member = await t.as('MEMBER');
    const refused = await member.request(`mutation ($input: CreateStoreInvitationInput!) { createStoreInvitation(input: $input) { storeUrl userErrors { code } } }`, {
      input: { directoryUserId: w.users.ann },
    });
    expect(refused.createStoreInvitation).toEqual({ storeUrl: null, userErrors: [{ code: 'FORBIDDEN' }] });

    const ios = await binary(t.admin, w.appId, 'IOS_PHONE', '1.0');
    const android = await binary(t.admin, w.appId, 'ANDROID_PHONE', '1.0');
    const windows = await binary(t.admin, w.appId, 'WINDOWS', '1.0.0');
    const published = await t.admin.request(PUBLISH_NATIVE, {
      input: { sync: true, appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'ACTIVE', binaryIds: [ios, android, windows], targets: { userIds: [w.users.ann], groupIds: [w.groups.Team] } },
    });
    expect(published.publishNativeClient.job.state).toBe('SUCCEEDED');
    const draft = await t.admin.request(PUBLISH_NATIVE, {
      input: { sync: true, appId: createApp.app.id, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'DRAFT', binaryIds: [await binary(t.admin, createApp.app.id, 'ANDROID_PHONE', '1.0')], targets: { userIds: [w.users.ann] } },
    });
    expect(draft.publishNativeClient.job.state).toBe('SUCCEEDED');

    const storeOf = async (url: string) => {
      const response = await fetch(`${url}?format=json`);
      return { status: response.status, body: response.status === 200 ? ((await response.json()) as { apps: { name: string; installs: { platform: string; version: string; installUrl: string; downloadUrl: string; manifestUrl: string | null; sha256: string }[] }[] }) : null };
    };
    // The targeted user (directly, and through a group) sees exactly the ACTIVE app; the DRAFT one is in nobody's store.
    const annStore = await storeOf(ann.storeUrl);
    expect(annStore.status).toBe(200);
    expect(annStore.body?.apps.map((app) => app.name)).toEqual([w.appName]);
    expect(annStore.body?.apps[0]?.installs.map((install) => [install.platform, install.version]).sort()).toEqual([['ANDROID_PHONE', '1.0'], ['IOS_PHONE', '1.0'], ['WINDOWS', '1.0.0']]);
    expect((await storeOf(bea.storeUrl)).body?.apps.map((app) => app.name)).toEqual([w.appName]);
    // Untargeted: the page answers, with nothing on it.
    expect(await storeOf(dee.storeUrl)).toEqual({ status: 200, body: { apps: [] } });
    // The same by Accept, and as a page for phones.
    expect(await (await fetch(ann.storeUrl, { headers: { accept: 'application/json' } })).json()).toEqual(annStore.body);
    const html = await fetch(ann.storeUrl);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.headers.get('content-security-policy')).toContain("default-src 'none'");
    const text = await html.text();
    expect(text).toContain('name="viewport"');
    expect(text).toContain(w.appName);
    expect(text).toContain('itms-services://?action=download-manifest&amp;url=');

    // The notification of that publish carries each user's link.
    const { node: annUser } = await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on DirectoryUser { notifications { message storeUrl } storeInvitations { id state } } } }`, { id: w.users.ann });
    expect(annUser.notifications[0]).toMatchObject({ message: expect.stringContaining(w.appName), storeUrl: ann.storeUrl });
    expect(annUser.storeInvitations).toEqual([{ id: ann.invitation.id, state: 'ACTIVE' }]);

    // Downloads: the signed artifact, whole and by range, verified against the environment's key.
    const installs = annStore.body?.apps[0]?.installs ?? [];
    const androidInstall = installs.find((install) => install.platform === 'ANDROID_PHONE');
    expect(androidInstall?.installUrl).toBe(androidInstall?.downloadUrl);
    const download = await fetch(androidInstall?.downloadUrl as string);
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(download.headers.get('content-length')).toBe(String(bytes.length));
    const sha256 = download.headers.get('x-content-sha256') as string;
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(sha256);
    expect(sha256).toBe(androidInstall?.sha256);
    const { signingPublicKey } = (await t.admin.request(MANAGEMENT, { id: w.environmentId })).node;
    expect(verify(null, Buffer.from(sha256, 'hex'), signingPublicKey, Buffer.from(download.headers.get('x-content-signature') as string, 'base64'))).toBe(true);
    expect(verify(null, Buffer.from(sha256.replace(/^./, (c) => (c === '0' ? '1' : '0')), 'hex'), signingPublicKey, Buffer.from(download.headers.get('x-content-signature') as string, 'base64'))).toBe(false);
    const part = await fetch(androidInstall?.downloadUrl as string, { headers: { range: 'bytes=4-13' } });
    expect([part.status, part.headers.get('content-range')]).toEqual([206, `bytes 4-13/${bytes.length}`]);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(4, 14));

    // iOS: an itms-services link to a manifest plist naming the artifact, bundle id and version.
    const iosInstall = installs.find((install) => install.platform === 'IOS_PHONE');
    expect(iosInstall?.installUrl).toBe(`itms-services://?action=download-manifest&url=${encodeURIComponent(iosInstall?.manifestUrl as string)}`);
    const manifest = parsePlist(await (await fetch(iosInstall?.manifestUrl as string)).text()) as { items: { assets: { kind: string; url: string }[]; metadata: Record<string, string> }[] };
    expect(manifest.items[0]?.assets).toEqual([{ kind: 'software-package', url: iosInstall?.downloadUrl }]);
    expect(manifest.items[0]?.metadata).toEqual({ 'bundle-identifier': 'com.example.banking', 'bundle-version': '1.0', kind: 'software', title: w.appName });
    const ipa = await fetch(iosInstall?.downloadUrl as string);
    expect([ipa.status, ipa.headers.get('x-content-sha256')]).toEqual([200, iosInstall?.sha256]);
    await ipa.arrayBuffer();

    // Revoked: nothing at all (the positive control: it worked a moment ago).
    expect((await storeOf(cal.storeUrl)).body?.apps).toHaveLength(1);
    const { revokeStoreInvitation } = await t.admin.request(`mutation ($id: ID!) { revokeStoreInvitation(input: { id: $id }) { invitation { state } userErrors { code } } }`, { id: cal.invitation.id });
    expect(revokeStoreInvitation).toEqual({ invitation: { state: 'REVOKED' }, userErrors: [] });
    expect((await storeOf(cal.storeUrl)).status).toBe(404);
    const calDownload = cal.storeUrl + (androidInstall?.downloadUrl as string).slice(ann.storeUrl.length);
    expect((await fetch(calDownload)).status).toBe(404);
    expect((await fetch(bea.storeUrl + (androidInstall?.downloadUrl as string).slice(ann.storeUrl.length))).status).toBe(200);

    // Expired: works until its time, then nothing.
    const soon = await invite(w.users.ann, new Date(Date.now() + 1500).toISOString());
    expect((await storeOf(soon.storeUrl)).body?.apps).toHaveLength(1);
    for (let attempt = 0; attempt < 100 && (await storeOf(soon.storeUrl)).status === 200; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await storeOf(soon.storeUrl)).status).toBe(404);
    expect((await storeOf(ann.storeUrl)).status).toBe(200);

    // A user no longer targeted: bea leaves through new targets.
    await t.admin.request(PUBLISH_NATIVE, {
      input: { sync: true, appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'ACTIVE', binaryIds: [await binary(t.admin, w.appId, 'ANDROID_PHONE', '1.1')], targets: { userIds: [w.users.ann] } },
    });
    expect((await storeOf(bea.storeUrl)).body?.apps).toEqual([]);
    expect((await storeOf(ann.storeUrl)).body?.apps[0]?.installs.find((install) => install.platform === 'ANDROID_PHONE')?.version).toBe('1.1');
    expect((await fetch(bea.storeUrl + (androidInstall?.downloadUrl as string).slice(ann.storeUrl.length))).status).toBe(404);
  });

  it('refuses bad input to the new mutations with user errors, changing nothing; another account sees none of it', async () => {
    const w = await publishWorld(t.admin);
    const invite = (input: Record<string, unknown>, client: Client = t.admin) =>
      client.request(`mutation ($input: CreateStoreInvitationInput!) { createStoreInvitation(input: $input) { storeUrl invitation { id } userErrors { code field } } }`, { input });
    const past = await invite({ directoryUserId: w.users.ann, expiresAt: new Date(Date.now() - 1000).toISOString() });
    expect(past.createStoreInvitation).toEqual({ storeUrl: null, invitation: null, userErrors: [{ code: 'INVALID_INPUT', field: ['input', 'expiresAt'] }] });
    const far = await invite({ directoryUserId: w.users.ann, expiresAt: new Date(Date.now() + 400 * 86_400_000).toISOString() });
    expect(far.createStoreInvitation.userErrors).toEqual([{ code: 'INVALID_INPUT', field: ['input', 'expiresAt'] }]);
    for (const directoryUserId of ['nonsense', w.appId, Buffer.from('DirectoryUser:99999').toString('base64')])
      expect((await invite({ directoryUserId })).createStoreInvitation.userErrors).toEqual([{ code: 'NOT_FOUND', field: ['input', 'directoryUserId'] }]);
    const other = await t.otherAccount();
    expect((await invite({ directoryUserId: w.users.ann }, other)).createStoreInvitation.userErrors).toEqual([{ code: 'NOT_FOUND', field: ['input', 'directoryUserId'] }]);
    const { node } = await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on DirectoryUser { storeInvitations { id } } } }`, { id: w.users.ann });
    expect(node.storeInvitations).toEqual([]);
    // Positive control: the same user, a valid request.
    const made = (await invite({ directoryUserId: w.users.ann })).createStoreInvitation;
    expect(made.userErrors).toEqual([]);
    const revoke = (id: string, client: Client = t.admin) =>
      client.request(`mutation ($id: ID!) { revokeStoreInvitation(input: { id: $id }) { invitation { state } userErrors { code } } }`, { id });
    expect((await revoke(made.invitation.id, other)).revokeStoreInvitation).toEqual({ invitation: null, userErrors: [{ code: 'NOT_FOUND' }] });
    expect((await revoke('nonsense')).revokeStoreInvitation.userErrors).toEqual([{ code: 'NOT_FOUND' }]);
    expect((await fetch(`${made.storeUrl}?format=json`)).status).toBe(200);

    const rotate = (input: Record<string, unknown>, client: Client = t.admin) =>
      client.request(`mutation ($input: RotateAppSecretInput!) { rotateAppSecret(input: $input) { clientConfig { appKey } userErrors { code field } } }`, { input });
    expect((await rotate({ appId: w.appId, environmentId: w.environmentId })).rotateAppSecret).toEqual({ clientConfig: null, userErrors: [{ code: 'NOT_FOUND', field: ['input', 'appId'] }] });
    expect((await rotate({ appId: 'x', environmentId: 'y' })).rotateAppSecret.userErrors.map((error: { code: string }) => error.code)).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    expect((await rotate({ appId: w.appId, environmentId: w.environmentId }, other)).rotateAppSecret.userErrors[0].code).toBe('NOT_FOUND');

    const bad = await t.admin.request(
      `mutation ($input: UpdateAppInput!) { updateApp(input: $input) { app { integrationServices { name } } userErrors { code field } } }`,
      { input: { id: w.appId, integrationServices: [{ name: 'A', baseUrl: 'ftp://x.example' }, { name: 'B', baseUrl: 'https://user:pw@x.example' }, { name: 'a', baseUrl: 'https://ok.example' }, { name: 'A', baseUrl: 'https://ok.example' }] } },
    );
    expect(bad.updateApp.userErrors).toEqual([
      { code: 'INVALID_INPUT', field: ['input', 'integrationServices', '0', 'baseUrl'] },
      { code: 'INVALID_INPUT', field: ['input', 'integrationServices', '1', 'baseUrl'] },
      // Names are unique case-insensitively.
      { code: 'INVALID_INPUT', field: ['input', 'integrationServices', '2', 'name'] },
      { code: 'INVALID_INPUT', field: ['input', 'integrationServices', '3', 'name'] },
    ]);
    const good = await t.admin.request(
      `mutation ($input: UpdateAppInput!) { updateApp(input: $input) { app { integrationServices { name baseUrl } } userErrors { code } } }`,
      { input: { id: w.appId, integrationServices: [{ name: 'Orders', baseUrl: 'https://orders.example.com' }] } },
    );
    expect(good.updateApp).toEqual({ app: { integrationServices: [{ name: 'Orders', baseUrl: 'https://orders.example.com' }] }, userErrors: [] });
  });
});
