import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type autocannon from 'autocannon';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DASHBOARD } from './dashboard.js';
import { BENCH_ADMIN_TOKEN, benchPostgres, median, startInstance, redisUrl, type BenchInstance } from './instances.js';
import { gql, printFigures, round, type Figure } from './support.js';

const exec = promisify(execFile);

const APPS = 50;
const ENVIRONMENTS = 8;
const JOBS_PER_PAIR = 20;
const STAGE_KEYS = ['VALIDATE', 'TRANSFER_BINARIES', 'WRAP', 'SIGN', 'REGISTER_VERSIONS', 'REMOVE_VERSIONS', 'APPLY_TARGETS', 'SET_WORKFLOW_STATE', 'NOTIFY_TARGETS'];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/** Two load generators of 16 connections each in every variant, so that the load costs the same. */
const CONNECTIONS = 16;

/** The same 50 apps and 8 environments through the API, on whichever instance. */
async function seedThroughApi(url: string): Promise<void> {
  for (let i = 0; i < ENVIRONMENTS; i += 1) {
    await gql(url, BENCH_ADMIN_TOKEN, `mutation ($name: String!) { createEnvironment(input: { name: $name, managementEnabled: true }) { environment { id } } }`, { name: `bench-${i}` });
  }
  for (let i = 0; i < APPS; i += 1) {
    await gql(url, BENCH_ADMIN_TOKEN, `mutation ($name: String!) { createApp(input: { name: $name }) { app { id } } }`, { name: `BenchApp${i}` });
  }
}

/**
 * 20 finished jobs with their 9 stages per app and environment, written straight into the database
 * as bench/dashboard.ts does (through the pipeline it would take minutes): SQLite row by row in one
 * transaction, PostgreSQL in two set-based statements.
 */
function seedJobsSqlite(dataDir: string): void {
  const sqlite = new Database(join(dataDir, 'shipyard.db'));
  try {
    const user = sqlite.prepare('select id, account_id as accountId from users order by id limit 1').get() as { id: number; accountId: number };
    const apps = sqlite.prepare('select id from apps where account_id = ? order by id').all(user.accountId) as { id: number }[];
    const environments = sqlite.prepare('select id from environments where account_id = ? order by id').all(user.accountId) as { id: number }[];
    const insertJob = sqlite.prepare(
      `insert into publish_jobs (account_id, tracking_number, app_id, environment_id, kind, action, sync, state, requested_by, request, warnings, created_at, started_at, finished_at, revision)
       values (?, ?, ?, ?, ?, 'PUBLISH', 0, 'SUCCEEDED', ?, '{}', '[]', ?, ?, ?, 20)`,
    );
    const insertStage = sqlite.prepare(`insert into publish_stages (job_id, position, key, title, state, started_at, finished_at) values (?, ?, ?, ?, 'SUCCEEDED', ?, ?)`);
    let tracking = 0;
    sqlite.transaction(() => {
      for (const app of apps) {
        for (const environment of environments) {
          for (let n = 0; n < JOBS_PER_PAIR; n += 1) {
            tracking += 1;
            const now = Date.now();
            const kind = n % 2 === 0 ? 'NATIVE_CLIENT' : 'SERVICES_AND_WEB';
            const { lastInsertRowid } = insertJob.run(user.accountId, tracking, app.id, environment.id, kind, user.id, now, now, now);
            STAGE_KEYS.forEach((key, position) => insertStage.run(lastInsertRowid, position, key, key, now, now));
          }
        }
      }
    })();
  } finally {
    sqlite.close();
  }
}

async function seedJobsPostgres(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const now = Date.now();
    await client.query('begin');
    const { rows } = await client.query<{ id: number; account_id: number }>('select id, account_id from users order by id limit 1');
    const user = rows[0];
    if (!user) throw new Error('no user to seed jobs for');
    await client.query(
      `insert into publish_jobs (account_id, tracking_number, app_id, environment_id, kind, action, sync, state, requested_by, request, warnings, created_at, started_at, finished_at, revision)
       select $1, row_number() over (order by a.id, e.id, n), a.id, e.id, case when n % 2 = 0 then 'NATIVE_CLIENT' else 'SERVICES_AND_WEB' end,
              'PUBLISH', 0, 'SUCCEEDED', $2, '{}', '[]', $3, $3, $3, 20
       from apps a cross join environments e cross join generate_series(0, $4::int - 1) n
       where a.account_id = $1 and e.account_id = $1
       order by a.id, e.id, n`,
      [user.account_id, user.id, now, JOBS_PER_PAIR],
    );
    await client.query(
      `insert into publish_stages (job_id, position, key, title, state, started_at, finished_at)
       select j.id, k.position - 1, k.key, k.key, 'SUCCEEDED', $2, $2
       from publish_jobs j cross join unnest($3::text[]) with ordinality as k(key, position)
       where j.account_id = $1`,
      [user.account_id, now, STAGE_KEYS],
    );
    await client.query('commit');
    // What autovacuum would do soon after such a load in production: statistics for the planner.
    await client.query('analyze');
  } finally {
    await client.end();
  }
}

