import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, noUserErrors, startServer, testDatabaseEnv, type TestServer } from './kit.js';
import { binary, JOB, MANAGEMENT, PUBLISH_NATIVE, publishWorld, waitForJob, type PublishWorld } from './publish-kit.js';

const CANCEL = `mutation ($id: ID!) { cancelPublishJob(input: { jobId: $id }) { job { id state } userErrors { code message } } }`;
const BUSY_MESSAGE = 'Server is busy processing another request. Please try after some time';

const draftPublish = (w: PublishWorld, extra: Record<string, unknown> = {}) => ({
  appId: w.appId,
  environmentId: w.environmentId,
  option: 'APP_STORE',
  workflowState: 'DRAFT',
  removePlatforms: ['WINDOWS'],
  ...extra,
});

describe('one active job per environment (R10)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ publishStageDelayMs: 20 });
  });
  afterAll(() => t.stop());

  it('accepts exactly one of 50 simultaneous publishes, 20 times over', { timeout: 120_000 }, async () => {
    // Stages long enough that the accepted job is surely still active while the others arrive;
    // canceling it ends each round at once.
    const race = await startServer({ publishStageDelayMs: 5000 });
    try {
      await raceRounds(race);
    } finally {
      await race.stop();
    }
  });

  const raceRounds = async (t: TestServer) => {
    const w = await publishWorld(t.admin);
    for (let round = 0; round < 20; round += 1) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => t.admin.request(PUBLISH_NATIVE, { input: draftPublish(w) }).then((data) => data.publishNativeClient)),
      );
      const accepted = answers.filter((answer) => answer.job !== null);
      const refused = answers.filter((answer) => answer.job === null);
      expect(accepted, `round ${round}`).toHaveLength(1);
      expect(refused.every((answer) => answer.userErrors[0].code === 'ENVIRONMENT_BUSY' && answer.userErrors[0].message === BUSY_MESSAGE)).toBe(true);
      noUserErrors((await t.admin.request(CANCEL, { id: accepted[0].job.id })).cancelPublishJob);
      await waitForJob(t.admin, accepted[0].job.id);
    }
    const { publishJobs } = await t.admin.request(`query ($env: ID) { publishJobs(environmentId: $env, first: 100) { totalCount nodes { trackingId } } }`, { env: w.environmentId });
    expect(publishJobs.totalCount).toBe(20);
    expect(new Set(publishJobs.nodes.map((job: { trackingId: string }) => job.trackingId)).size).toBe(20);
  };

  it('is BUSY while a job is active, with that job as activeJob, and AVAILABLE after', async () => {
    const w = await publishWorld(t.admin);
    const { job } = noUserErrors((await t.admin.request(PUBLISH_NATIVE, { input: draftPublish(w) })).publishNativeClient);
    const during = await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on Environment { status activeJob { id } } } }`, { id: w.environmentId });
    expect(during.node).toEqual({ status: 'BUSY', activeJob: { id: job.id } });
    const refused = await t.admin.request(`mutation ($id: ID!) { deleteEnvironment(input: { id: $id }) { userErrors { code } } }`, { id: w.environmentId });
    expect(refused.deleteEnvironment.userErrors).toEqual([{ code: 'ENVIRONMENT_BUSY' }]);
    await waitForJob(t.admin, job.id);
    const after = await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on Environment { status activeJob { id } } } }`, { id: w.environmentId });
    expect(after.node).toEqual({ status: 'AVAILABLE', activeJob: null });
  });

  it('runs publishes to two environments at the same time', async () => {
    const a = await publishWorld(t.admin);
    const b = await publishWorld(t.admin);
    const [jobA, jobB] = await Promise.all(
      [a, b].map(async (w) => noUserErrors((await t.admin.request(PUBLISH_NATIVE, { input: draftPublish(w) })).publishNativeClient).job),
    );
    await waitForJob(t.admin, jobA.id, (job) => job.state === 'RUNNING');
    const other = await t.admin.request(JOB, { id: jobB.id });
    expect(other.node.state).toBe('RUNNING');
    expect((await waitForJob(t.admin, jobA.id)).state).toBe('SUCCEEDED');
    expect((await waitForJob(t.admin, jobB.id)).state).toBe('SUCCEEDED');
  });
});

