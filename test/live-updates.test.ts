import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { noUserErrors, startServer, type TestServer } from './kit.js';
import { collect, sse, wsClient } from './live.js';
import { binary, PUBLISH_NATIVE, publishWorld, waitForJob, type PublishWorld } from './publish-kit.js';
import { startRuntimeResponder } from './runtime-responder.js';

const JOB_UPDATED = `subscription ($id: ID!) { publishJobUpdated(jobId: $id) { id state revision progress stages { key state } } }`;
const JOBS_UPDATED = `subscription ($app: ID, $env: ID) { publishJobsUpdated(appId: $app, environmentId: $env) { id state revision } }`;
const STATUS_CHANGED = `subscription ($ids: [ID!]) { environmentStatusChanged(environmentIds: $ids) { environment { id name } status previousStatus at } }`;

interface JobEvent {
  publishJobUpdated: { id: string; state: string; revision: number; progress: number; stages: { key: string; state: string }[] };
}

const startNative = async (t: TestServer, w: PublishWorld, extra: Record<string, unknown> = {}) =>
  noUserErrors(
    (await t.admin.request(PUBLISH_NATIVE, {
      input: { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'DRAFT', removePlatforms: ['WINDOWS'], ...extra },
    })).publishNativeClient,
  ).job;

const final = (state: string) => ['SUCCEEDED', 'FAILED', 'CANCELED'].includes(state);

/** Every event shows a later revision than the one before: in order, no duplicate. */
const strictlyIncreasing = (revisions: number[]) => revisions.every((revision, i) => i === 0 || revision > (revisions[i - 1] ?? -1));

