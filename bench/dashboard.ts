import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type autocannon from 'autocannon';
import Database from 'better-sqlite3';
import type { Domain } from '../src/domain/index.js';
import type { Principal } from '../src/domain/principal.js';
import { gql, printFigures, round, startBenchServer, type Figure } from './support.js';

export const DASHBOARD = `{ apps(first: 50) { nodes { environmentStatuses { environment { name status } latestNativeJob { state stages { key state } } latestServicesJob { state } } } } }`;

const exec = promisify(execFile);

const APPS = 50;
const ENVIRONMENTS = 8;
const JOBS_PER_PAIR = 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

/**
 * 50 apps × 8 environments × 20 finished jobs each, with their stages. Jobs are written straight
 * into the database in one transaction: going through the pipeline would take minutes.
 */
export async function seed(domain: Domain, principal: Principal, dataDir: string, jobsPerPair = JOBS_PER_PAIR): Promise<void> {
  const environments: { id: number }[] = [];
  for (let i = 0; i < ENVIRONMENTS; i += 1) {
    const created = await domain.environments.create(principal, { name: `bench-${i}`, managementEnabled: true });
    if (!created.ok) throw new Error('seed environment');
    environments.push(created.value);
  }
  const apps: { id: number }[] = [];
  for (let i = 0; i < APPS; i += 1) {
    const created = await domain.apps.create(principal, { name: `BenchApp${i}` });
    if (!created.ok) throw new Error('seed app');
    apps.push(created.value);
  }
  const sqlite = new Database(join(dataDir, 'shipyard.db'));
  try {
    const insertJob = sqlite.prepare(
      `insert into publish_jobs (account_id, tracking_number, app_id, environment_id, kind, action, sync, state, requested_by, request, warnings, created_at, started_at, finished_at, revision)
       values (?, ?, ?, ?, ?, 'PUBLISH', 0, 'SUCCEEDED', ?, '{}', '[]', ?, ?, ?, 20)`,
    );
    const insertStage = sqlite.prepare(`insert into publish_stages (job_id, position, key, title, state, started_at, finished_at) values (?, ?, ?, ?, 'SUCCEEDED', ?, ?)`);
    const stageKeys = ['VALIDATE', 'TRANSFER_BINARIES', 'WRAP', 'SIGN', 'REGISTER_VERSIONS', 'REMOVE_VERSIONS', 'APPLY_TARGETS', 'SET_WORKFLOW_STATE', 'NOTIFY_TARGETS'];
    let tracking = 0;
    sqlite.transaction(() => {
      for (const app of apps) {
        for (const environment of environments) {
          for (let n = 0; n < jobsPerPair; n += 1) {
            tracking += 1;
            const now = Date.now();
            const kind = n % 2 === 0 ? 'NATIVE_CLIENT' : 'SERVICES_AND_WEB';
            const { lastInsertRowid } = insertJob.run(principal.accountId, tracking, app.id, environment.id, kind, principal.userId, now, now, now);
            stageKeys.forEach((key, position) => insertStage.run(lastInsertRowid, position, key, key, now, now));
          }
        }
      }
    })();
  } finally {
    sqlite.close();
  }
}

/** The same answer as the GraphQL dashboard query, from the same domain calls, as plain JSON. */
export async function baselineDashboard(domain: Domain, principal: Principal): Promise<unknown> {
  const page = await domain.apps.list(principal, { first: 50 });
  const rows = await domain.appStatuses.forApps(principal, page.nodes.map((app) => app.id));
  const environmentIds = [...new Set(rows.flat().map((row) => row.environment.id))];
  const environmentStatuses = await domain.environments.statuses(environmentIds);
  const statuses = new Map(environmentIds.map((id, i) => [id, environmentStatuses[i]]));
  const nativeJobs = rows.flat().flatMap((row) => (row.latestNativeJob ? [row.latestNativeJob.id] : []));
  const nativeStages = await domain.jobs.stagesOf(nativeJobs);
  const stages = new Map(nativeJobs.map((id, i) => [id, nativeStages[i] ?? []]));
  return {
    data: {
      apps: {
        nodes: rows.map((appRows) => ({
          environmentStatuses: appRows.map((row) => ({
            environment: { name: row.environment.name, status: statuses.get(row.environment.id) },
            latestNativeJob: row.latestNativeJob
              ? { state: row.latestNativeJob.state, stages: (stages.get(row.latestNativeJob.id) ?? []).map((s) => ({ key: s.key, state: s.state })) }
              : null,
            latestServicesJob: row.latestServicesJob ? { state: row.latestServicesJob.state } : null,
          })),
        })),
      },
    },
  };
}

