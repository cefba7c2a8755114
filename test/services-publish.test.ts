import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noUserErrors, startServer, type Client, type TestServer } from './kit.js';
import { binary, JOB_FIELDS, onRuntime, PUBLISH_NATIVE, RUNTIME_KINDS, waitForJob } from './publish-kit.js';
import { Actor, codes, nativeDraft } from './world.js';

const PUBLISH = `mutation ($input: PublishServicesAndWebInput!) {
  publishServicesAndWeb(input: $input) { job { ${JOB_FIELDS} webClientBinary { id } } userErrors { code message field } }
}`;
const UNPUBLISH = `mutation ($input: UnpublishAppInput!) {
  unpublishApp(input: $input) { job { ${JOB_FIELDS} } userErrors { code message field } }
}`;
const ENVIRONMENT = `query ($id: ID!) { node(id: $id) { ... on Environment {
  identityServices { name providerType publishedBy { name } usedBy { name } }
} } }`;
const STATUSES = `query ($id: ID!) { node(id: $id) { ... on App { environmentStatuses {
  environment { name } nativeClient servicesAndWeb webClient { version } latestServicesJob { state } latestNativeJob { state }
} } } }`;

let counter = 0;
async function world(admin: Client, environment: Record<string, unknown> = {}) {
  counter += 1;
  const actor = new Actor(admin);
  return {
    a: await actor.app({ name: `Shop${counter}`, identityServices: [{ name: 'Login', providerType: 'UserStore' }, { name: 'Partner', providerType: 'SAML' }] }),
    b: await actor.app({ name: `Till${counter}`, identityServices: [{ name: 'login', providerType: 'OAuth2' }] }),
    env: await actor.runtimeEnvironment({ name: `svc-${counter}`, ...environment }),
    other: await actor.runtimeEnvironment({ name: `svc-other-${counter}` }),
  };
}

