import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DomainEvents, type EnvironmentStatusChanged } from '../src/domain/events.js';
import type { JobReading, PublishJob, PublishStage } from '../src/domain/publish/jobs.js';
import { Realtime, type RealtimeSource } from '../src/schema/realtime.js';
import { eventSerializer, redisTransport } from '../src/schema/redis-transport.js';
import { startServer } from './kit.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** This file's own channels: several test files (and deployments) share one Redis. */
const PREFIX = `shipyard-test:redis-events:${randomBytes(6).toString('hex')}:`;
const ACCOUNT = 7;
const JOB_ID = 4242;

/** Log lines, kept to be searched. */
function capturingLogger() {
  const lines: { msg?: string; role?: string; err?: { message?: string } }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
  return { logger, lines };
}

/**
 * One instance's live updates: its own event bus, and no jobs of its own (each instance here
 * could be on its own database: whatever a subscriber gets came through Redis).
 */
function instance(prefix: string, url = REDIS_URL, read: RealtimeSource['jobs']['read'] = () => null, maxQueuedEvents = 1024) {
  const { logger, lines } = capturingLogger();
  const source: RealtimeSource = { events: new DomainEvents(), jobs: { read } };
  // As the server sets it: half a subscriber's bound per turn of the event loop.
  const transport = redisTransport({ url, prefix, logger, perTurn: Math.ceil(maxQueuedEvents / 2) });
  const realtime = new Realtime(source, { maxQueuedEvents, transport });
  return { source, transport, realtime, lines };
}
type Instance = ReturnType<typeof instance>;

const at = new Date('2026-11-21T10:00:00.123Z');

function jobAt(revision: number, state: PublishJob['state'] = 'RUNNING'): JobReading {
  const job: PublishJob = {
    id: JOB_ID,
    accountId: ACCOUNT,
    trackingNumber: 1,
    appId: 1,
    environmentId: 1,
    kind: 'NATIVE_CLIENT',
    action: 'PUBLISH',
    sync: false,
    state,
    requestedBy: 1,
    request: '{}',
    warnings: '[]',
    errorCode: null,
    errorMessage: null,
    errorStage: null,
    rollback: null,
    revision,
    createdAt: at,
    updatedAt: new Date(at.getTime() + revision),
    startedAt: at,
    finishedAt: state === 'RUNNING' ? null : new Date(at.getTime() + revision),
    leaseOwner: 'instance-a',
    leaseExpiresAt: new Date(at.getTime() + 15_000),
    rollbackWait: null,
  };
  const stage: PublishStage = { jobId: JOB_ID, position: 0, key: 'VALIDATE', title: 'Validate', state: 'RUNNING', startedAt: at, finishedAt: null, message: `r${revision}` };
  return { job, stages: [stage] };
}

const announce = (from: Instance, reading: JobReading) => from.source.events.publish({ type: 'publishJobUpdated', accountId: ACCOUNT, ...reading });

/** Reads a stream in the background; `values` fills as events arrive, each taken `after` the one before. */
function collect<T>(stream: AsyncIterable<T>, after: () => Promise<void> = async () => undefined) {
  const values: T[] = [];
  const state = { done: false, error: undefined as unknown };
  const finished = (async () => {
    try {
      for await (const value of stream) {
        values.push(value);
        await after();
      }
    } catch (error) {
      state.error = error;
    } finally {
      state.done = true;
    }
  })();
  return { values, state, finished };
}

