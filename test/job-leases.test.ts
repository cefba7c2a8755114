import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/client.js';
import { publishJobs, publishStages } from '../src/db/schema.js';
import type { RemoteRuntimeFactory } from '../src/domain/runtimes.js';
import { DEFAULT_HTTP_RUNTIME_OPTIONS, HttpRuntime } from '../src/runtime/http-client.js';
import type { Runtime } from '../src/runtime/runtime.js';
import { startChildServer, CHILD_ADMIN_TOKEN, type ChildServer } from './child-server.js';
import { postgresTestDatabase, redisTestPrefix, type TestDatabase } from './databases.js';
import { closeInstances, eventually, INSTANCES_ADMIN_TOKEN, startInstances, type Instance } from './instances.js';
import { Client, noUserErrors, startServer, type TestServer } from './kit.js';
import { binary, JOB, MANAGEMENT, PUBLISH_NATIVE, publishWorld, type PublishWorld } from './publish-kit.js';
import { startRuntimeResponder, type RuntimeResponder } from './runtime-responder.js';

/**
 * R59: publish jobs run under leases shared through PostgreSQL by real server processes. Leases
 * are short (1.5 s, renewed every 0.5 s) so that recovery takes seconds; every wait is a bounded poll.
 */
const LEASE_MS = '1500';

/** What one test started, cleaned up after it whatever happened. */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Job {
  id: string;
  trackingId: string;
  state: string;
  error: { code: string } | null;
  stages: { key: string; state: string; message: string | null }[];
  environment: { status: string };
}

interface Cluster {
  instances: Instance[];
  database: TestDatabase;
  responder: RuntimeResponder;
  /** Statements straight to the shared database: which instance holds what. */
  sql: pg.Client;
  admin(instance: Instance): Client;
}

async function cluster(n: number, env: Record<string, string>, options: { redis?: boolean } = {}): Promise<Cluster> {
  const database = await postgresTestDatabase();
  cleanups.push(() => database.drop());
  const blobDir = mkdtempSync(join(tmpdir(), 'shipyard-leases-blobs-'));
  cleanups.push(async () => rmSync(blobDir, { recursive: true, force: true }));
  const responder = await startRuntimeResponder();
  cleanups.push(() => responder.close());
  const shared = {
    DATABASE_URL: database.url,
    BLOB_DIR: blobDir,
    JOB_LEASE_MS: LEASE_MS,
    ...(options.redis === false ? {} : { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_PREFIX: redisTestPrefix() }),
    ...env,
  };
  // One after the other: two instances bootstrapping one empty database at once is another suite's subject.
  const instances: Instance[] = [];
  cleanups.push(async () => {
    for (const instance of instances) if (!instance.exited) instance.child.kill('SIGCONT');
    await closeInstances(instances);
  });
  for (let i = 0; i < n; i += 1) instances.push(...(await startInstances(1, { env: shared })));
  const sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  cleanups.push(() => sql.end());
  return { instances, database, responder, sql, admin: (instance) => new Client(`${instance.url}/graphql`, INSTANCES_ADMIN_TOKEN) };
}

/** An app and an environment on the runtime server, probed so that it is AVAILABLE. */
async function urlWorld(c: Cluster, admin: Client): Promise<PublishWorld> {
  const w = await publishWorld(admin, { environment: { url: `${c.responder.url}/leases-${Math.random().toString(36).slice(2)}`, runtimeToken: c.responder.token } });
  const { checkEnvironment } = await admin.request(`mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { environment { status } } }`, { id: w.environmentId });
  expect(checkEnvironment.environment.status).toBe('AVAILABLE');
  return w;
}

const publish = async (admin: Client, w: PublishWorld, version: string, extra: Record<string, unknown> = {}): Promise<Job> =>
  noUserErrors(
    (await admin.request(PUBLISH_NATIVE, {
      input: { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'DRAFT', binaryIds: [await binary(admin, w.appId, 'IOS_PHONE', version)], ...extra },
    })).publishNativeClient,
  ).job as Job;

const jobWhen = (admin: Client, id: string, done: (job: Job) => boolean, what: string, timeoutMs = 15_000): Promise<Job> =>
  eventually(
    async () => {
      const { node } = await admin.request<{ node: Job }>(JOB, { id });
      return done(node) ? node : null;
    },
    { timeoutMs, everyMs: 50, what },
  );

const isFinal = (job: Job) => ['SUCCEEDED', 'FAILED', 'CANCELED'].includes(job.state);
const stageRunning = (key: string) => (job: Job) => job.stages.some((stage) => stage.key === key && stage.state === 'RUNNING');

