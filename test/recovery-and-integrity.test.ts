import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHILD_ADMIN_TOKEN, startChildServer, type ChildServer } from './child-server.js';
import { Client, noUserErrors, startServer, testDialect, testSql, testSqlSync } from './kit.js';
import { binary, JOB_FIELDS, MANAGEMENT, PUBLISH_NATIVE, publishWorld, waitForJob } from './publish-kit.js';

const draft = (w: { appId: string; environmentId: string }) => ({ appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'DRAFT', removePlatforms: ['WINDOWS'] });
const stageRunning = (key: string) => (job: { state: string }) => (job as unknown as { stages: { key: string; state: string }[] }).stages.some((s) => s.key === key && s.state === 'RUNNING');

// Two raw connections to SQLite's file; test/postgres-layer.test.ts holds PostgreSQL's index to the same.
describe.runIf(testDialect === 'sqlite')('the partial unique index holds one active job per environment on its own (R10)', () => {
  it('lets exactly one active job in per environment when the up-front BUSY check is bypassed, and two once the index is dropped', async () => {
    const t = await startServer();
    const a = new Database(join(t.dataDir, 'shipyard.db'));
    const b = new Database(join(t.dataDir, 'shipyard.db'));
    try {
      for (const connection of [a, b]) connection.pragma('busy_timeout = 5000');
      const w = await publishWorld(t.admin);
      noUserErrors((await t.admin.request(PUBLISH_NATIVE, { input: { ...draft(w), sync: true } })).publishNativeClient);
      const template = a.prepare('select * from publish_jobs order by id desc limit 1').get() as Record<string, unknown>;
      let tracking = 1000;
      const insertActive = (connection: Database.Database, environmentId: unknown) => {
        tracking += 1;
        try {
          // A copy of a finished job, made active again for the environment.
          const row: Record<string, unknown> = { ...template, tracking_number: tracking, environment_id: environmentId, state: 'QUEUED', finished_at: null, error_code: null, error_message: null, error_stage: null };
          delete row.id;
          const columns = Object.keys(row);
          connection.prepare(`insert into publish_jobs (${columns.join(', ')}) values (${columns.map((c) => `@${c}`).join(', ')})`).run(row);
          return 'inserted';
        } catch (error) {
          return (error as { code?: string }).code;
        }
      };
      const activeJobs = (connection: Database.Database, environmentId: unknown) =>
        (connection.prepare(`select count(*) as n from publish_jobs where environment_id = ? and state in ('QUEUED', 'RUNNING', 'CANCELING')`).get(environmentId) as { n: number }).n;

      // Two connections both make the up-front check and see a free environment, then both insert.
      expect([activeJobs(a, template.environment_id), activeJobs(b, template.environment_id)]).toEqual([0, 0]);
      expect([insertActive(a, template.environment_id), insertActive(b, template.environment_id)]).toEqual(['inserted', 'SQLITE_CONSTRAINT_UNIQUE']);
      expect(activeJobs(a, template.environment_id)).toBe(1);

      // The store's own insert path, without the service's BUSY check in front, is held the same way.
      const other = await publishWorld(t.admin);
      const otherEnvironment = (a.prepare('select max(id) as id from environments').get() as { id: number }).id;
      const principal = { accountId: Number(template.account_id), userId: Number(template.requested_by), role: 'ADMIN' as const, tokenId: 0 };
      const newJob = { appId: Number(template.app_id), environmentId: otherEnvironment, kind: 'NATIVE_CLIENT' as const, action: 'PUBLISH' as const, sync: false, request: draft(other), warnings: [], stages: [{ key: 'VALIDATE' as const, title: 'Validate' }] };
      const first = await t.server.domain.jobs.create(principal, newJob);
      const second = await t.server.domain.jobs.create(principal, newJob);
      expect(first).not.toBeNull();
      expect(second).toBeNull();

      // Control: without the index nothing else stops a second active job.
      a.exec('drop index publish_jobs_one_active_per_environment');
      expect(insertActive(b, template.environment_id)).toBe('inserted');
      expect(activeJobs(a, template.environment_id)).toBe(2);
    } finally {
      a.close();
      b.close();
      await t.stop();
    }
  });
});

