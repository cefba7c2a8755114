import { verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noUserErrors, type Client, type TestServer } from './kit.js';
import { unreachableUrl } from './runtime-responder.js';
import { MANAGEMENT, onRuntime, PUBLISH_NATIVE, RUNTIME_KINDS, waitForJob, type PublishWorld } from './publish-kit.js';
import { codes, nativeDraft, World } from './world.js';

let world: World;
let t: TestServer;
beforeAll(async () => {
  world = await World.start();
  t = world.t;
});
afterAll(() => world.stop());

const publish = async (input: Record<string, unknown>, client: Client = t.admin) =>
  (await client.request(PUBLISH_NATIVE, { input: { sync: true, ...input } })).publishNativeClient;

const management = async (world: PublishWorld) => (await t.admin.request(MANAGEMENT, { id: world.environmentId })).node;

const jobCount = async () => (await t.admin.request('{ publishJobs { totalCount } }')).publishJobs.totalCount as number;

describe('up-front validation creates no job (R21, R26)', () => {
  let w: PublishWorld;
  let ios: string;
  let android: string;
  beforeAll(async () => {
    w = await world.admin.publishWorld();
    ios = await world.admin.binary(w.appId, 'IOS_PHONE', '2.0');
    android = await world.admin.binary(w.appId, 'ANDROID_PHONE', '2.0');
  });
  const base = () => nativeDraft(w);

  it('answers each mistake with its code', async () => {
    const before = await jobCount();
    const other = await world.admin.publishWorld();
    const foreignBinary = await world.admin.binary(other.appId, 'IOS_TABLET', '1.0');
    const secondIos = await world.admin.binary(w.appId, 'IOS_PHONE', '2.1');
    const web = await world.admin.binary(w.appId, 'WEB', '1.0');
    const cases: [string, Record<string, unknown>, string[]][] = [
      ['nothing', {}, ['NOTHING_TO_PUBLISH']],
      ['empty lists', { binaryIds: [], removePlatforms: [] }, ['NOTHING_TO_PUBLISH']],
      ["another app's binary", { binaryIds: [foreignBinary] }, ['NOT_FOUND']],
      ['a malformed binary id', { binaryIds: ['nope'] }, ['NOT_FOUND']],
      ['two binaries of one platform', { binaryIds: [ios, secondIos] }, ['INVALID_INPUT']],
      ['a web binary', { binaryIds: [web] }, ['INVALID_INPUT']],
      ['publish and remove one platform', { binaryIds: [ios], removePlatforms: ['IOS_PHONE'] }, ['INVALID_INPUT']],
      ['ACTIVE without targets', { binaryIds: [ios], workflowState: 'ACTIVE' }, ['TARGETS_REQUIRED']],
      ['ACTIVE with an empty target list', { binaryIds: [ios], workflowState: 'ACTIVE', targets: { userIds: [] } }, ['TARGETS_REQUIRED']],
      ['a CLOUD user', { binaryIds: [ios], targets: { userIds: [w.users.dee] } }, ['TARGET_NOT_ALLOWED']],
      ['a CLOUD group', { binaryIds: [ios], targets: { groupIds: [w.groups.Cloudy] } }, ['TARGET_NOT_ALLOWED']],
      ['a user of another environment', { binaryIds: [ios], targets: { userIds: [other.users.ann] } }, ['NOT_FOUND']],
      ['an unknown app', { appId: 'nope', binaryIds: [ios] }, ['NOT_FOUND']],
    ];
    for (const [name, input, expected] of cases) {
      expect(codes(await publish({ ...base(), ...input })), name).toEqual(expected);
    }
    expect(await jobCount()).toBe(before);
  });

  it('refuses an environment without Management (ENVIRONMENT_NOT_MANAGED)', async () => {
    const plain = await world.admin.environment({ name: 'unmanaged' });
    const payload = await publish({ ...base(), environmentId: plain, binaryIds: [ios] });
    expect(codes(payload)).toEqual(['ENVIRONMENT_NOT_MANAGED']);
  });

  it('names each runtime component that differs from the console (VERSION_MISMATCH, R12)', async () => {
    const skewed = await world.admin.publishWorld({ environment: { runtimeVersions: { integration: '9.5.0', sync: '9.4.0', messaging: '9.3.1' } } });
    const skewedBinary = await world.admin.binary(skewed.appId, 'IOS_PHONE', '1.0');
    const payload = await publish({ appId: skewed.appId, environmentId: skewed.environmentId, option: 'PREVIEW', workflowState: 'DRAFT', binaryIds: [skewedBinary] });
    expect(codes(payload)).toEqual(['VERSION_MISMATCH']);
    expect(payload.userErrors[0].message).toMatch(/sync is 9\.4\.0.*messaging is 9\.3\.1/);
    expect(payload.userErrors[0].message).not.toMatch(/integration/);
  });

  it('lets a MEMBER publish a preview but not to the App Store, and a VIEWER neither', async () => {
    const member = await t.as('MEMBER');
    const viewer = await t.as('VIEWER');
    expect(codes(await publish({ ...base(), binaryIds: [android] }, member))).toEqual(['FORBIDDEN']);
    expect(codes(await publish({ ...base(), option: 'PREVIEW', binaryIds: [android] }, viewer))).toEqual(['FORBIDDEN']);
    const preview = noUserErrors(await publish({ ...base(), option: 'PREVIEW', binaryIds: [android] }, member));
    expect(preview.job.state).toBe('SUCCEEDED');
  });

  it('accepts a publish to an UNKNOWN environment with a warning, and the job fails when the runtime does not answer', async () => {
    const remote = await world.admin.publishWorld({ environment: { url: await unreachableUrl() } });
    const remoteBinary = await world.admin.binary(remote.appId, 'IOS_PHONE', '1.0');
    const payload = noUserErrors(
      await publish(nativeDraft(remote, { binaryIds: [remoteBinary] })),
    );
    expect(payload.job.warnings).toEqual(['ENVIRONMENT_STATUS_UNKNOWN: the runtime did not answer; the publish may not succeed']);
    expect(payload.job).toMatchObject({ state: 'FAILED', error: { code: 'RUNTIME_UNREACHABLE', stage: 'VALIDATE' } });
    expect(payload.job.environment.status).toBe('UNKNOWN');
    expect((await management(remote)).managementApps).toEqual([]);
  });
});