/** What the app's environment shows: its status and what its runtime holds (Management). */
const published = async (admin: Client, w: PublishWorld) => ({
  status: (await admin.request(`query ($id: ID!) { node(id: $id) { ... on Environment { status } } }`, { id: w.environmentId })).node.status as string,
  management: (await admin.request(MANAGEMENT, { id: w.environmentId })).node as unknown,
});

const instanceIdOf = (instance: Instance): string => readFileSync(join(instance.dataDir, 'instance-id'), 'utf8').trim();

/** The instance holding the job's lease now, from the shared database. */
async function holderOf(c: Cluster, job: Job): Promise<Instance> {
  const { rows } = await c.sql.query<{ lease_owner: string | null }>('select lease_owner from publish_jobs where tracking_number = $1', [Number(job.trackingId.slice(4))]);
  const holder = c.instances.find((instance) => instanceIdOf(instance) === rows[0]?.lease_owner);
  if (!holder) throw new Error(`no instance holds ${job.trackingId} (owner ${rows[0]?.lease_owner})`);
  return holder;
}

const other = (c: Cluster, instance: Instance): Instance => c.instances.find((candidate) => candidate !== instance) as Instance;

// Real processes, a world to publish to and a job or two each: longer than the default 30 s when a
// mechanism is missing, so that the failure is the assertion's own.
describe('publish jobs under leases across instances (R59, PostgreSQL)', { timeout: 90_000 }, () => {
  it('keeps a job longer than its lease on its instance (heartbeat); SIGKILL of that instance: another recovers it within the lease, INTERRUPTED, runtime as before', async () => {
    const c = await cluster(2, { PUBLISH_STAGE_DELAY_MS: '300' });
    const [a] = c.instances as [Instance, Instance];
    const w = await urlWorld(c, c.admin(a));

    // Eight stages of 300 ms outlast the 1.5 s lease: only the heartbeat keeps the other instance off it.
    const first = await publish(c.admin(a), w, '1.0');
    const firstEnded = await jobWhen(c.admin(a), first.id, isFinal, 'the first job to end');
    expect(firstEnded).toMatchObject({ state: 'SUCCEEDED', error: null });
    const { rows } = await c.sql.query<{ ran: number }>('select finished_at - started_at as ran from publish_jobs where tracking_number = $1', [Number(first.trackingId.slice(4))]);
    expect(Number(rows[0]?.ran)).toBeGreaterThan(Number(LEASE_MS)); // the premise, not a timing assertion
    const before = await published(c.admin(a), w);
    expect(before.status).toBe('AVAILABLE');

    const job = await publish(c.admin(a), w, '2.0');
    await jobWhen(c.admin(a), job.id, stageRunning('APPLY_TARGETS'), 'APPLY_TARGETS to run');
    expect((await published(c.admin(a), w)).management).not.toEqual(before.management);
    const holder = await holderOf(c, job);
    const survivor = other(c, holder);
    await holder.kill();

    const recovered = await jobWhen(c.admin(survivor), job.id, isFinal, 'the survivor to recover the job', 10_000);
    expect(recovered).toMatchObject({ state: 'FAILED', error: { code: 'INTERRUPTED' }, environment: { status: 'AVAILABLE' } });
    expect(recovered.stages.filter((stage) => stage.state === 'RUNNING' || stage.state === 'PENDING')).toEqual([]);
    expect(await published(c.admin(survivor), w)).toEqual(before);
    expect(await holderOf(c, job)).toBe(survivor);
  });

  it('cancels on B a job running on A through the event alone: A stops inside a 30 s stage, CANCELED, environment AVAILABLE', async () => {
    // A stage takes 30 s and A reads the job back only after it: within the bound, only the event can reach A.
    const c = await cluster(2, { PUBLISH_STAGE_DELAY_MS: '30000' });
    const [a] = c.instances as [Instance, Instance];
    const w = await urlWorld(c, c.admin(a));
    const before = await published(c.admin(a), w);

    const job = await publish(c.admin(a), w, '1.0');
    await jobWhen(c.admin(a), job.id, stageRunning('VALIDATE'), 'VALIDATE to run');
    const holder = await holderOf(c, job);
    const b = other(c, holder);
    const { cancelPublishJob } = await c.admin(b).request(`mutation ($id: ID!) { cancelPublishJob(input: { jobId: $id }) { job { state } userErrors { message } } }`, { id: job.id });
    expect(cancelPublishJob).toEqual({ job: { state: 'CANCELING' }, userErrors: [] });

    const canceled = await jobWhen(c.admin(b), job.id, isFinal, 'the cancel to reach the holder', 10_000);
    expect(canceled).toMatchObject({ state: 'CANCELED', error: null, environment: { status: 'AVAILABLE' } });
    expect(await published(c.admin(b), w)).toEqual(before);
  });

  it('cancels on B a job running on A through the database flag alone (no Redis): CANCELED at the next safe point, rolled back', async () => {
    const c = await cluster(2, { PUBLISH_STAGE_DELAY_MS: '300' }, { redis: false });
    const [a] = c.instances as [Instance, Instance];
    const w = await urlWorld(c, c.admin(a));
    await jobWhen(c.admin(a), (await publish(c.admin(a), w, '1.0')).id, (job) => job.state === 'SUCCEEDED', 'the first job to succeed');
    const before = await published(c.admin(a), w);

    const job = await publish(c.admin(a), w, '2.0');
    await jobWhen(c.admin(a), job.id, stageRunning('REGISTER_VERSIONS'), 'REGISTER_VERSIONS to run');
    const holder = await holderOf(c, job);
    const b = other(c, holder);
    const { cancelPublishJob } = await c.admin(b).request(`mutation ($id: ID!) { cancelPublishJob(input: { jobId: $id }) { job { state } userErrors { message } } }`, { id: job.id });
    expect(cancelPublishJob).toEqual({ job: { state: 'CANCELING' }, userErrors: [] });

    const canceled = await jobWhen(c.admin(b), job.id, isFinal, 'the holder to notice the cancel');
    expect(canceled).toMatchObject({ state: 'CANCELED', error: null, environment: { status: 'AVAILABLE' } });
    expect(await published(c.admin(b), w)).toEqual(before);
  });

  it('lets a paused instance that lost its lease write nothing: the job stays as the instance that recovered it left it', async () => {
    const c = await cluster(2, { PUBLISH_STAGE_DELAY_MS: '300' });
    const [a] = c.instances as [Instance, Instance];
    const w = await urlWorld(c, c.admin(a));
    const before = await published(c.admin(a), w);

    const job = await publish(c.admin(a), w, '1.0');
    await jobWhen(c.admin(a), job.id, stageRunning('APPLY_TARGETS'), 'APPLY_TARGETS to run');
    const holder = await holderOf(c, job);
    const survivor = other(c, holder);
    holder.child.kill('SIGSTOP');

    const recovered = await jobWhen(c.admin(survivor), job.id, isFinal, 'the other instance to recover the job', 10_000);
    expect(recovered).toMatchObject({ state: 'FAILED', error: { code: 'INTERRUPTED' } });
    const trackingNumber = Number(job.trackingId.slice(4));
    const rowsNow = async () => ({
      job: (await c.sql.query('select * from publish_jobs where tracking_number = $1', [trackingNumber])).rows,
      stages: (await c.sql.query('select s.* from publish_stages s join publish_jobs j on j.id = s.job_id where j.tracking_number = $1 order by s.position', [trackingNumber])).rows,
    });
    const left = await rowsNow();
    const leftPublished = await published(c.admin(survivor), w);
    expect(leftPublished).toEqual(before);

    holder.child.kill('SIGCONT');
    // The positive control: the resumed instance has run again and found the job gone from it.
    await eventually(() => /lost the lease|another instance recovered this publish job/.test(holder.output()), { what: 'the resumed instance to notice its lost lease' });
    expect(await rowsNow()).toEqual(left);
    expect(await published(c.admin(survivor), w)).toEqual(leftPublished);
  });

  it('abandons on B a rollback waiting on A for an unreachable runtime: the job ends FAILED ROLLBACK_ABANDONED', async () => {
    const c = await cluster(2, { PUBLISH_STAGE_DELAY_MS: '300', RUNTIME_STAGE_DEADLINE_MS: '1000' });
    const [a] = c.instances as [Instance, Instance];
    const w = await urlWorld(c, c.admin(a));
    const job = await publish(c.admin(a), w, '1.0');
    // After TRANSFER_BINARIES asked for the restore point: there is something to roll back.
    await jobWhen(c.admin(a), job.id, stageRunning('REGISTER_VERSIONS'), 'REGISTER_VERSIONS to run');
    c.responder.healthy = false;
    await jobWhen(c.admin(a), job.id, (node) => node.stages.some((stage) => stage.message?.startsWith('Rolling back') ?? false), 'the rollback to wait for the runtime');
    const holder = await holderOf(c, job);
    const b = other(c, holder);

    const { cancelPublishJob } = await c.admin(b).request(
      `mutation ($id: ID!) { cancelPublishJob(input: { jobId: $id, abandonRollback: true }) { job { state error { code } } userErrors { message } } }`,
      { id: job.id },
    );
    expect(cancelPublishJob).toEqual({ job: { state: 'FAILED', error: { code: 'ROLLBACK_ABANDONED' } }, userErrors: [] });
    expect(await holderOf(c, job)).toBe(holder);
  });

  it('moves the background work to another instance when its holder dies: that one probes at once', async () => {
    const c = await cluster(2, {}, { redis: false });
    const [a] = c.instances as [Instance, Instance];
    const holderId = await eventually(async () => (await c.sql.query<{ owner: string }>(`select owner from leases where name = 'maintenance'`)).rows[0]?.owner, { what: 'an instance to take the maintenance lease' });
    const holder = c.instances.find((instance) => instanceIdOf(instance) === holderId) as Instance;
    const survivor = other(c, holder);
    // Created after both started: UNKNOWN until probed, and the holder's next round is 30 s away.
    const created = await c.admin(a).request(
      `mutation ($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { id status } } }`,
      { input: { name: 'probed', url: `${c.responder.url}/probed`, runtimeToken: c.responder.token } },
    );
    expect(created.createEnvironment.environment.status).toBe('UNKNOWN');
    await holder.kill();

    const statusOnSurvivor = async () =>
      (await c.admin(survivor).request(`query ($id: ID!) { node(id: $id) { ... on Environment { status } } }`, { id: created.createEnvironment.environment.id })).node.status as string;
    expect(await eventually(async () => (await statusOnSurvivor()) === 'AVAILABLE' && 'AVAILABLE', { what: 'the survivor to probe the environment', timeoutMs: 10_000 })).toBe('AVAILABLE');
    expect((await c.sql.query<{ owner: string }>(`select owner from leases where name = 'maintenance'`)).rows[0]?.owner).toBe(instanceIdOf(survivor));
  });
});