describe('cancel (R24) and all-or-nothing (R23)', () => {
  it('cancels a QUEUED job at once', async () => {
    const t = await startServer({ publishStageDelayMs: 50 }, { maxConcurrentJobs: 1 });
    try {
      const a = await publishWorld(t.admin);
      const b = await publishWorld(t.admin);
      const first = noUserErrors((await t.admin.request(PUBLISH_NATIVE, { input: draftPublish(a) })).publishNativeClient).job;
      const queued = noUserErrors((await t.admin.request(PUBLISH_NATIVE, { input: draftPublish(b) })).publishNativeClient).job;
      expect((await t.admin.request(JOB, { id: queued.id })).node.state).toBe('QUEUED');
      const canceled = (await t.admin.request(CANCEL, { id: queued.id })).cancelPublishJob;
      expect(canceled).toEqual({ job: { id: queued.id, state: 'CANCELED' }, userErrors: [] });
      const job = (await t.admin.request(JOB, { id: queued.id })).node;
      expect(job.stages.every((stage: { state: string }) => stage.state === 'CANCELED')).toBe(true);
      expect(job.environment.status).toBe('AVAILABLE');
      expect((await t.admin.request(CANCEL, { id: queued.id })).cancelPublishJob.userErrors.map((e: { code: string }) => e.code)).toEqual(['JOB_NOT_CANCELABLE']);
      expect((await waitForJob(t.admin, first.id)).state).toBe('SUCCEEDED');
    } finally {
      await t.stop();
    }
  });

  it('cancels a RUNNING job at its next safe point and rolls back what it changed', async () => {
    const t = await startServer({ publishStageDelayMs: 40 });
    try {
      const w = await publishWorld(t.admin);
      const base = { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'ACTIVE', targets: { userIds: [w.users.ann] } };
      noUserErrors((await t.admin.request(PUBLISH_NATIVE, { input: { ...base, sync: true, binaryIds: [await binary(t.admin, w.appId, 'IOS_PHONE', '1.0'), await binary(t.admin, w.appId, 'WINDOWS', '1.0')] } })).publishNativeClient);
      const before = (await t.admin.request(MANAGEMENT, { id: w.environmentId })).node;

      const { job } = noUserErrors(
        (await t.admin.request(PUBLISH_NATIVE, {
          input: { ...base, signAction: 'WRAP_AND_SIGN', binaryIds: [await binary(t.admin, w.appId, 'IOS_PHONE', '2.0')], removePlatforms: ['WINDOWS'], targets: { groupIds: [w.groups.Team] } },
        })).publishNativeClient,
      );
      // Wait until the job has changed Management (targets applied), then cancel.
      await waitForJob(t.admin, job.id, (j) => (j as unknown as { stages: { key: string; state: string }[] }).stages.some((s) => s.key === 'SET_WORKFLOW_STATE' && s.state === 'RUNNING'));
      const canceling = (await t.admin.request(CANCEL, { id: job.id })).cancelPublishJob;
      expect(canceling.job.state).toBe('CANCELING');
      const final = await waitForJob(t.admin, job.id);
      expect(final.state).toBe('CANCELED');
      expect(final.environment.status).toBe('AVAILABLE');
      expect((await t.admin.request(MANAGEMENT, { id: w.environmentId })).node).toEqual(before);
    } finally {
      await t.stop();
    }
  });

  it('lets a MEMBER cancel only their own jobs', async () => {
    const t = await startServer({ publishStageDelayMs: 30 });
    try {
      const member = await t.as('MEMBER');
      const w = await publishWorld(t.admin);
      const adminJob = noUserErrors((await t.admin.request(PUBLISH_NATIVE, { input: draftPublish(w) })).publishNativeClient).job;
      expect((await member.request(CANCEL, { id: adminJob.id })).cancelPublishJob.userErrors.map((e: { code: string }) => e.code)).toEqual(['FORBIDDEN']);
      await waitForJob(t.admin, adminJob.id);
      const own = noUserErrors((await member.request(PUBLISH_NATIVE, { input: draftPublish(w, { option: 'PREVIEW' }) })).publishNativeClient).job;
      expect((await member.request(CANCEL, { id: own.id })).cancelPublishJob.userErrors).toEqual([]);
      expect((await waitForJob(t.admin, own.id)).state).toBe('CANCELED');
    } finally {
      await t.stop();
    }
  });

  it('fails with code, message and stage on a runtime fault, leaving Management as it was', async () => {
    const t = await startServer({}, { runtimeFault: (stage, job) => (stage === 'NOTIFY_TARGETS' && job.request.includes('"WRAP_AND_SIGN"') ? 'injected: Management refused the notification' : null) });
    try {
      const w = await publishWorld(t.admin);
      const base = { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'ACTIVE', targets: { userIds: [w.users.ann] }, sync: true };
      noUserErrors((await t.admin.request(PUBLISH_NATIVE, { input: { ...base, binaryIds: [await binary(t.admin, w.appId, 'IOS_PHONE', '1.0')] } })).publishNativeClient);
      const before = (await t.admin.request(MANAGEMENT, { id: w.environmentId })).node;
      const notificationsBefore = (await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on DirectoryUser { notifications { id } } } }`, { id: w.users.ann })).node.notifications;

      const { job } = noUserErrors(
        (await t.admin.request(PUBLISH_NATIVE, {
          input: { ...base, signAction: 'WRAP_AND_SIGN', binaryIds: [await binary(t.admin, w.appId, 'IOS_PHONE', '2.0'), await binary(t.admin, w.appId, 'ANDROID_PHONE', '2.0')], targets: { groupIds: [w.groups.Team] } },
        })).publishNativeClient,
      );
      expect(job.state).toBe('FAILED');
      expect(job.error).toEqual({ code: 'RUNTIME_FAULT', message: 'injected: Management refused the notification', stage: 'NOTIFY_TARGETS' });
      expect(job.stages.at(-1)).toMatchObject({ key: 'NOTIFY_TARGETS', state: 'FAILED' });
      expect(job.environment.status).toBe('AVAILABLE');
      expect((await t.admin.request(MANAGEMENT, { id: w.environmentId })).node).toEqual(before);
      const notificationsAfter = (await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on DirectoryUser { notifications { id } } } }`, { id: w.users.ann })).node.notifications;
      expect(notificationsAfter).toEqual(notificationsBefore);
    } finally {
      await t.stop();
    }
  });
});