describe.each(RUNTIME_KINDS)('on the %s runtime', (kind) => {
  onRuntime(kind);

  describe('publishing to Management (R27-R35)', () => {
    it('runs the R35 stages, skipping what does not apply with a reason', async () => {
      const w = await world.admin.publishWorld();
      const ios = await world.admin.binary(w.appId, 'IOS_PHONE', '1.0');
      const { job } = noUserErrors(await publish(nativeDraft(w, { binaryIds: [ios] })));
      expect(job).toMatchObject({ state: 'SUCCEEDED', progress: 1, sync: true, kind: 'NATIVE_CLIENT', action: 'PUBLISH', error: null });
      expect(job.trackingId).toMatch(/^PUB-\d{6}$/);
      expect(job.stages.map((stage: { key: string; state: string }) => [stage.key, stage.state])).toEqual([
        ['VALIDATE', 'SUCCEEDED'],
        ['TRANSFER_BINARIES', 'SUCCEEDED'],
        ['WRAP', 'SKIPPED'],
        ['SIGN', 'SUCCEEDED'],
        ['REGISTER_VERSIONS', 'SUCCEEDED'],
        ['REMOVE_VERSIONS', 'SKIPPED'],
        ['APPLY_TARGETS', 'SUCCEEDED'],
        ['SET_WORKFLOW_STATE', 'SUCCEEDED'],
        ['NOTIFY_TARGETS', 'SKIPPED'],
      ]);
      const skipped = Object.fromEntries(job.stages.filter((s: { state: string }) => s.state === 'SKIPPED').map((s: { key: string; message: string }) => [s.key, s.message]));
      expect(skipped).toEqual({
        WRAP: expect.stringMatching(/SIGN_ONLY/),
        REMOVE_VERSIONS: expect.stringMatching(/No platforms to remove/),
        NOTIFY_TARGETS: expect.stringMatching(/DRAFT/),
      });
      for (const stage of job.stages) expect(Date.parse(stage.finishedAt)).toBeGreaterThanOrEqual(Date.parse(stage.startedAt));
    });

    it('answers at once without sync, the job still QUEUED or RUNNING, and runs it', async () => {
      const w = await world.admin.publishWorld();
      const ios = await world.admin.binary(w.appId, 'IOS_PHONE', '1.0');
      const { job } = noUserErrors(await publish(nativeDraft(w, { binaryIds: [ios], sync: false })));
      expect(job.sync).toBe(false);
      expect(['QUEUED', 'RUNNING']).toContain(job.state);
      expect((await waitForJob(t.admin, job.id)).state).toBe('SUCCEEDED');
    });

    it('publishes cumulatively, removes platforms, refreshes the description and refuses downgrades', async () => {
      const w = await world.admin.publishWorld();
      const input = nativeDraft(w);
      noUserErrors(await publish({ ...input, binaryIds: [await world.admin.binary(w.appId, 'IOS_PHONE', '1.0')] }));
      await t.admin.request(`mutation ($id: ID!) { updateApp(input: { id: $id, description: "Version two" }) { userErrors { code } } }`, { id: w.appId });
      noUserErrors(await publish({ ...input, binaryIds: [await world.admin.binary(w.appId, 'ANDROID_PHONE', '1.0'), await world.admin.binary(w.appId, 'WINDOWS', '3.0')] }));
      let [app] = (await management(w)).managementApps;
      expect(app.description).toBe('Version two');
      expect(app.versions.map((v: { platform: string; version: string }) => `${v.platform} ${v.version}`).sort()).toEqual(['ANDROID_PHONE 1.0', 'IOS_PHONE 1.0', 'WINDOWS 3.0']);

      const same = await publish({ ...input, binaryIds: [await world.admin.binary(w.appId, 'IOS_TABLET', '1.0'), (await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on App { clientBinaries(platform: IOS_PHONE) { nodes { id } } } } }`, { id: w.appId })).node.clientBinaries.nodes[0].id] });
      expect(codes(same)).toEqual(['DOWNGRADE_NOT_ALLOWED']);
      const lower = await publish({ ...input, binaryIds: [await world.admin.binary(w.appId, 'IOS_PHONE', '0.9')] });
      expect(codes(lower)).toEqual(['DOWNGRADE_NOT_ALLOWED']);
      expect(lower.userErrors[0].message).toMatch(/already holds IOS_PHONE 1\.0/);

      noUserErrors(await publish({ ...input, binaryIds: [await world.admin.binary(w.appId, 'IOS_PHONE', '1.10')], removePlatforms: ['WINDOWS'] }));
      [app] = (await management(w)).managementApps;
      expect(app.versions.map((v: { platform: string; version: string }) => `${v.platform} ${v.version}`).sort()).toEqual(['ANDROID_PHONE 1.0', 'IOS_PHONE 1.0', 'IOS_PHONE 1.10']);
    });

    it('keeps a preview apart as <App>_preview, always SIGN_ONLY', async () => {
      const w = await world.admin.publishWorld();
      const ios = await world.admin.binary(w.appId, 'IOS_PHONE', '1.0');
      const base = { appId: w.appId, environmentId: w.environmentId, workflowState: 'DRAFT', binaryIds: [ios] };
      noUserErrors(await publish({ ...base, option: 'APP_STORE', signAction: 'WRAP_AND_SIGN' }));
      const { job } = noUserErrors(await publish({ ...base, option: 'PREVIEW', signAction: 'WRAP_AND_SIGN' }));
      expect(job.stages.find((s: { key: string }) => s.key === 'WRAP').state).toBe('SKIPPED');
      const apps = (await management(w)).managementApps;
      expect(apps.map((a: { name: string; preview: boolean; signAction: string }) => [a.name, a.preview, a.signAction])).toEqual([
        [w.appName, false, 'WRAP_AND_SIGN'],
        [`${w.appName}_preview`, true, 'SIGN_ONLY'],
      ]);
      expect(apps.map((a: { versions: { wrapped: boolean }[] }) => a.versions[0]?.wrapped)).toEqual([true, false]);
    });

    it('signs every artifact with the environment key; a wrapped artifact is a new file', async () => {
      const w = await world.admin.publishWorld();
      const ios = await world.admin.binary(w.appId, 'IOS_PHONE', '1.0');
      const android = await world.admin.binary(w.appId, 'ANDROID_PHONE', '1.0');
      noUserErrors(await publish({ appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', signAction: 'WRAP_AND_SIGN', workflowState: 'DRAFT', binaryIds: [ios, android] }));
      noUserErrors(await publish({ appId: w.appId, environmentId: w.environmentId, option: 'PREVIEW', workflowState: 'DRAFT', binaryIds: [ios] }));
      const { signingPublicKey, managementApps } = await management(w);
      const binaries = await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on App { clientBinaries { nodes { id sha256 } } } } }`, { id: w.appId });
      const original = new Map(binaries.node.clientBinaries.nodes.map((b: { id: string; sha256: string }) => [b.id, b.sha256]));
      let verified = 0;
      for (const app of managementApps) {
        for (const version of app.versions) {
          expect(verify(null, Buffer.from(version.artifactSha256, 'hex'), signingPublicKey, Buffer.from(version.signature, 'base64'))).toBe(true);
          expect(verify(null, Buffer.from('0'.repeat(64), 'hex'), signingPublicKey, Buffer.from(version.signature, 'base64'))).toBe(false);
          expect(version.artifactSha256 === original.get(version.binary.id)).toBe(!version.wrapped);
          verified += 1;
        }
      }
      expect(verified).toBe(3);
    });
  });

  describe('targets, the Enterprise Store and notifications (R32-R34)', () => {
    it('replaces targets when given, keeps them when not, and notifies each targeted user once', async () => {
      const w = await world.admin.publishWorld();
      const base = { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE' };
      const { job } = noUserErrors(
        await publish({ ...base, workflowState: 'ACTIVE', binaryIds: [await world.admin.binary(w.appId, 'IOS_PHONE', '1.0')], targets: { userIds: [w.users.bea], groupIds: [w.groups.Team, w.groups.Mixed] } }),
      );
      expect(job.stages.find((s: { key: string }) => s.key === 'NOTIFY_TARGETS')).toMatchObject({ state: 'SUCCEEDED', message: 'Notified 3 users' });
      const notifications = async (user: string) =>
        (await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on DirectoryUser { notifications { message managementApp { name } } } } }`, { id: user })).node.notifications;
      expect(await notifications(w.users.bea)).toEqual([{ message: `${w.appName} 1.0 (IOS_PHONE) is available in the Enterprise Store`, managementApp: { name: w.appName } }]);
      expect(await notifications(w.users.ann)).toHaveLength(1);
      expect(await notifications(w.users.cal)).toHaveLength(1);
      expect(await notifications(w.users.dee)).toEqual([]);

      // No targets given: kept, and ACTIVE is allowed because some are kept.
      noUserErrors(await publish({ ...base, workflowState: 'ACTIVE', binaryIds: [await world.admin.binary(w.appId, 'ANDROID_PHONE', '1.0')] }));
      let [app] = (await management(w)).managementApps;
      expect(app.targets.map((target: { username?: string; name?: string }) => target.username ?? target.name).sort()).toEqual(['Mixed', 'Team', 'bea']);
      expect(await notifications(w.users.bea)).toHaveLength(2);

      noUserErrors(await publish({ ...base, workflowState: 'ACTIVE', removePlatforms: ['WINDOWS'], targets: { userIds: [w.users.ann] } }));
      [app] = (await management(w)).managementApps;
      expect(app.targets).toEqual([{ __typename: 'DirectoryUser', username: 'ann' }]);
    });

    it('lists ACTIVE apps in the store of users targeted directly or through a group, never DRAFT ones', async () => {
      const w = await world.admin.publishWorld();
      const store = async (user: string) =>
        (await t.admin.request(`query ($env: ID!, $user: ID!) { node(id: $env) { ... on Environment { enterpriseStore(userId: $user) { name workflowState } } } }`, { env: w.environmentId, user })).node.enterpriseStore;
      noUserErrors(await publish({ appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'ACTIVE', binaryIds: [await world.admin.binary(w.appId, 'IOS_PHONE', '1.0')], targets: { groupIds: [w.groups.Team] } }));
      noUserErrors(await publish({ appId: w.appId, environmentId: w.environmentId, option: 'PREVIEW', workflowState: 'DRAFT', binaryIds: [await world.admin.binary(w.appId, 'ANDROID_PHONE', '1.0')], targets: { userIds: [w.users.bea] } }));
      expect(await store(w.users.bea)).toEqual([{ name: w.appName, workflowState: 'ACTIVE' }]);
      expect(await store(w.users.cal)).toEqual([{ name: w.appName, workflowState: 'ACTIVE' }]);
      expect(await store(w.users.ann)).toEqual([]);
      expect((await management(w)).managementApps.map((app: { name: string }) => app.name)).toEqual([w.appName, `${w.appName}_preview`]);
    });
  });

  describe('removing versions (R31) and served binaries (R20)', () => {
    it('removes one version, leaves the others, and the highest remaining is offered', async () => {
      const w = await world.admin.publishWorld();
      const base = nativeDraft(w);
      for (const version of ['1.0', '1.1', '1.2']) noUserErrors(await publish({ ...base, binaryIds: [await world.admin.binary(w.appId, 'IOS_PHONE', version)] }));
      let [app] = (await management(w)).managementApps;
      const removed = await t.admin.request(
        `mutation ($input: RemoveManagementVersionInput!) { removeManagementVersion(input: $input) { job { state action stages { key state message } } userErrors { code } } }`,
        { input: { managementAppId: app.id, platform: 'IOS_PHONE', version: '1.2', sync: true } },
      );
      expect(removed.removeManagementVersion.job).toMatchObject({ state: 'SUCCEEDED', action: 'UNPUBLISH' });
      expect(removed.removeManagementVersion.job.stages.map((s: { key: string }) => s.key)).toEqual(['VALIDATE', 'UNPUBLISH']);
      expect(removed.removeManagementVersion.job.stages[1].message).toMatch(/the store now offers 1\.1/);
      [app] = (await management(w)).managementApps;
      expect(app.versions.map((v: { version: string }) => v.version)).toEqual(['1.1', '1.0']);
      const missing = await t.admin.request(
        `mutation ($input: RemoveManagementVersionInput!) { removeManagementVersion(input: $input) { job { id } userErrors { code } } }`,
        { input: { managementAppId: app.id, platform: 'IOS_PHONE', version: '7.0' } },
      );
      expect(missing.removeManagementVersion.userErrors).toEqual([{ code: 'NOT_FOUND' }]);
    });

    it('refuses to delete a binary a Management runtime serves, naming the environment', async () => {
      const w = await world.admin.publishWorld();
      const ios = await world.admin.binary(w.appId, 'IOS_PHONE', '1.0');
      noUserErrors(await publish(nativeDraft(w, { binaryIds: [ios] })));
      const refused = await t.admin.request(`mutation ($id: ID!) { deleteClientBinary(input: { id: $id }) { deletedId userErrors { code message } } }`, { id: ios });
      expect(refused.deleteClientBinary.userErrors).toEqual([{ code: 'INVALID_INPUT', message: expect.stringMatching(/mgmt-\d+/) }]);
      const [app] = (await management(w)).managementApps;
      noUserErrors(
        (
          await t.admin.request(`mutation ($input: RemoveManagementVersionInput!) { removeManagementVersion(input: $input) { userErrors { code } } }`, {
            input: { managementAppId: app.id, platform: 'IOS_PHONE', version: '1.0', sync: true },
          })
        ).removeManagementVersion,
      );
      const deleted = await t.admin.request(`mutation ($id: ID!) { deleteClientBinary(input: { id: $id }) { deletedId userErrors { code } } }`, { id: ios });
      expect(deleted.deleteClientBinary).toEqual({ deletedId: ios, userErrors: [] });
    });
  });
});