/** autocannon in a process of its own, so that the load does not share the server's core. */
async function load(url: string, headers: Record<string, string>, body: string, seconds: number) {
  const args = ['--json', '--connections', '32', '--duration', String(seconds), '--method', 'POST', '--body', body, '--timeout', '30'];
  for (const [name, value] of Object.entries(headers)) args.push('--headers', `${name}=${value}`);
  const { stdout } = await exec(join('node_modules', '.bin', 'autocannon'), [...args, url], { maxBuffer: 64 * 1024 * 1024 });
  const result = JSON.parse(stdout) as autocannon.Result;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

export async function dashboard(seconds = 10, jit = false): Promise<Figure[]> {
  let statements = 0;
  const bench = await startBenchServer({}, { onStatement: () => (statements += 1), jit });
  try {
    await seed(bench.server.domain, bench.principal, bench.dataDir);
    await gql(bench.url, bench.token, DASHBOARD);
    statements = 0;
    const answer = await gql(bench.url, bench.token, DASHBOARD);
    const statementsPerRequest = statements;
    const rows = (answer.apps.nodes as { environmentStatuses: unknown[] }[]).reduce((sum, app) => sum + app.environmentStatuses.length, 0);

    const plain = createHttpServer((req, res) => {
      req.resume();
      // The same authentication the GraphQL server does, then the same domain calls.
      void bench.server.domain.accounts
        .authenticate((req.headers.authorization ?? '').replace(/^Bearer /, ''))
        .then(async (principal) => {
          if (!principal) return void res.writeHead(401).end();
          const body = await baselineDashboard(bench.server.domain, principal);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        });
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const plainUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}/dashboard`;
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${bench.token}` };
    const body = JSON.stringify({ query: DASHBOARD });
    try {
      // GraphQL and the baseline in turn (A, B, A, B, …): both see the same machine.
      const graphql: Awaited<ReturnType<typeof load>>[] = [];
      const baseline: typeof graphql = [];
      for (let r = 0; r < ROUNDS; r += 1) {
        graphql.push(await load(`${bench.url}/graphql`, headers, body, seconds));
        baseline.push(await load(plainUrl, headers, body, seconds));
      }
      const ratios = graphql.map((g, r) => g.rps / (baseline[r]?.rps ?? Number.NaN));
      const ratio = round(median(ratios), 2);
      const summary = (values: number[], digits = 1) => `${round(median(values), digits)} (${round(Math.min(...values), digits)}–${round(Math.max(...values), digits)})`;
      // The baseline's domain reads alone, in CPU time (wall time on a loaded machine counts other processes).
      const cpu = process.cpuUsage();
      for (let i = 0; i < 50; i += 1) await baselineDashboard(bench.server.domain, bench.principal);
      const used = process.cpuUsage(cpu);
      const wallStart = performance.now();
      for (let i = 0; i < 50; i += 1) await baselineDashboard(bench.server.domain, bench.principal);
      const readsWall = (performance.now() - wallStart) / 50;
      const readsCpu = (used.user + used.system) / 50 / 1000;
      return [
        { metric: `rows per answer (${APPS} apps × ${ENVIRONMENTS} environments, ${APPS * ENVIRONMENTS * JOBS_PER_PAIR} jobs)`, shipyard: rows },
        {
          metric: `requests/s at 32 connections, median (min–max) of ${ROUNDS} interleaved rounds of ${seconds} s`,
          shipyard: summary(graphql.map((g) => g.rps)),
          baseline: summary(baseline.map((b) => b.rps)),
          ratio,
          goal: `ratio ≥ 0.8 (range ${summary(ratios, 2)})`,
          met: ratio >= 0.8,
        },
        { metric: 'latency p50 (ms)', shipyard: summary(graphql.map((g) => g.p50)), baseline: summary(baseline.map((b) => b.p50)) },
        { metric: 'latency p99 (ms)', shipyard: summary(graphql.map((g) => g.p99)), baseline: summary(baseline.map((b) => b.p99)) },
        { metric: "baseline's domain reads per request, wall (ms)", shipyard: round(readsWall, 2), goal: '≤ 5 ms', met: readsWall <= 5 },
        { metric: "baseline's domain reads per request, CPU (ms)", shipyard: round(readsCpu, 2) },
        { metric: 'SQL statements per request', shipyard: statementsPerRequest },
        { metric: 'errors', shipyard: graphql.reduce((sum, g) => sum + g.errors, 0), baseline: baseline.reduce((sum, b) => sum + b.errors, 0) },
      ];
    } finally {
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  } finally {
    await bench.stop();
  }
}

export async function run(): Promise<void> {
  printFigures('dashboard', await dashboard());
}