/** A runtime client to the real runtime server that counts its probes (info calls). */
function countingRuntime(probes: { count: number }): RemoteRuntimeFactory {
  return (url, token, environmentId) => {
    const runtime = new HttpRuntime(url, token, environmentId, DEFAULT_HTTP_RUNTIME_OPTIONS);
    const counted: Runtime = {
      location: runtime.location,
      info: () => {
        probes.count += 1;
        return runtime.info();
      },
      management: () => runtime.management(),
      services: () => runtime.services(),
      notifications: (ids) => runtime.notifications(ids),
      hasBlob: (sha256) => runtime.hasBlob(sha256),
      putBlob: (blob, restorePoint) => runtime.putBlob(blob, restorePoint),
      run: (key, command) => runtime.run(key, command),
    };
    return counted;
  };
}

describe('background work on one instance at a time (R59, PostgreSQL)', { timeout: 60_000 }, () => {
  it('probes from the maintenance lease holder only, every round, and from the other once the holder stops', async () => {
    const database = await postgresTestDatabase();
    cleanups.push(() => database.drop());
    const responder = await startRuntimeResponder();
    cleanups.push(() => responder.close());
    const probes = [{ count: 0 }, { count: 0 }] as const;
    const servers: TestServer[] = [];
    cleanups.push(async () => {
      for (const server of servers) await server.stop().catch(() => undefined);
    });
    for (const counter of probes)
      servers.push(await startServer({ databaseUrl: database.url, jobLeaseMs: 600 }, { probeIntervalMs: 50, remoteRuntime: countingRuntime(counter) }));
    const [first] = servers as [TestServer, TestServer];
    await first.admin.request(`mutation ($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { id } } }`, {
      input: { name: 'probed', url: `${responder.url}/probed`, runtimeToken: responder.token },
    });

    // Rounds every 50 ms: after ten probes, the other instance would have probed too had it tried.
    await eventually(() => probes[0].count + probes[1].count >= 10, { what: 'ten probes' });
    const holderIndex = probes[0].count > 0 ? 0 : 1;
    expect(probes[1 - holderIndex]?.count).toBe(0);

    const otherCount = probes[1 - holderIndex] as { count: number };
    await servers[holderIndex]?.stop();
    servers.splice(holderIndex, 1);
    await eventually(() => otherCount.count >= 3, { what: 'the other instance to take the probing over' });
  });
});

