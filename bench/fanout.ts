import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBaseline } from './fanout-baseline.js';
import { gql, printFigures, round, startBenchServer, type BenchServer } from './support.js';

export const SUBSCRIBERS = 1000;
export const JOBS = 5;
/** A removal-only native publish: queued, running, 9 stages each RUNNING then finished, final. */
export const EVENTS_PER_JOB = 1 + 1 + 2 * 9 + 1;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

interface Received {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** The bench's 1,000 graphql-ws clients, in a process of their own (the other core). */
async function clients(url: string, token: string, environmentId: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/fanout-clients.ts', url, token, environmentId, String(SUBSCRIBERS), String(JOBS * EVENTS_PER_JOB)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => JSON.parse(String((await lines.next()).value)) as Received & { ready?: boolean };
  await next();
  return { received: next, stop: () => child.kill() };
}

/** One round: clients connect, jobs run, and the time until every client has every event. */
async function round_(url: string, token: string, environmentId: string, subscribed: () => Promise<void>, publish: () => Promise<void>) {
  const child = await clients(url, token, environmentId);
  try {
    await subscribed();
    const started = performance.now();
    await publish();
    const received = await child.received();
    return { ...received, perSecond: received.count / ((performance.now() - started) / 1000) };
  } finally {
    child.stop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const range = (values: number[], digits = 2) => `${round(median(values), digits)} (${round(Math.min(...values), digits)}–${round(Math.max(...values), digits)})`;

async function shipyardRound(bench: BenchServer, appId: string, environmentId: string) {
  return round_(
    bench.url,
    bench.token,
    environmentId,
    // graphql-ws subscribes a moment after the connection is acknowledged.
    async () => {
      for (let i = 0; i < 200 && bench.server.realtime.openStreams === 0; i += 1) await sleep(10);
      await sleep(500);
    },
    async () => {
      for (let i = 0; i < JOBS; i += 1) {
        await gql(
          bench.url,
          bench.token,
          `mutation ($app: ID!, $env: ID!) { publishNativeClient(input: { appId: $app, environmentId: $env, option: APP_STORE, workflowState: DRAFT, removePlatforms: [WINDOWS], sync: true }) { job { state } } }`,
          { app: appId, env: environmentId },
        );
      }
    },
  );
}

export async function run(): Promise<void> {
  const bench = await startBenchServer();
  const baseline = await startBaseline();
  try {
    const created = await gql(
      bench.url,
      bench.token,
      `mutation { createApp(input: { name: "Fanout" }) { app { id } } createEnvironment(input: { name: "fanout", managementEnabled: true }) { environment { id } } }`,
    );
    const appId = created.createApp.app.id;
    const environmentId = created.createEnvironment.environment.id;

    // Memory per subscriber, once, before the rounds.
    global.gc?.();
    const before = process.memoryUsage();
    const held = await clients(bench.url, bench.token, environmentId);
    await sleep(1000);
    global.gc?.();
    const connected = process.memoryUsage();
    held.stop();
    const perSubscriberKiB = round((connected.heapUsed + connected.external - before.heapUsed - before.external) / SUBSCRIBERS / 1024);
    const rssPerSubscriberKiB = round((connected.rss - before.rss) / SUBSCRIBERS / 1024);
    for (let i = 0; i < 200 && bench.server.realtime.openStreams > 0; i += 1) await sleep(10);

    // Shipyard and the bare baseline in turn (A, B, A, B, …), so that both see the same machine.
    const shipyard: Awaited<ReturnType<typeof shipyardRound>>[] = [];
    const bare: typeof shipyard = [];
    for (let r = 0; r < ROUNDS; r += 1) {
      shipyard.push(await shipyardRound(bench, appId, environmentId));
      for (let i = 0; i < 200 && bench.server.realtime.openStreams > 0; i += 1) await sleep(10);
      bare.push(
        await round_(
          baseline.url,
          bench.token,
          environmentId,
          async () => {
            for (let i = 0; i < 500 && baseline.subscribers() < SUBSCRIBERS; i += 1) await sleep(10);
          },
          () => baseline.publishJobs(JOBS),
        ),
      );
      console.error(`fanout round ${r + 1}: shipyard ${round(shipyard[r]?.perSecond ?? 0)}/s p99 ${shipyard[r]?.p99} ms; baseline ${round(bare[r]?.perSecond ?? 0)}/s p99 ${bare[r]?.p99} ms`);
    }
    const rates = shipyard.map((s, r) => s.perSecond / (bare[r]?.perSecond ?? Number.NaN));
    const p99s = shipyard.map((s, r) => s.p99 / (bare[r]?.p99 ?? Number.NaN));
    printFigures(`fanout (${ROUNDS} interleaved rounds; median (min–max))`, [
      { metric: `events delivered per round (${SUBSCRIBERS} subscribers × ${JOBS} jobs × ${EVENTS_PER_JOB} changes)`, shipyard: range(shipyard.map((s) => s.count), 0), baseline: range(bare.map((s) => s.count), 0) },
      {
        metric: 'deliveries per second',
        shipyard: range(shipyard.map((s) => s.perSecond), 0),
        baseline: range(bare.map((s) => s.perSecond), 0),
        ratio: round(median(rates), 2),
        goal: `ratio ≥ 0.8 (range ${range(rates)})`,
        met: median(rates) >= 0.8,
      },
      { metric: 'persistence → receipt p50 (ms)', shipyard: range(shipyard.map((s) => s.p50), 0), baseline: range(bare.map((s) => s.p50), 0) },
      {
        metric: 'persistence → receipt p99 (ms)',
        shipyard: range(shipyard.map((s) => s.p99), 0),
        baseline: range(bare.map((s) => s.p99), 0),
        ratio: round(median(p99s), 2),
        goal: `ratio ≤ 1.25 (range ${range(p99s)})`,
        met: median(p99s) <= 1.25,
      },
      { metric: 'persistence → receipt max (ms)', shipyard: range(shipyard.map((s) => s.max), 0), baseline: range(bare.map((s) => s.max), 0) },
      { metric: 'server heap + external per subscriber (KiB)', shipyard: perSubscriberKiB, goal: '≤ 50 KiB', met: perSubscriberKiB <= 50 },
      { metric: 'server RSS per subscriber (KiB)', shipyard: rssPerSubscriberKiB },
    ]);
  } finally {
    await baseline.stop();
    await bench.stop();
  }
}