describe('publish progress (R41)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ publishStageDelayMs: 15 });
  });
  afterAll(() => t.stop());

  it('streams a native job over graphql-ws: the job as it stands, every change in order, then completes', async () => {
    const w = await publishWorld(t.admin);
    const ios = await binary(t.admin, w.appId, 'IOS_PHONE', '1.0');
    const client = wsClient(t.url, t.admin.token);
    try {
      const job = await startNative(t, w, { binaryIds: [ios], removePlatforms: [] });
      const events = (await collect<JobEvent>(client, JOB_UPDATED, { id: job.id })).map((e) => e.publishJobUpdated);
      const revisions = events.map((e) => e.revision);
      expect(strictlyIncreasing(revisions)).toBe(true);
      expect(events.at(-1)).toMatchObject({ state: 'SUCCEEDED', progress: 1 });
      // After the first event (whatever the job had done by then) every change is there: each
      // stage RUNNING then finished, nothing missing between revisions.
      expect((revisions.at(-1) ?? 0) - (revisions[0] ?? 0)).toBe(events.length - 1);
      // Each event shows something the one before did not: no duplicates.
      const views = events.map((e) => JSON.stringify([e.state, e.stages]));
      expect(views.every((view, i) => i === 0 || view !== views[i - 1])).toBe(true);
      expect(events.at(-1)?.stages.map((s) => s.key)).toHaveLength(9);
    } finally {
      await client.dispose();
    }
  });

  it('streams a services job over Server-Sent Events', async () => {
    const app = (await t.admin.request('mutation { createApp(input: { name: "Streamed", identityServices: [{ name: "Login", providerType: "UserStore" }] }) { app { id } } }')).createApp.app.id;
    const env = (await t.admin.request('mutation { createEnvironment(input: { name: "sse-env" }) { environment { id } } }')).createEnvironment.environment.id;
    const job = noUserErrors((await t.admin.request(`mutation ($a: ID!, $e: ID!) { publishServicesAndWeb(input: { appId: $a, environmentId: $e }) { job { id } userErrors { code } } }`, { a: app, e: env })).publishServicesAndWeb).job;
    const { status, events, complete } = await sse(t.url, t.admin.token ?? '', JOB_UPDATED, { id: job.id });
    expect(status).toBe(200);
    expect(complete).toBe(true);
    const jobs = events.map((e) => (e.data as JobEvent).publishJobUpdated);
    expect(strictlyIncreasing(jobs.map((j) => j.revision))).toBe(true);
    expect(jobs.at(-1)?.state).toBe('SUCCEEDED');
    expect(jobs.at(-1)?.stages.map((s) => s.key)).toEqual(['VALIDATE', 'PUBLISH_IDENTITY_SERVICES', 'PUBLISH_INTEGRATION_SERVICES', 'DEPLOY_WEB_CLIENT', 'ACTIVATE']);
  });

  it('sends a finished job once and completes', async () => {
    const w = await publishWorld(t.admin);
    const job = await startNative(t, w, { sync: true });
    const client = wsClient(t.url, t.admin.token);
    try {
      const events = await collect<JobEvent>(client, JOB_UPDATED, { id: job.id });
      expect(events.map((e) => e.publishJobUpdated.state)).toEqual(['SUCCEEDED']);
    } finally {
      await client.dispose();
    }
  });

  it('misses nothing when it starts mid-job: its events are the tail of a subscriber that was there from the start', async () => {
    const w = await publishWorld(t.admin);
    const early = wsClient(t.url, t.admin.token);
    const late = wsClient(t.url, t.admin.token);
    try {
      const job = await startNative(t, w);
      const fromStart = collect<JobEvent>(early, JOB_UPDATED, { id: job.id });
      await waitForJob(t.admin, job.id, (j) => (j as unknown as { stages: { state: string }[] }).stages.filter((s) => s.state !== 'PENDING').length >= 4);
      const fromMiddle = (await collect<JobEvent>(late, JOB_UPDATED, { id: job.id })).map((e) => e.publishJobUpdated);
      const all = (await fromStart).map((e) => e.publishJobUpdated);
      const joinedAt = fromMiddle[0]?.revision ?? Number.NaN;
      expect(joinedAt).toBeGreaterThan(all[0]?.revision ?? Number.NaN);
      const tail = all.filter((e) => e.revision >= joinedAt);
      expect(fromMiddle).toEqual(tail);
    } finally {
      await early.dispose();
      await late.dispose();
    }
  });

  it('streams every job of an environment with publishJobsUpdated', async () => {
    const w = await publishWorld(t.admin);
    const elsewhere = await publishWorld(t.admin);
    const client = wsClient(t.url, t.admin.token);
    try {
      const seen: { id: string; state: string }[] = [];
      const done = collect<{ publishJobsUpdated: { id: string; state: string } }>(client, JOBS_UPDATED, { env: w.environmentId }, (events) => {
        seen.splice(0, seen.length, ...events.map((e) => e.publishJobsUpdated));
        return seen.filter((j) => final(j.state)).length >= 2;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const other = await startNative(t, elsewhere);
      const first = await startNative(t, w);
      await waitForJob(t.admin, first.id);
      const second = await startNative(t, w);
      await done;
      expect(new Set(seen.map((j) => j.id))).toEqual(new Set([first.id, second.id]));
      expect(seen.some((j) => j.id === other.id)).toBe(false);
    } finally {
      await client.dispose();
    }
  });
});