describe('store notifications are rolled back with the job (R23, R34)', () => {
  it('leaves no notifications when a fault strikes after NOTIFY_TARGETS has written them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shipyard-notify-'));
    let writtenBeforeFault = -1;
    // The runner's fault hook is synchronous, so this reads from outside the process's event loop.
    const notificationsOf = (jobId: number) => testSqlSync<{ n: number }>(dataDir, 'select count(*) as n from store_notifications where publish_job_id = ?', [jobId])[0]?.n ?? -1;
    const t = await startServer(
      { dataDir },
      {
        runtimeFault: (stage, job, moment) => {
          if (stage !== 'NOTIFY_TARGETS' || moment !== 'after' || !job.request.includes('"WRAP_AND_SIGN"')) return null;
          writtenBeforeFault = notificationsOf(job.id);
          return 'injected: the store went away after notifying';
        },
      },
    );
    try {
      const w = await publishWorld(t.admin);
      const base = { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'ACTIVE', sync: true };
      // A first publish creates the Management app and notifies ann, so the rollback cannot lean on a cascade.
      noUserErrors((await t.admin.request(PUBLISH_NATIVE, { input: { ...base, targets: { userIds: [w.users.ann] }, binaryIds: [await binary(t.admin, w.appId, 'IOS_PHONE', '1.0')] } })).publishNativeClient);
      const NOTIFICATIONS = `query ($ids: [ID!]!) { nodes(ids: $ids) { ... on DirectoryUser { username notifications { id message } } } }`;
      const users = [w.users.ann, w.users.bea, w.users.cal];
      const before = (await t.admin.request(NOTIFICATIONS, { ids: users })).nodes;
      const managementBefore = (await t.admin.request(MANAGEMENT, { id: w.environmentId })).node;
      expect(before[0].notifications).toHaveLength(1);

      const { job } = noUserErrors(
        (await t.admin.request(PUBLISH_NATIVE, {
          input: { ...base, signAction: 'WRAP_AND_SIGN', binaryIds: [await binary(t.admin, w.appId, 'IOS_PHONE', '2.0')], targets: { userIds: [w.users.ann], groupIds: [w.groups.Team] } },
        })).publishNativeClient,
      );
      expect(job).toMatchObject({ state: 'FAILED', error: { code: 'RUNTIME_FAULT', stage: 'NOTIFY_TARGETS' } });
      // ann, bea and cal had each been notified when the fault struck.
      expect(writtenBeforeFault).toBe(3);
      expect((await t.admin.request(NOTIFICATIONS, { ids: users })).nodes).toEqual(before);
      expect((await t.admin.request(MANAGEMENT, { id: w.environmentId })).node).toEqual(managementBefore);
    } finally {
      await t.stop();
    }
  });
});

const SERVICES_PUBLISH = `mutation ($input: PublishServicesAndWebInput!) {
  publishServicesAndWeb(input: $input) { job { ${JOB_FIELDS} } userErrors { code message field } }
}`;
const SERVICES_STATE = `query ($env: ID!, $app: ID!) {
  env: node(id: $env) { ... on Environment { status identityServices { name providerType publishedBy { name } usedBy { name } } } }
  app: node(id: $app) { ... on App { environmentStatuses { environment { name } servicesAndWeb webClient { version } } } }
}`;