describe('restart recovery (R25)', () => {
  const startChild = async (dataDir: string, delay: number) => {
    const databaseEnv = await testDatabaseEnv(dataDir);
    return new Promise<{ child: ChildProcess; url: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env: { ...process.env, DATA_DIR: dataDir, PORT: '0', SEED: 'none', LOG_LEVEL: 'silent', PUBLISH_STAGE_DELAY_MS: String(delay), ADMIN_TOKEN: 'restart-test-admin-token-0001', ...databaseEnv },
      });
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match?.[1]) resolve({ child, url: match[1] });
      });
      child.once('exit', () => reject(new Error(`server exited: ${output}`)));
    });
  };

  it('rolls back a job whose server was killed mid-way, ends it FAILED INTERRUPTED, and publishes again', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shipyard-kill-'));
    let server = await startChild(dataDir, 200);
    try {
      const admin = new Client(`${server.url}/graphql`, 'restart-test-admin-token-0001');
      const w = await publishWorld(admin);
      const base = { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'DRAFT' };
      const first = noUserErrors((await admin.request(PUBLISH_NATIVE, { input: { ...base, binaryIds: [await binary(admin, w.appId, 'IOS_PHONE', '1.0')] } })).publishNativeClient).job;
      await waitForJob(admin, first.id);
      const before = (await admin.request(MANAGEMENT, { id: w.environmentId })).node;

      const { job } = noUserErrors(
        (await admin.request(PUBLISH_NATIVE, { input: { ...base, binaryIds: [await binary(admin, w.appId, 'IOS_PHONE', '2.0')], removePlatforms: ['ANDROID_PHONE'] } })).publishNativeClient,
      );
      await waitForJob(admin, job.id, (j) => (j as unknown as { stages: { key: string; state: string }[] }).stages.some((s) => s.key === 'APPLY_TARGETS' && s.state === 'RUNNING'));
      expect((await admin.request(MANAGEMENT, { id: w.environmentId })).node).not.toEqual(before);
      server.child.kill('SIGKILL');
      await new Promise((resolve) => server.child.once('exit', resolve));

      server = await startChild(dataDir, 0);
      const again = new Client(`${server.url}/graphql`, 'restart-test-admin-token-0001');
      // Recovery runs beside serving (the rollback awaits the database): wait for the job to end.
      const recovered = await waitForJob(again, job.id);
      expect(recovered).toMatchObject({ state: 'FAILED', error: { code: 'INTERRUPTED', stage: 'APPLY_TARGETS' }, environment: { status: 'AVAILABLE' } });
      expect((await again.request(MANAGEMENT, { id: w.environmentId })).node).toEqual(before);
      const next = noUserErrors((await again.request(PUBLISH_NATIVE, { input: { ...base, sync: true, binaryIds: [(await again.request(`query ($id: ID!) { node(id: $id) { ... on App { clientBinaries(platform: IOS_PHONE, first: 1) { nodes { id } } } } }`, { id: w.appId })).node.clientBinaries.nodes[0].id] } })).publishNativeClient);
      expect(next.job.state).toBe('SUCCEEDED');
    } finally {
      server.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('runs a job that was still QUEUED when the server stopped', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shipyard-queued-'));
    try {
      const first = await startServer({ dataDir, publishStageDelayMs: 200 }, { maxConcurrentJobs: 1 });
      const a = await publishWorld(first.admin);
      const b = await publishWorld(first.admin);
      noUserErrors((await first.admin.request(PUBLISH_NATIVE, { input: draftPublish(a) })).publishNativeClient);
      const queued = noUserErrors((await first.admin.request(PUBLISH_NATIVE, { input: draftPublish(b) })).publishNativeClient).job;
      await first.stop({ keepData: true });
      const second = await startServer({ dataDir, publishStageDelayMs: 0 });
      try {
        expect((await waitForJob(second.admin, queued.id)).state).toBe('SUCCEEDED');
        const { publishJobs } = await second.admin.request('{ publishJobs(states: [QUEUED, RUNNING, CANCELING]) { totalCount } }');
        expect(publishJobs.totalCount).toBe(0);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