const poll = async (done: () => boolean) => {
  for (let i = 0; i < 1000 && !done(); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
};

const noDrop = () => {
  throw new Error('no subscriber here is slow enough to be dropped');
};

describe('live updates through Redis (R57, R58)', () => {
  const instances: Instance[] = [];
  const start = (prefix = PREFIX, url = REDIS_URL, read?: RealtimeSource['jobs']['read'], maxQueuedEvents?: number) => {
    const created = instance(prefix, url, read, maxQueuedEvents);
    instances.push(created);
    return created;
  };
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  beforeAll(() => void process.on('unhandledRejection', onUnhandled));
  afterEach(async () => {
    await Promise.all(instances.splice(0).map(({ realtime }) => realtime.close()));
    expect(unhandled).toEqual([]);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    // Pub/sub stores nothing; anything under this file's prefix would be a leak.
    const redis = new Redis(REDIS_URL);
    const left = await redis.keys(`${PREFIX}*`);
    if (left.length > 0) await redis.del(...left);
    await redis.quit();
    expect(left).toEqual([]);
  });

  it('gives a subscriber on B every change announced on A, in order, each once, stale and repeated ones dropped', async () => {
    const a = start();
    const b = start();
    const one = collect(b.realtime.jobStream(ACCOUNT, JOB_ID, noDrop));
    const all = collect(b.realtime.jobsStream(ACCOUNT, () => true, noDrop));
    const own = collect(a.realtime.jobsStream(ACCOUNT, () => true, noDrop));
    // Streams start when first read; then Redis confirms each instance listens.
    await poll(() => b.realtime.openStreams === 2 && a.realtime.openStreams === 1);
    await b.transport.listening(`publishJob:${ACCOUNT}`);
    await a.transport.listening(`publishJob:${ACCOUNT}`);

    const expected: number[] = [];
    for (let revision = 1; revision <= 200; revision += 1) {
      announce(a, jobAt(revision, revision === 200 ? 'SUCCEEDED' : 'RUNNING'));
      expected.push(revision);
      if (revision % 50 === 10) announce(a, jobAt(revision)); // the same revision again
      if (revision % 50 === 30) announce(a, jobAt(revision - 5)); // an older one, late
    }

    await one.finished; // publishJobUpdated completes after the final state (R41)
    await poll(() => all.values.length >= 200 && own.values.length >= 200);
    expect(one.state.error).toBeUndefined();
    expect(one.values.map(({ job }) => job.revision)).toEqual(expected);
    expect(all.values.map(({ job }) => job.revision)).toEqual(expected);
    // The instance that announced gets its own events back through Redis, the same way.
    expect(own.values.map(({ job }) => job.revision)).toEqual(expected);
    // Dates come back as Dates, to the millisecond.
    const last = one.values.at(-1);
    expect(last?.job.createdAt).toBeInstanceOf(Date);
    expect(last?.job.createdAt.toISOString()).toBe('2026-11-21T10:00:00.123Z');
    expect(last?.job.finishedAt?.getTime()).toBe(at.getTime() + 200);
    expect(last?.stages[0]?.startedAt).toEqual(at);
    expect(last?.stages[0]?.message).toBe('r200');
  });

  it('reads the job only once Redis listens: a change made as the stream starts (connection not yet ready) is not lost', async () => {
    const raw = new Redis(REDIS_URL);
    try {
      // The job as read is at revision 1; by then revision 2, its last, was announced by another
      // instance. Reading before Redis listens would miss it, and the stream would never end.
      const announceFinal = async () => {
        await raw.publish(`${PREFIX}publishJob:${ACCOUNT}`, eventSerializer.stringify({ type: 'publishJobUpdated', accountId: ACCOUNT, ...jobAt(2, 'SUCCEEDED') }));
        return jobAt(1);
      };
      const b = start(PREFIX, REDIS_URL, announceFinal);
      const one = collect(b.realtime.jobStream(ACCOUNT, JOB_ID, noDrop)); // at once: B is still connecting
      await poll(() => one.state.done);
      expect(one.values.map(({ job }) => job.revision)).toEqual([1, 2]);
    } finally {
      await raw.quit();
    }
  });

  it('catches up after the connection to Redis was lost: the stream reads its job again and still ends', async () => {
    let current = jobAt(1);
    const a = start();
    const b = start(PREFIX, REDIS_URL, () => current);
    const one = collect(b.realtime.jobStream(ACCOUNT, JOB_ID, noDrop));
    await poll(() => one.values.length === 1);
    expect(one.values.map(({ job }) => job.revision)).toEqual([1]);

    // B's subscribe connection is cut (found by its name, which holds this file's prefix; A's
    // listens to nothing, so it is not in pub/sub mode).
    const admin = new Redis(REDIS_URL);
    const clients = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n');
    const ours = clients.filter((line) => line.includes(`name=shipyard-live-updates-${PREFIX} `)).map((line) => /id=(\d+)/.exec(line)?.[1]);
    expect(ours).toHaveLength(1);
    for (const id of ours) await admin.call('CLIENT', 'KILL', 'ID', String(id));
    await admin.quit();
    // The job ends while B hears nothing: that announcement is lost to B.
    current = jobAt(2, 'SUCCEEDED');
    announce(a, current);

    await poll(() => one.state.done);
    expect(one.values.map(({ job }) => job.revision)).toEqual([1, 2]);
    expect(b.lines.some((line) => line.msg === 'live updates resumed through redis')).toBe(true);
  });

  it('does not mistake a burst read from Redis for a stalled subscriber: one that keeps up is not dropped (R42)', async () => {
    const a = start();
    const b = start(PREFIX, REDIS_URL, undefined, 16);
    let drops = 0;
    // Like a socket's writer, it takes the next event once the last one is written (a tick later).
    const all = collect(b.realtime.jobsStream(ACCOUNT, () => true, () => (drops += 1)), () => new Promise((resolve) => process.nextTick(resolve)));
    await poll(() => b.realtime.openStreams === 1);
    await b.transport.listening(`publishJob:${ACCOUNT}`);
    // 200 announcements in one go reach B in a few reads of its socket, far more than 16 each.
    for (let revision = 1; revision <= 200; revision += 1) announce(a, jobAt(revision));
    await poll(() => all.values.length === 200 || all.state.done);
    expect(drops).toBe(0);
    expect(all.values).toHaveLength(200);
  });

  it('carries environment status changes between instances, with their moment as a Date', async () => {
    const a = start();
    const b = start();
    const seen = collect(b.realtime.environmentStream(ACCOUNT, () => true, noDrop));
    await poll(() => b.realtime.openStreams === 1);
    await b.transport.listening(`environmentStatus:${ACCOUNT}`);
    const change = (status: EnvironmentStatusChanged['status'], previousStatus: EnvironmentStatusChanged['status']): EnvironmentStatusChanged => ({
      type: 'environmentStatusChanged',
      accountId: ACCOUNT,
      environmentId: 3,
      status,
      previousStatus,
      at,
    });
    a.source.events.publish(change('BUSY', 'AVAILABLE'));
    a.source.events.publish(change('AVAILABLE', 'BUSY'));
    await poll(() => seen.values.length >= 2);
    expect(seen.values).toEqual([change('BUSY', 'AVAILABLE'), change('AVAILABLE', 'BUSY')]);
  });

  it('keeps deployments with different prefixes apart on one Redis', async () => {
    const a = start();
    const same = start();
    const otherPrefix = `${PREFIX}other:`;
    const other = start(otherPrefix);
    const sameSeen = collect(same.realtime.jobsStream(ACCOUNT, () => true, noDrop));
    const otherSeen = collect(other.realtime.jobsStream(ACCOUNT, () => true, noDrop));
    await poll(() => same.realtime.openStreams === 1 && other.realtime.openStreams === 1);
    await same.transport.listening(`publishJob:${ACCOUNT}`);
    await other.transport.listening(`publishJob:${ACCOUNT}`);

    for (let revision = 1; revision <= 5; revision += 1) announce(a, jobAt(revision));
    // Positive control: the same prefix hears A.
    await poll(() => sameSeen.values.length >= 5);
    expect(sameSeen.values.map(({ job }) => job.revision)).toEqual([1, 2, 3, 4, 5]);
    // Redis has sent A's events to every listener by now; a marker sent after them on the other
    // prefix arrives after any of A's that reached that side.
    announce(other, jobAt(1000));
    await poll(() => otherSeen.values.length >= 1);
    expect(otherSeen.values.map(({ job }) => job.revision)).toEqual([1000]);
  });

  it('keeps going when Redis is not there: errors logged, nothing thrown, streams end cleanly', async () => {
    const port = await unusedPort();
    const down = start(PREFIX, `redis://127.0.0.1:${port}`);
    const streams = [down.realtime.jobsStream(ACCOUNT, () => true, noDrop), down.realtime.jobStream(ACCOUNT, JOB_ID, noDrop)];
    const [stream, job] = streams.map((repeater) => collect(repeater));
    for (let revision = 1; revision <= 3; revision += 1) announce(down, jobAt(revision));
    // The connection errors are logged, and so is each client's failed command (publish gives up
    // after its retries): handled, not an unhandled rejection.
    await poll(() => down.lines.some((line) => line.msg === 'live update not sent: redis unavailable'));
    expect(down.lines.filter((line) => line.msg === 'redis unavailable for live updates; retrying').map((line) => line.role).sort()).toEqual([
      'publish',
      'subscribe',
    ]);
    expect(down.lines.some((line) => line.msg === 'live update not sent: redis unavailable')).toBe(true);
    // Logged once per outage, not once per attempt.
    expect(down.lines.length).toBeLessThan(10);
    expect(stream?.values).toEqual([]);
    // A subscriber that leaves while Redis is away (one stream still waits for its SUBSCRIBE) leaves nothing behind.
    expect(down.realtime.openStreams).toBe(2);
    await Promise.all(streams.map((repeater) => repeater.return()));
    await Promise.all([stream?.finished, job?.finished]);
    expect(down.realtime.openStreams).toBe(0);
  });

  it('starts a server whose Redis is down, which serves /ready and queries and logs the problem', async () => {
    const port = await unusedPort();
    const { logger, lines } = capturingLogger();
    const t = await startServer({ redisUrl: `redis://127.0.0.1:${port}`, redisPrefix: PREFIX }, { logger });
    try {
      const ready = await fetch(`${t.url}/ready`);
      expect(ready.status).toBe(200);
      const answer = await t.admin.request<{ apps: { totalCount: number } }>('{ apps { totalCount } }');
      expect(answer.apps.totalCount).toBe(0);
      await poll(() => lines.some((line) => line.msg === 'redis unavailable for live updates; retrying'));
      expect(lines.some((line) => line.msg === 'redis unavailable for live updates; retrying')).toBe(true);
    } finally {
      await t.stop();
    }
  });
});

/** A port nothing listens on: taken from the system, then let go. */
async function unusedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