describe('restart recovery after a crash (R25)', () => {
  interface Started {
    server: ChildServer;
    admin: Client;
  }
  /** Child servers over one data directory, each killed like a crash at the end. */
  const crashWorld = async (test: (start: (env?: Record<string, string>) => Promise<Started>, dataDir: string) => Promise<void>) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shipyard-crash-'));
    const servers: ChildServer[] = [];
    try {
      await test(async (env = {}) => {
        const server = await startChildServer(dataDir, env);
        servers.push(server);
        return { server, admin: new Client(`${server.url}/graphql`, CHILD_ADMIN_TOKEN) };
      }, dataDir);
    } finally {
      for (const server of servers) await server.kill();
      rmSync(dataDir, { recursive: true, force: true });
    }
  };

  it('ends a job found CANCELING after a crash CANCELED, rolled back, its environment AVAILABLE', async () => {
    await crashWorld(async (start, dataDir) => {
      const { server, admin } = await start({ PUBLISH_STAGE_DELAY_MS: '200' });
      const w = await publishWorld(admin);
      const base = { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'DRAFT' };
      const first = noUserErrors((await admin.request(PUBLISH_NATIVE, { input: { ...base, binaryIds: [await binary(admin, w.appId, 'IOS_PHONE', '1.0')] } })).publishNativeClient).job;
      await waitForJob(admin, first.id);
      const before = (await admin.request(MANAGEMENT, { id: w.environmentId })).node;
      const { job } = noUserErrors((await admin.request(PUBLISH_NATIVE, { input: { ...base, binaryIds: [await binary(admin, w.appId, 'IOS_PHONE', '2.0')], removePlatforms: ['ANDROID_PHONE'] } })).publishNativeClient);
      await waitForJob(admin, job.id, stageRunning('APPLY_TARGETS'));
      expect((await admin.request(MANAGEMENT, { id: w.environmentId })).node).not.toEqual(before);
      await server.kill();
      // The process died just after a cancel was recorded. A live cancel rolls back within
      // milliseconds, too soon to kill the process in between, so the state is set as it would be found.
      const changed = await testSql(dataDir, `update publish_jobs set state = 'CANCELING' where tracking_number = ? and state = 'RUNNING' returning id`, [Number(job.trackingId.slice(4))]);
      expect(changed).toHaveLength(1);

      const again = await start();
      // Recovery runs beside serving (the rollback awaits the database): wait for the job to end.
      const recovered = await waitForJob(again.admin, job.id);
      expect(recovered).toMatchObject({ state: 'CANCELED', error: null, environment: { status: 'AVAILABLE' } });
      expect(recovered.stages.filter((stage: { state: string }) => stage.state === 'RUNNING' || stage.state === 'PENDING')).toEqual([]);
      expect((await again.admin.request(MANAGEMENT, { id: w.environmentId })).node).toEqual(before);
    });
  });

  it('rolls back a services-and-web job whose server was killed mid-way: FAILED INTERRUPTED, runtime state as before', async () => {
    await crashWorld(async (start) => {
      const { server, admin } = await start({ PUBLISH_STAGE_DELAY_MS: '200' });
      const created = await admin.request(
        `mutation {
          a: createApp(input: { name: "CrashShop", identityServices: [{ name: "Login", providerType: "UserStore" }] }) { app { id } }
          b: createApp(input: { name: "CrashTill", identityServices: [{ name: "login", providerType: "OAuth2" }] }) { app { id } }
          env: createEnvironment(input: { name: "crash-svc" }) { environment { id } }
        }`,
      );
      const [a, b, env] = [created.a.app.id, created.b.app.id, created.env.environment.id] as [string, string, string];
      const first = noUserErrors((await admin.request(SERVICES_PUBLISH, { input: { appId: b, environmentId: env } })).publishServicesAndWeb).job;
      await waitForJob(admin, first.id);
      const before = await admin.request(SERVICES_STATE, { env, app: a });

      const web = await binary(admin, a, 'WEB', '1.0');
      const { job } = noUserErrors((await admin.request(SERVICES_PUBLISH, { input: { appId: a, environmentId: env, webClientBinaryId: web } })).publishServicesAndWeb);
      await waitForJob(admin, job.id, stageRunning('ACTIVATE'));
      // Identity services and the web client have changed by now.
      expect((await admin.request(SERVICES_STATE, { env, app: a })).env.identityServices).not.toEqual(before.env.identityServices);
      await server.kill();

      const again = await start();
      // Recovery runs beside serving (the rollback awaits the database): wait for the job to end.
      const recovered = await waitForJob(again.admin, job.id);
      expect(recovered).toMatchObject({ state: 'FAILED', error: { code: 'INTERRUPTED', stage: 'ACTIVATE' }, environment: { status: 'AVAILABLE' } });
      expect(await again.admin.request(SERVICES_STATE, { env, app: a })).toEqual(before);
    });
  });
});