describe('one instance over its own database (R25 with leases, SQLite)', { timeout: 60_000 }, () => {
  it('recovers its own jobs at once after a restart, long before their lease would expire', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shipyard-own-lease-'));
    const children: ChildServer[] = [];
    cleanups.push(async () => {
      for (const child of children) await child.kill();
      rmSync(dataDir, { recursive: true, force: true });
    });
    // A ten-minute lease: only knowing the job as its own lets the restarted instance recover it now.
    const env = { PUBLISH_STAGE_DELAY_MS: '200', JOB_LEASE_MS: '600000' };
    const start = async () => {
      const child = await startChildServer(dataDir, env);
      children.push(child);
      return new Client(`${child.url}/graphql`, CHILD_ADMIN_TOKEN);
    };
    const admin = await start();
    const w = await publishWorld(admin);
    const before = await published(admin, w);
    const job = await publish(admin, w, '1.0');
    await jobWhen(admin, job.id, stageRunning('APPLY_TARGETS'), 'APPLY_TARGETS to run');
    await children[0]?.kill();

    const again = await start();
    const recovered = await jobWhen(again, job.id, isFinal, 'the restarted instance to recover its job', 10_000);
    expect(recovered).toMatchObject({ state: 'FAILED', error: { code: 'INTERRUPTED' }, environment: { status: 'AVAILABLE' } });
    expect(await published(again, w)).toEqual(before);
  });
});

