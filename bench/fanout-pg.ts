import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { EVENTS_PER_JOB, JOBS, SUBSCRIBERS } from './fanout.js';
import { BENCH_ADMIN_TOKEN, benchPostgres, median, redisUrl, startInstance, until, type BenchInstance } from './instances.js';
import { gql, printFigures, round, type Figure } from './support.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Clients not connected, or events not delivered, by then are lost: the bench fails rather than hangs. */
const ROUND_TIMEOUT_MS = 180_000;

interface Received {
  count: number;
  p50: number;
  p99: number;
  max: number;
  retried: { beforeAck: number; serverError: number };
}

/** One store and the instances that serve it, with the app and environment the jobs publish to. */
interface Variant {
  name: string;
  instances: BenchInstance[];
  appId: string;
  environmentId: string;
}

/** `promise`, or an error once ROUND_TIMEOUT_MS have passed: the bench fails rather than hangs. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`fanout-pg: not ${what} within ${ROUND_TIMEOUT_MS} ms`)), ROUND_TIMEOUT_MS)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** The bench's graphql-ws clients in a process of their own, spread over `instances` in turn. */
async function clients(instances: BenchInstance[], environmentId: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/fanout-clients.ts', instances.map((i) => i.url).join(','), BENCH_ADMIN_TOKEN, environmentId, String(SUBSCRIBERS), String(JOBS * EVENTS_PER_JOB)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => JSON.parse(String((await lines.next()).value)) as Received & { ready?: boolean };
  await within(next(), `all ${SUBSCRIBERS} clients connected`).catch((error: unknown) => {
    child.kill();
    throw error;
  });
  return { received: () => within(next(), 'every event delivered'), stop: () => child.kill() };
}

/** Until each instance holds its share of the subscribers (or, with `share` 0, none). */
async function subscribed(instances: BenchInstance[], share: number) {
  await until(async () => (await Promise.all(instances.map((i) => i.subscriptions()))).every((n) => (share === 0 ? n === 0 : n >= share)), `${share} subscriptions per instance`);
}

async function setUp(name: string, instances: BenchInstance[]): Promise<Variant> {
  const first = instances[0] as BenchInstance;
  const created = await gql(
    first.url,
    BENCH_ADMIN_TOKEN,
    `mutation { createApp(input: { name: "Fanout" }) { app { id } } createEnvironment(input: { name: "fanout", managementEnabled: true }) { environment { id } } }`,
  );
  return { name, instances, appId: created.createApp.app.id, environmentId: created.createEnvironment.environment.id };
}

/** Memory per subscriber: every instance's heap + external and RSS, after a full collection, before and with the subscribers. */
async function memoryPerSubscriber(variant: Variant) {
  const before = await Promise.all(variant.instances.map((i) => i.memory()));
  const held = await clients(variant.instances, variant.environmentId);
  try {
    await subscribed(variant.instances, SUBSCRIBERS / variant.instances.length);
    const connected = await Promise.all(variant.instances.map((i) => i.memory()));
    const grew = (key: 'heapUsed' | 'external' | 'rss') => connected.reduce((sum, m, i) => sum + m[key] - (before[i]?.[key] ?? 0), 0);
    return { heap: round((grew('heapUsed') + grew('external')) / SUBSCRIBERS / 1024), rss: round(grew('rss') / SUBSCRIBERS / 1024) };
  } finally {
    held.stop();
    await subscribed(variant.instances, 0);
  }
}

/** One round: clients connect, five jobs run (sent to the instances in turn), and the time until every client has every event. */
async function fanoutRound(variant: Variant) {
  const child = await clients(variant.instances, variant.environmentId);
  try {
    await subscribed(variant.instances, SUBSCRIBERS / variant.instances.length);
    const started = performance.now();
    for (let j = 0; j < JOBS; j += 1) {
      await gql(
        (variant.instances[j % variant.instances.length] as BenchInstance).url,
        BENCH_ADMIN_TOKEN,
        `mutation ($app: ID!, $env: ID!) { publishNativeClient(input: { appId: $app, environmentId: $env, option: APP_STORE, workflowState: DRAFT, removePlatforms: [WINDOWS], sync: true }) { job { state } } }`,
        { app: variant.appId, env: variant.environmentId },
      );
    }
    const received = await child.received();
    return { ...received, perSecond: received.count / ((performance.now() - started) / 1000) };
  } finally {
    child.stop();
    await subscribed(variant.instances, 0);
  }
}

type Round = Awaited<ReturnType<typeof fanoutRound>>;
const range = (values: number[], digits = 2) => `${round(median(values), digits)} (${round(Math.min(...values), digits)}–${round(Math.max(...values), digits)})`;