describe.each(RUNTIME_KINDS)('on the %s runtime', (kind) => {
  onRuntime(kind);

  describe('services and web client publishing (R36-R38)', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startServer();
    });
    afterAll(() => t.stop());

    const publish = async (input: Record<string, unknown>, client: Client = t.admin) => (await client.request(PUBLISH, { input: { sync: true, ...input } })).publishServicesAndWeb;

    it('runs the R36 stages and answers at once without sync', async () => {
      const w = await world(t.admin);
      const web = await binary(t.admin, w.a, 'WEB', '1.0');
      const { job } = noUserErrors(await publish({ appId: w.a, environmentId: w.env, webClientBinaryId: web }));
      expect(job).toMatchObject({ state: 'SUCCEEDED', kind: 'SERVICES_AND_WEB', action: 'PUBLISH', sync: true, progress: 1, webClientBinary: { id: web } });
      expect(job.stages.map((s: { key: string; state: string }) => [s.key, s.state])).toEqual([
        ['VALIDATE', 'SUCCEEDED'],
        ['PUBLISH_IDENTITY_SERVICES', 'SUCCEEDED'],
        ['PUBLISH_INTEGRATION_SERVICES', 'SUCCEEDED'],
        ['DEPLOY_WEB_CLIENT', 'SUCCEEDED'],
        ['ACTIVATE', 'SUCCEEDED'],
      ]);
      const async = noUserErrors(await publish({ appId: w.a, environmentId: w.env, sync: false }));
      expect(['QUEUED', 'RUNNING']).toContain(async.job.state);
      const done = await waitForJob(t.admin, async.job.id);
      expect(done.state).toBe('SUCCEEDED');
      expect((done as unknown as { stages: { key: string; state: string; message: string }[] }).stages.find((s) => s.key === 'DEPLOY_WEB_CLIENT')).toMatchObject({
        state: 'SKIPPED',
        message: 'No web client binary was given',
      });
    });

    it('skips the web client where the environment allows manual publish only, saying so', async () => {
      const w = await world(t.admin, { allowManualPublishOnly: true });
      const { job } = noUserErrors(await publish({ appId: w.a, environmentId: w.env, webClientBinaryId: await binary(t.admin, w.a, 'WEB', '1.0') }));
      expect(job.stages.find((s: { key: string }) => s.key === 'DEPLOY_WEB_CLIENT')).toMatchObject({ state: 'SKIPPED', message: expect.stringMatching(/manual publish only/) });
      const statuses = (await t.admin.request(STATUSES, { id: w.a })).node.environmentStatuses;
      expect(statuses.find((s: { environment: { name: string } }) => s.environment.name === `svc-${counter}`)).toMatchObject({
        servicesAndWeb: 'PUBLISHED',
        webClient: null,
      });
    });

    it('refuses a web client that is not a WEB binary of this app, and version mismatches, creating no job', async () => {
      const w = await world(t.admin);
      const before = (await t.admin.request('{ publishJobs { totalCount } }')).publishJobs.totalCount;
      expect(codes(await publish({ appId: w.a, environmentId: w.env, webClientBinaryId: await binary(t.admin, w.b, 'WEB', '1.0') }))).toEqual(['NOT_FOUND']);
      expect(codes(await publish({ appId: w.a, environmentId: w.env, webClientBinaryId: await binary(t.admin, w.a, 'IOS_PHONE', '1.0') }))).toEqual(['INVALID_INPUT']);
      expect(codes(await publish({ appId: w.a, environmentId: w.env, webClientBinaryId: 'nope' }))).toEqual(['NOT_FOUND']);
      await t.admin.request(`mutation ($id: ID!) { updateEnvironment(input: { id: $id, runtimeVersions: { integration: "9.4.0", sync: "9.5.0", messaging: "9.5.0" } }) { userErrors { code } } }`, { id: w.env });
      const mismatch = await publish({ appId: w.a, environmentId: w.env });
      expect(codes(mismatch)).toEqual(['VERSION_MISMATCH']);
      expect(mismatch.userErrors[0].message).toMatch(/integration is 9\.4\.0/);
      expect((await t.admin.request('{ publishJobs { totalCount } }')).publishJobs.totalCount).toBe(before);
    });

    it('shares identity services across the apps of one environment, and no other, with a warning', async () => {
      const w = await world(t.admin);
      noUserErrors(await publish({ appId: w.a, environmentId: w.env }));
      let services = (await t.admin.request(ENVIRONMENT, { id: w.env })).node.identityServices;
      expect(services).toEqual([
        { name: 'Login', providerType: 'UserStore', publishedBy: { name: `Shop${counter}` }, usedBy: [{ name: `Shop${counter}` }] },
        { name: 'Partner', providerType: 'SAML', publishedBy: { name: `Shop${counter}` }, usedBy: [{ name: `Shop${counter}` }] },
      ]);
      const second = noUserErrors(await publish({ appId: w.b, environmentId: w.env }));
      expect(second.job.warnings).toEqual([expect.stringMatching(new RegExp(`^IDENTITY_SERVICES_SHARED: .*Shop${counter}`))]);
      services = (await t.admin.request(ENVIRONMENT, { id: w.env })).node.identityServices;
      expect(services[0]).toEqual({
        name: 'login',
        providerType: 'OAuth2',
        publishedBy: { name: `Till${counter}` },
        usedBy: [{ name: `Shop${counter}` }, { name: `Till${counter}` }],
      });
      expect((await t.admin.request(ENVIRONMENT, { id: w.other })).node.identityServices).toEqual([]);
      noUserErrors(await publish({ appId: w.a, environmentId: w.other }));
      expect((await t.admin.request(ENVIRONMENT, { id: w.other })).node.identityServices[0]).toMatchObject({ name: 'Login', providerType: 'UserStore' });
      expect((await t.admin.request(ENVIRONMENT, { id: w.env })).node.identityServices[0]).toMatchObject({ name: 'login', providerType: 'OAuth2' });
    });

    it('keeps one live web client per app and environment; a new publish replaces it', async () => {
      const w = await world(t.admin);
      noUserErrors(await publish({ appId: w.a, environmentId: w.env, webClientBinaryId: await binary(t.admin, w.a, 'WEB', '1.0') }));
      noUserErrors(await publish({ appId: w.a, environmentId: w.env, webClientBinaryId: await binary(t.admin, w.a, 'WEB', '2.0') }));
      const statuses = (await t.admin.request(STATUSES, { id: w.a })).node.environmentStatuses;
      const row = statuses.find((s: { environment: { name: string } }) => s.environment.name === `svc-${counter}`);
      expect(row).toMatchObject({ servicesAndWeb: 'PUBLISHED', nativeClient: 'NOT_PUBLISHED', webClient: { version: '2.0' }, latestServicesJob: { state: 'SUCCEEDED' }, latestNativeJob: null });
      expect(statuses.find((s: { environment: { name: string } }) => s.environment.name === `svc-other-${counter}`)).toMatchObject({ servicesAndWeb: 'NOT_PUBLISHED', webClient: null });
    });

    it('unpublishes services, keeping identity services another app still uses', async () => {
      const w = await world(t.admin);
      noUserErrors(await publish({ appId: w.a, environmentId: w.env, webClientBinaryId: await binary(t.admin, w.a, 'WEB', '1.0') }));
      noUserErrors(await publish({ appId: w.b, environmentId: w.env }));
      const { job } = noUserErrors((await t.admin.request(UNPUBLISH, { input: { appId: w.a, environmentId: w.env, kind: 'SERVICES_AND_WEB', sync: true } })).unpublishApp);
      expect(job).toMatchObject({ state: 'SUCCEEDED', action: 'UNPUBLISH' });
      expect(job.stages.map((s: { key: string }) => s.key)).toEqual(['VALIDATE', 'UNPUBLISH']);
      const services = (await t.admin.request(ENVIRONMENT, { id: w.env })).node.identityServices;
      expect(services.map((s: { name: string; usedBy: { name: string }[] }) => [s.name, s.usedBy.map((a) => a.name)])).toEqual([['login', [`Till${counter}`]]]);
      const row = (await t.admin.request(STATUSES, { id: w.a })).node.environmentStatuses.find((s: { environment: { name: string } }) => s.environment.name === `svc-${counter}`);
      expect(row).toMatchObject({ servicesAndWeb: 'NOT_PUBLISHED', webClient: null });
      const again = (await t.admin.request(UNPUBLISH, { input: { appId: w.a, environmentId: w.env, kind: 'SERVICES_AND_WEB' } })).unpublishApp;
      expect(codes(again)).toEqual(['NOTHING_TO_PUBLISH']);
    });

    it('unpublishes the native client: production and preview Management apps', async () => {
      const w = await world(t.admin, { managementEnabled: true });
      const ios = await binary(t.admin, w.a, 'IOS_PHONE', '1.0');
      for (const option of ['APP_STORE', 'PREVIEW']) {
        noUserErrors((await t.admin.request(PUBLISH_NATIVE, { input: { appId: w.a, environmentId: w.env, option, workflowState: 'DRAFT', binaryIds: [ios], sync: true } })).publishNativeClient);
      }
      const member = await t.as('MEMBER');
      expect(codes((await member.request(UNPUBLISH, { input: { appId: w.a, environmentId: w.env, kind: 'NATIVE_CLIENT' } })).unpublishApp)).toEqual(['FORBIDDEN']);
      const { job } = noUserErrors((await t.admin.request(UNPUBLISH, { input: { appId: w.a, environmentId: w.env, kind: 'NATIVE_CLIENT', sync: true } })).unpublishApp);
      expect(job.stages[1].message).toMatch(/Removed 2 Management apps/);
      const apps = (await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on Environment { managementApps { id } } } }`, { id: w.env })).node.managementApps;
      expect(apps).toEqual([]);
      const deleted = await t.admin.request(`mutation ($id: ID!) { deleteClientBinary(input: { id: $id }) { userErrors { code } } }`, { id: ios });
      expect(deleted.deleteClientBinary.userErrors).toEqual([]);
    });

    it('lets a MEMBER publish and unpublish services, and refuses a VIEWER', async () => {
      const w = await world(t.admin);
      const member = await t.as('MEMBER');
      const viewer = await t.as('VIEWER');
      expect(codes(await publish({ appId: w.a, environmentId: w.env }, viewer))).toEqual(['FORBIDDEN']);
      noUserErrors(await publish({ appId: w.a, environmentId: w.env }, member));
      expect(codes((await viewer.request(UNPUBLISH, { input: { appId: w.a, environmentId: w.env, kind: 'SERVICES_AND_WEB' } })).unpublishApp)).toEqual(['FORBIDDEN']);
      noUserErrors((await member.request(UNPUBLISH, { input: { appId: w.a, environmentId: w.env, kind: 'SERVICES_AND_WEB', sync: true } })).unpublishApp);
    });
  });

  describe('services jobs are all-or-nothing too (R23-R25)', () => {
    const state = async (admin: Client, w: { a: string; env: string }) => ({
      environment: (await admin.request(ENVIRONMENT, { id: w.env })).node,
      statuses: (await admin.request(STATUSES, { id: w.a })).node.environmentStatuses.map((row: Record<string, unknown>) => ({ ...row, latestServicesJob: undefined })),
    });

    it('rolls back on a fault in the last stage', async () => {
      const t = await startServer({}, { runtimeFault: (stage, job) => (stage === 'ACTIVATE' && job.kind === 'SERVICES_AND_WEB' && job.request.includes('"webClientBinaryId":null') === false ? 'injected: activation refused' : null) });
      try {
        const w = await world(t.admin);
        noUserErrors((await t.admin.request(PUBLISH, { input: { appId: w.b, environmentId: w.env, sync: true } })).publishServicesAndWeb);
        const before = await state(t.admin, w);
        const { job } = noUserErrors((await t.admin.request(PUBLISH, { input: { appId: w.a, environmentId: w.env, sync: true, webClientBinaryId: await binary(t.admin, w.a, 'WEB', '1.0') } })).publishServicesAndWeb);
        expect(job).toMatchObject({ state: 'FAILED', error: { code: 'RUNTIME_FAULT', stage: 'ACTIVATE', message: 'injected: activation refused' } });
        expect(await state(t.admin, w)).toEqual(before);
      } finally {
        await t.stop();
      }
    });

    it('rolls back a canceled publish and one interrupted by a shutdown, and the environment is AVAILABLE after', async () => {
      const dataDir = (await import('node:fs')).mkdtempSync(`${(await import('node:os')).tmpdir()}/shipyard-svc-`);
      // Stages long enough that the shutdown lands inside ACTIVATE even on a loaded machine (at 60 ms
      // the job sometimes finished first).
      const t = await startServer({ dataDir, publishStageDelayMs: 300 });
      const w = await world(t.admin);
      noUserErrors((await t.admin.request(PUBLISH, { input: { appId: w.b, environmentId: w.env, sync: true } })).publishServicesAndWeb);
      const before = await state(t.admin, w);
      const running = (until: string) => (job: { state: string }) =>
        (job as unknown as { stages: { key: string; state: string }[] }).stages.some((s) => s.key === until && s.state === 'RUNNING');

      const canceled = noUserErrors((await t.admin.request(PUBLISH, { input: { appId: w.a, environmentId: w.env } })).publishServicesAndWeb).job;
      await waitForJob(t.admin, canceled.id, running('DEPLOY_WEB_CLIENT'));
      await t.admin.request(`mutation ($id: ID!) { cancelPublishJob(input: { jobId: $id }) { userErrors { code } } }`, { id: canceled.id });
      expect((await waitForJob(t.admin, canceled.id)).state).toBe('CANCELED');
      expect(await state(t.admin, w)).toEqual(before);

      const interrupted = noUserErrors((await t.admin.request(PUBLISH, { input: { appId: w.a, environmentId: w.env } })).publishServicesAndWeb).job;
      await waitForJob(t.admin, interrupted.id, running('ACTIVATE'));
      await t.stop({ keepData: true });
      const again = await startServer({ dataDir });
      try {
        const job = (await again.admin.request(`query ($id: ID!) { node(id: $id) { ... on PublishJob { state error { code } environment { status } } } }`, { id: interrupted.id })).node;
        expect(job).toEqual({ state: 'FAILED', error: { code: 'INTERRUPTED' }, environment: { status: 'AVAILABLE' } });
        expect(await state(again.admin, w)).toEqual(before);
      } finally {
        await again.stop();
      }
    });
  });

});

describe('App.environmentStatuses is batched (dashboard)', () => {
  it('takes as many SQL statements for 50 apps as for 5', { timeout: 120_000 }, async () => {
    let statements = 0;
    // Transaction control is left out: the dialects report it differently (PostgreSQL's driver
    // sends BEGIN and COMMIT as statements), and a read takes none.
    const t = await startServer({}, { onStatement: (sql) => void (/^\s*(begin|commit|rollback)\b/i.test(sql) || (statements += 1)) });
    try {
      const admin = new Actor(t.admin);
      const environments: string[] = [];
      for (let i = 0; i < 4; i += 1) environments.push(await admin.environment({ name: `dash-${i}`, managementEnabled: true }));
      const DASHBOARD = `{ apps(first: 50) { nodes { environmentStatuses { environment { name status } latestNativeJob { state stages { key state } } latestServicesJob { state } } } } }`;
      // The fewest of three identical reads: background work (sweeps, probes, a publish's last
      // commit) may add its statements to any one of them, the more so on PostgreSQL, whose
      // statements interleave with a request's at every await.
      const countFor = async () => {
        let fewest = Number.POSITIVE_INFINITY;
        let rows = 0;
        for (let i = 0; i < 3; i += 1) {
          statements = 0;
          const data = await t.admin.request(DASHBOARD);
          fewest = Math.min(fewest, statements);
          rows = data.apps.nodes.flatMap((app: { environmentStatuses: unknown[] }) => app.environmentStatuses).length;
        }
        return { statements: fewest, rows };
      };
      const addApps = async (from: number, to: number) => {
        for (let i = from; i < to; i += 1) {
          const app = await admin.app({ name: `Dash${i}` });
          const env = environments[i % environments.length];
          noUserErrors((await t.admin.request(PUBLISH, { input: { appId: app, environmentId: env, sync: true } })).publishServicesAndWeb);
          noUserErrors((await t.admin.request(PUBLISH_NATIVE, { input: nativeDraft({ appId: app, environmentId: env }, { removePlatforms: ['WINDOWS'], sync: true }) })).publishNativeClient);
        }
      };
      await addApps(0, 5);
      const five = await countFor();
      await addApps(5, 50);
      const fifty = await countFor();
      expect(five.rows).toBe(5 * 4);
      expect(fifty.rows).toBe(50 * 4);
      expect(fifty.statements).toBe(five.statements);
      // Authentication, the page of apps and its count, the account's environments, what the
      // embedded runtime holds (6: Management apps, versions, targets; identity services, app
      // services, web clients), the ids of the newest jobs, environment statuses (2). These
      // finished jobs' rows and stages were read when each sync publish answered, and kept.
      // (Counted alone, without a background statement that used to fall into the window.)
      expect(fifty.statements).toBe(13);
    } finally {
      await t.stop();
    }
  });
});