describe('writes to a running job are conditioned on its lease (R59)', () => {
  it.each(['sqlite', 'postgres'] as const)('on %s: the former holder changes nothing once another instance took the job over', async (dialect) => {
    const database = dialect === 'postgres' ? await postgresTestDatabase() : null;
    if (database) cleanups.push(() => database.drop());
    // A lease of an hour: the server's own rounds never touch the job this test plays with.
    let opened: Database | undefined;
    const t = await startServer({ ...(database ? { databaseUrl: database.url } : {}), jobLeaseMs: 3_600_000, publishStageDelayMs: 0 }, { onDatabaseOpen: (d) => (opened = d) });
    cleanups.push(() => t.stop());
    if (!opened) throw new Error('no database');
    const { db } = opened;
    const w = await publishWorld(t.admin);
    const done = await publish(t.admin, w, '1.0');
    await jobWhen(t.admin, done.id, (job) => job.state === 'SUCCEEDED', 'the job to succeed');
    const [row] = await db.select().from(publishJobs).where(eq(publishJobs.trackingNumber, Number(done.trackingId.slice(4))));
    if (!row) throw new Error('no job row');
    const jobs = t.server.domain.jobs;

    // As a paused instance A would find it: RUNNING, its lease expired, then taken over by B.
    const past = new Date(Date.now() - 1000);
    await db.update(publishJobs).set({ state: 'RUNNING', finishedAt: null, leaseOwner: 'instance-a', leaseExpiresAt: past }).where(eq(publishJobs.id, row.id));
    expect(await jobs.takeOver(row.id, 'instance-b', new Date(), new Date(Date.now() + 60_000))).toMatchObject({ leaseOwner: 'instance-b' });
    const reading = async () => ({
      job: (await db.select().from(publishJobs).where(eq(publishJobs.id, row.id)))[0],
      stages: await db.select().from(publishStages).where(eq(publishStages.jobId, row.id)),
    });
    const taken = await reading();

    expect(await jobs.setStage(row.id, 0, { state: 'FAILED', message: 'from A' }, 'instance-a')).toBe(false);
    expect(await jobs.record(row.id, { rollback: '{"restorePoint":"from-a"}' }, 'instance-a')).toBe(false);
    expect(await jobs.transition(row.id, ['RUNNING'], { state: 'FAILED', finishedAt: new Date() }, 'instance-a')).toBe(false);
    expect(await jobs.renewLeases('instance-a', [row.id], new Date(Date.now() + 60_000))).toEqual([]);
    expect(await jobs.takeOver(row.id, 'instance-a', new Date(), new Date(Date.now() + 60_000))).toBeNull();
    expect(await reading()).toEqual(taken);

    // The positive control: the holder's own writes go through.
    expect(await jobs.renewLeases('instance-b', [row.id], new Date(Date.now() + 60_000))).toEqual([row.id]);
    expect(await jobs.setStage(row.id, 0, { message: 'from B' }, 'instance-b')).toBe(true);
    expect(await jobs.transition(row.id, ['RUNNING'], { state: 'SUCCEEDED', finishedAt: new Date() }, 'instance-b')).toBe(true);
    expect((await reading()).job).toMatchObject({ state: 'SUCCEEDED', leaseOwner: 'instance-b' });
  });
});