/** autocannon in processes of their own: one per URL given, 16 connections each, at the same time. */
async function load(urls: string[]) {
  const body = JSON.stringify({ query: DASHBOARD });
  const results = await Promise.all(
    urls.map(async (url) => {
      const args = ['--json', '--connections', String(CONNECTIONS), '--duration', String(SECONDS), '--method', 'POST', '--body', body, '--timeout', '30'];
      args.push('--headers', 'content-type=application/json', '--headers', `authorization=Bearer ${BENCH_ADMIN_TOKEN}`);
      const { stdout } = await exec(join('node_modules', '.bin', 'autocannon'), [...args, `${url}/graphql`], { maxBuffer: 64 * 1024 * 1024 });
      return JSON.parse(stdout) as autocannon.Result;
    }),
  );
  return {
    rps: results.reduce((sum, r) => sum + r.requests.average, 0),
    // Percentiles of two generators cannot be merged exactly: the worse of the two.
    p50: Math.max(...results.map((r) => r.latency.p50)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    errors: results.reduce((sum, r) => sum + r.errors + r.non2xx, 0),
  };
}

type Load = Awaited<ReturnType<typeof load>>;
const summary = (values: number[], digits = 1) => `${round(median(values), digits)} (${round(Math.min(...values), digits)}–${round(Math.max(...values), digits)})`;

export async function dashboardPostgres(): Promise<Figure[]> {
  const database = await benchPostgres();
  const instances: BenchInstance[] = [];
  try {
    const sqlite = await startInstance({});
    instances.push(sqlite);
    const postgresEnv = { DATABASE_URL: database.databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: database.redisPrefix };
    // One after the other: the first migrates the empty database.
    const a = await startInstance(postgresEnv);
    instances.push(a);
    const b = await startInstance(postgresEnv);
    instances.push(b);

    await seedThroughApi(sqlite.url);
    seedJobsSqlite(sqlite.dataDir);
    await seedThroughApi(a.url);
    await seedJobsPostgres(database.databaseUrl);

    // Every instance answers the same dashboard (and warms its caches) before the rounds.
    const answers = await Promise.all([sqlite, a, b].map((instance) => gql(instance.url, BENCH_ADMIN_TOKEN, DASHBOARD)));
    const rows = (answers[0]?.apps.nodes as { environmentStatuses: unknown[] }[]).reduce((sum, app) => sum + app.environmentStatuses.length, 0);
    const same = answers.every((answer) => JSON.stringify(answer) === JSON.stringify(answers[0]));

    // SQLite, PostgreSQL on one instance, on two, in turn (A, B, C, A, B, C, …): all see the same machine.
    const onSqlite: Load[] = [];
    const onOne: Load[] = [];
    const onTwo: Load[] = [];
    for (let r = 0; r < ROUNDS; r += 1) {
      onSqlite.push(await load([sqlite.url, sqlite.url]));
      onOne.push(await load([a.url, a.url]));
      onTwo.push(await load([a.url, b.url]));
      console.error(`dashboard-pg round ${r + 1}: sqlite ${round(onSqlite[r]?.rps ?? 0)}/s, postgres ×1 ${round(onOne[r]?.rps ?? 0)}/s, postgres ×2 ${round(onTwo[r]?.rps ?? 0)}/s`);
    }
    const oneVsSqlite = onOne.map((o, r) => o.rps / (onSqlite[r]?.rps ?? Number.NaN));
    const twoVsOne = onTwo.map((t, r) => t.rps / (onOne[r]?.rps ?? Number.NaN));
    const rps = (loads: Load[]) => summary(loads.map((l) => l.rps));
    return [
      { metric: `rows per answer (${APPS} apps × ${ENVIRONMENTS} environments, ${APPS * ENVIRONMENTS * JOBS_PER_PAIR} jobs); same answer on every variant`, shipyard: `${rows}; ${same ? 'yes' : 'NO'}` },
      { metric: `SQLite, 1 instance: requests/s at 2 × ${CONNECTIONS} connections, median (min–max) of ${ROUNDS} interleaved rounds of ${SECONDS} s`, shipyard: rps(onSqlite) },
      { metric: 'PostgreSQL, 1 instance: requests/s (ratio: vs SQLite, same rounds)', shipyard: rps(onOne), baseline: rps(onSqlite), ratio: round(median(oneVsSqlite), 2), goal: `range ${summary(oneVsSqlite, 2)}` },
      { metric: 'PostgreSQL + Redis, 2 instances, requests spread over both: requests/s (ratio: vs 1 instance)', shipyard: rps(onTwo), baseline: rps(onOne), ratio: round(median(twoVsOne), 2), goal: `range ${summary(twoVsOne, 2)}` },
      { metric: 'latency p50 (ms): SQLite / PostgreSQL ×1 / ×2', shipyard: [onSqlite, onOne, onTwo].map((loads) => summary(loads.map((l) => l.p50), 0)).join(' / ') },
      { metric: 'latency p99 (ms): SQLite / PostgreSQL ×1 / ×2', shipyard: [onSqlite, onOne, onTwo].map((loads) => summary(loads.map((l) => l.p99), 0)).join(' / ') },
      { metric: 'errors: SQLite / PostgreSQL ×1 / ×2', shipyard: [onSqlite, onOne, onTwo].map((loads) => loads.reduce((sum, l) => sum + l.errors, 0)).join(' / ') },
    ];
  } finally {
    await Promise.allSettled(instances.map((instance) => instance.stop()));
    await database.drop();
  }
}

export async function run(): Promise<void> {
  printFigures('dashboard on PostgreSQL (beside SQLite, separate processes)', await dashboardPostgres());
}