export async function fanoutPostgres(): Promise<Figure[]> {
  const database = await benchPostgres();
  const started: BenchInstance[] = [];
  try {
    const sqliteInstance = await startInstance({});
    started.push(sqliteInstance);
    const postgresEnv = { DATABASE_URL: database.databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: database.redisPrefix };
    // One after the other: the first migrates the empty database.
    const a = await startInstance(postgresEnv);
    started.push(a);
    const b = await startInstance(postgresEnv);
    started.push(b);

    const sqlite = await setUp('SQLite, in-process pubsub', [sqliteInstance]);
    const one = await setUp('PostgreSQL + Redis, 1 instance', [a]);
    // The same app and environment, served by both instances.
    const two: Variant = { ...one, name: 'PostgreSQL + Redis, 2 instances', instances: [a, b] };
    const variants = [sqlite, one, two];

    const memory = [];
    for (const variant of variants) memory.push(await memoryPerSubscriber(variant));

    // The three in turn (A, B, C, A, B, C, …), so that all see the same machine.
    const rounds: Round[][] = variants.map(() => []);
    for (let r = 0; r < ROUNDS; r += 1) {
      for (const [v, variant] of variants.entries()) rounds[v]?.push(await fanoutRound(variant));
      console.error(
        `fanout-pg round ${r + 1}: ${variants.map((variant, v) => `${variant.name} ${round(rounds[v]?.[r]?.perSecond ?? 0)}/s p99 ${rounds[v]?.[r]?.p99} ms`).join('; ')}`,
      );
    }
    const [onSqlite = [], onOne = [], onTwo = []] = rounds;
    const ratios = (a: Round[], b: Round[], key: 'perSecond' | 'p99') => a.map((x, r) => x[key] / (b[r]?.[key] ?? Number.NaN));
    const figures: Figure[] = [
      { metric: `events delivered per round (${SUBSCRIBERS} subscribers × ${JOBS} jobs × ${EVENTS_PER_JOB} changes): SQLite / PostgreSQL ×1 / ×2`, shipyard: rounds.map((rs) => range(rs.map((s) => s.count), 0)).join(' / ') },
      { metric: `SQLite, 1 instance, in-process pubsub: deliveries per second, median (min–max) of ${ROUNDS} interleaved rounds`, shipyard: range(onSqlite.map((s) => s.perSecond), 0) },
      {
        metric: 'PostgreSQL + Redis, 1 instance: deliveries per second (ratio: vs SQLite, same rounds)',
        shipyard: range(onOne.map((s) => s.perSecond), 0),
        baseline: range(onSqlite.map((s) => s.perSecond), 0),
        ratio: round(median(ratios(onOne, onSqlite, 'perSecond')), 2),
        goal: `range ${range(ratios(onOne, onSqlite, 'perSecond'))}`,
      },
      {
        metric: 'PostgreSQL + Redis, 2 instances, subscribers spread over both: deliveries per second (ratio: vs 1 instance)',
        shipyard: range(onTwo.map((s) => s.perSecond), 0),
        baseline: range(onOne.map((s) => s.perSecond), 0),
        ratio: round(median(ratios(onTwo, onOne, 'perSecond')), 2),
        goal: `range ${range(ratios(onTwo, onOne, 'perSecond'))}`,
      },
      { metric: 'persistence → receipt p50 (ms): SQLite / PostgreSQL ×1 / ×2', shipyard: rounds.map((rs) => range(rs.map((s) => s.p50), 0)).join(' / ') },
      {
        metric: 'persistence → receipt p99 (ms), PostgreSQL ×1 (ratio: vs SQLite)',
        shipyard: range(onOne.map((s) => s.p99), 0),
        baseline: range(onSqlite.map((s) => s.p99), 0),
        ratio: round(median(ratios(onOne, onSqlite, 'p99')), 2),
        goal: `range ${range(ratios(onOne, onSqlite, 'p99'))}`,
      },
      {
        metric: 'persistence → receipt p99 (ms), PostgreSQL ×2 (ratio: vs ×1)',
        shipyard: range(onTwo.map((s) => s.p99), 0),
        baseline: range(onOne.map((s) => s.p99), 0),
        ratio: round(median(ratios(onTwo, onOne, 'p99')), 2),
        goal: `range ${range(ratios(onTwo, onOne, 'p99'))}`,
      },
      { metric: 'persistence → receipt max (ms): SQLite / PostgreSQL ×1 / ×2', shipyard: rounds.map((rs) => range(rs.map((s) => s.max), 0)).join(' / ') },
      { metric: 'heap + external per subscriber, all instances (KiB): SQLite / PostgreSQL ×1 / ×2', shipyard: memory.map((m) => m.heap).join(' / '), goal: '≤ 50 KiB', met: memory.every((m) => m.heap <= 50) },
      { metric: 'RSS per subscriber, all instances (KiB): SQLite / PostgreSQL ×1 / ×2', shipyard: memory.map((m) => m.rss).join(' / ') },
      {
        metric: 'connections tried again per round, median (max): refused before ack, closed 4500 before the first event: SQLite / PostgreSQL ×1 / ×2',
        shipyard: rounds
          .map((rs) => (['beforeAck', 'serverError'] as const).map((key) => `${median(rs.map((s) => s.retried[key]))} (${Math.max(...rs.map((s) => s.retried[key]))})`).join(', '))
          .join(' / '),
      },
      { metric: "graphql-ws handler failures in the instances' logs, whole run: SQLite / PostgreSQL A / B", shipyard: started.map((i) => i.internalErrors()).join(' / ') },
    ];
    return figures;
  } finally {
    await Promise.allSettled(started.map((instance) => instance.stop()));
    await database.drop();
  }
}

export async function run(): Promise<void> {
  printFigures('fanout on PostgreSQL + Redis (beside SQLite, separate processes)', await fanoutPostgres());
}