describe('environment status (R41)', () => {
  it('sends AVAILABLE→BUSY→AVAILABLE around a job and →UNKNOWN from the probe', async () => {
    const t = await startServer({ publishStageDelayMs: 5 });
    const runtime = await startRuntimeResponder();
    const client = wsClient(t.url, t.admin.token);
    try {
      const w = await publishWorld(t.admin, { environment: { url: runtime.url, runtimeToken: runtime.token } });
      await t.admin.request(`mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { userErrors { code } } }`, { id: w.environmentId });
      type StatusEvent = { environmentStatusChanged: { status: string; previousStatus: string; environment: { id: string } } };
      const events = collect<StatusEvent>(client, STATUS_CHANGED, { ids: [w.environmentId] }, (list) => list.length >= 3);
      // The job starts only once the subscription listens (a bounded poll; a fixed sleep lost the
      // BUSY event on a loaded machine).
      for (let i = 0; i < 500 && t.server.realtime.listeningStreams < 1; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(t.server.realtime.listeningStreams).toBe(1);
      const job = await startNative(t, w);
      await waitForJob(t.admin, job.id);
      runtime.healthy = false;
      await t.admin.request(`mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { userErrors { code } } }`, { id: w.environmentId });
      const transitions = (await events).map((e) => `${e.environmentStatusChanged.previousStatus}→${e.environmentStatusChanged.status}`);
      expect(transitions).toEqual(['AVAILABLE→BUSY', 'BUSY→AVAILABLE', 'AVAILABLE→UNKNOWN']);
    } finally {
      await client.dispose();
      await runtime.close();
      await t.stop();
    }
  });
});

describe('authentication and account scoping (R5, R40)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(() => t.stop());

  const closeCode = (token: string | null) =>
    new Promise<number>((resolve) => {
      const socket = new WebSocket(`${t.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} })));
      socket.on('message', (data) => {
        if (JSON.parse(String(data)).type === 'connection_ack') socket.close(1000);
      });
      socket.on('close', (code) => resolve(code));
    });

  it('closes a connection without a valid token with 4401', async () => {
    expect(await closeCode(null)).toBe(4401);
    expect(await closeCode('shp_unknown')).toBe(4401);
    expect(await closeCode(t.admin.token)).toBe(1000);
  });

  it("refuses another account's job: an error, never data", async () => {
    const w = await publishWorld(t.admin);
    const job = await startNative(t, w, { sync: true });
    const stranger = await t.otherAccount();
    const client = wsClient(t.url, stranger.token);
    const owner = wsClient(t.url, t.admin.token);
    try {
      await expect(collect(client, JOB_UPDATED, { id: job.id })).rejects.toThrow(/No publish job with that id/);
      // Positive control: the same subscription, by the job's own account, gets the job.
      expect((await collect<JobEvent>(owner, JOB_UPDATED, { id: job.id })).map((e) => e.publishJobUpdated)).toEqual([expect.objectContaining({ id: job.id, state: 'SUCCEEDED' })]);
    } finally {
      await client.dispose();
      await owner.dispose();
    }
    const viaSse = await sse(t.url, stranger.token ?? '', JOB_UPDATED, { id: job.id });
    expect(viaSse.events.every((e) => !e.data?.publishJobUpdated)).toBe(true);
    const ownerViaSse = await sse(t.url, t.admin.token ?? '', JOB_UPDATED, { id: job.id });
    expect(ownerViaSse.events.map((e) => e.data?.publishJobUpdated?.id)).toEqual([job.id]);
  });

  it("never shows another account's jobs or environments in the wide subscriptions", async () => {
    const stranger = await t.otherAccount();
    const strangerWorld = await publishWorld(stranger);
    const w = await publishWorld(t.admin);
    const strangerClient = wsClient(t.url, stranger.token);
    const ownerClient = wsClient(t.url, t.admin.token);
    type Seen = { jobs: { id: string; state: string }[]; statuses: { id: string; status: string }[] };
    const watch = (client: ReturnType<typeof wsClient>) => {
      const seen: Seen = { jobs: [], statuses: [] };
      const jobs = client.iterate<{ publishJobsUpdated: { id: string; state: string } }>({ query: JOBS_UPDATED, variables: {} });
      const statuses = client.iterate<{ environmentStatusChanged: { environment: { id: string }; status: string } }>({ query: STATUS_CHANGED, variables: {} });
      const reading = Promise.all([
        (async () => {
          for await (const result of jobs) if (result.data) seen.jobs.push(result.data.publishJobsUpdated);
        })(),
        (async () => {
          for await (const result of statuses) if (result.data) seen.statuses.push({ id: result.data.environmentStatusChanged.environment.id, status: result.data.environmentStatusChanged.status });
        })(),
      ]);
      return { seen, stop: async () => Promise.all([jobs.return?.(), statuses.return?.(), reading]) };
    };
    const until = async (condition: () => boolean, tries = 500) => {
      for (let i = 0; i < tries && !condition(); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      return condition();
    };
    const strangerPublish = async () =>
      noUserErrors((await stranger.request(PUBLISH_NATIVE, { input: { appId: strangerWorld.appId, environmentId: strangerWorld.environmentId, option: 'APP_STORE', workflowState: 'DRAFT', removePlatforms: ['WINDOWS'], sync: true } })).publishNativeClient).job;
    const strangerWatch = watch(strangerClient);
    const ownerWatch = watch(ownerClient);
    try {
      // The stranger's own job opens the window: its subscriptions are live once it sees that job end.
      // The stranger's own jobs open the window: its subscriptions are live once they see one end
      // (a job may end before the subscriptions are in place, so it takes a few at most).
      const opening: string[] = [];
      const strangerSaw = (id: string) => () => strangerWatch.seen.jobs.some((j) => j.id === id && j.state === 'SUCCEEDED');
      const strangerAvailable = () => strangerWatch.seen.statuses.filter((e) => e.id === strangerWorld.environmentId && e.status === 'AVAILABLE').length;
      for (let attempt = 0; attempt < 20 && !(opening.length > 0 && (await until(strangerSaw(opening.at(-1) as string), 50)) && strangerAvailable() > 0); attempt += 1)
        opening.push((await strangerPublish()).id);
      expect(strangerSaw(opening.at(-1) as string)()).toBe(true);
      const ownersJob = await startNative(t, w, { sync: true });
      // Positive control: the owner's subscribers see the owner's job and environment, in the same window.
      expect(await until(() => ownerWatch.seen.jobs.some((j) => j.id === ownersJob.id && j.state === 'SUCCEEDED'))).toBe(true);
      expect(await until(() => ownerWatch.seen.statuses.some((e) => e.id === w.environmentId && e.status === 'AVAILABLE'))).toBe(true);
      // Another job of the stranger closes the window: events arrive in order, so anything of the owner's would be here by now.
      const availableBefore = strangerAvailable();
      const closing = await strangerPublish();
      expect(await until(strangerSaw(closing.id))).toBe(true);
      expect(await until(() => strangerAvailable() > availableBefore)).toBe(true);

      expect(strangerWatch.seen.jobs.every((j) => [...opening, closing.id].includes(j.id))).toBe(true);
      expect(new Set(strangerWatch.seen.statuses.map((e) => e.id))).toEqual(new Set([strangerWorld.environmentId]));
      expect(ownerWatch.seen.jobs.some((j) => [...opening, closing.id].includes(j.id))).toBe(false);
    } finally {
      await strangerWatch.stop();
      await ownerWatch.stop();
      await strangerClient.dispose();
      await ownerClient.dispose();
    }
  });
});

describe('shared executions for wide subscriptions', () => {
  it('runs one execution for many subscribers of the same operation, and each still gets every event', async () => {
    const t = await startServer({ publishStageDelayMs: 2 });
    try {
      const w = await publishWorld(t.admin);
      const clients = Array.from({ length: 3 }, () => wsClient(t.url, t.admin.token));
      const other = wsClient(t.url, t.admin.token);
      const received = clients.map(() => [] as string[]);
      const iterators = clients.map((client) => client.iterate<{ publishJobsUpdated: { state: string } }>({ query: JOBS_UPDATED, variables: { env: w.environmentId } }));
      const readers = iterators.map(async (iterator, i) => {
        for await (const result of iterator) received[i]?.push(result.data?.publishJobsUpdated.state ?? '');
      });
      const otherIterator = other.iterate({ query: JOBS_UPDATED, variables: { app: w.appId } });
      const otherReader = (async () => {
        for await (const _result of otherIterator) void _result;
      })();
      for (let i = 0; i < 100 && t.server.realtime.openStreams < 2; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(t.server.realtime.openStreams).toBe(2);
      const job = await startNative(t, w, { sync: true });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(job.state).toBe('SUCCEEDED');
      expect(received[0]?.at(-1)).toBe('SUCCEEDED');
      expect(received[1]).toEqual(received[0]);
      expect(received[2]).toEqual(received[0]);
      // One subscriber leaving does not end the execution the others share.
      await iterators[0]?.return?.();
      await startNative(t, w, { sync: true });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(received[1]?.length).toBe((received[0]?.length ?? 0) * 2);
      for (const iterator of iterators) await iterator.return?.();
      await otherIterator.return?.();
      await Promise.all([...readers, otherReader]);
      for (const client of [...clients, other]) await client.dispose();
      for (let i = 0; i < 100 && t.server.realtime.openStreams > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(t.server.realtime.openStreams).toBe(0);
    } finally {
      await t.stop();
    }
  });
});

describe('slow and vanished subscribers (R42)', () => {
  it('drops a stalled reader while everyone else gets every event, and the server queue stays bounded', async () => {
    const t = await startServer({ publishStageDelayMs: 2 }, { maxQueuedEvents: 16 });
    try {
      const worlds = await Promise.all(Array.from({ length: 20 }, () => publishWorld(t.admin)));
      // A stalled reader: subscribes to everything with a heavy selection, then stops reading.
      const heavy = `subscription { publishJobsUpdated { ${Array.from({ length: 30 }, (_, i) => `s${i}: stages { key title state message startedAt finishedAt }`).join(' ')} } }`;
      const stalled = new WebSocket(`${t.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      await new Promise<void>((resolve) => {
        stalled.on('open', () => stalled.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${t.admin.token}` } })));
        stalled.on('message', (data) => {
          if (JSON.parse(String(data)).type !== 'connection_ack') return;
          stalled.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: heavy } }));
          setTimeout(() => {
            (stalled as unknown as { _socket: { pause(): void } })._socket.pause();
            resolve();
          }, 50);
        });
      });

      const healthy = wsClient(t.url, t.admin.token);
      const received = new Map<string, string[]>();
      const iterator = healthy.iterate<{ publishJobsUpdated: { id: string; state: string } }>({ query: JOBS_UPDATED, variables: {} });
      const reading = (async () => {
        for await (const result of iterator) {
          const job = result.data?.publishJobsUpdated;
          if (job) received.set(job.id, [...(received.get(job.id) ?? []), job.state]);
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 50));

      let maxOpen = 0;
      const sampler = setInterval(() => (maxOpen = Math.max(maxOpen, t.server.realtime.openStreams)), 5);
      const jobs = await Promise.all(worlds.map((w) => startNative(t, w)));
      for (const job of jobs) await waitForJob(t.admin, job.id);
      await new Promise((resolve) => setTimeout(resolve, 200));
      clearInterval(sampler);

      for (const job of jobs) expect(received.get(job.id)?.at(-1), job.id).toBe('SUCCEEDED');
      expect(t.server.realtime.droppedSubscribers).toBe(1);
      expect(t.server.realtime.openStreams).toBe(1);
      expect(maxOpen).toBeLessThanOrEqual(2);
      await iterator.return?.();
      await reading;
      await healthy.dispose();
      stalled.terminate();
    } finally {
      await t.stop();
    }
  });

  it('leaves no stream or listener behind after 200 connect/disconnect cycles', async () => {
    const t = await startServer();
    try {
      const w = await publishWorld(t.admin);
      const job = await startNative(t, w, { sync: true });
      const listenersBefore = t.server.domain.events.listenerCount;
      for (let i = 0; i < 200; i += 1) {
        const client = wsClient(t.url, t.admin.token);
        const iterator = client.iterate({ query: i % 2 === 0 ? JOBS_UPDATED : STATUS_CHANGED, variables: {} });
        const pending = iterator.next();
        await new Promise((resolve) => setImmediate(resolve));
        await iterator.return?.();
        await client.dispose();
        await Promise.race([pending, new Promise((resolve) => setTimeout(resolve, 5))]);
      }
      const finished = wsClient(t.url, t.admin.token);
      await collect(finished, JOB_UPDATED, { id: job.id });
      await finished.dispose();
      for (let i = 0; i < 100 && t.server.realtime.openStreams > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(t.server.realtime.openStreams).toBe(0);
      expect(t.server.domain.events.listenerCount).toBe(listenersBefore);
    } finally {
      await t.stop();
    }
  });
});
