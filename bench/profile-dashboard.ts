// Times each domain read of the dashboard's baseline on the bench's seeded data.
import { seed, baselineDashboard } from './dashboard.js';
import { startBenchServer } from './support.js';

const statements: string[] = [];
let recording = false;
const bench = await startBenchServer({}, { onStatement: (sql) => recording && statements.push(sql) });
await seed(bench.server.domain, bench.principal, bench.dataDir);
const d = bench.server.domain;
const p = bench.principal;
const time = (name: string, f: () => unknown) => {
  for (let i = 0; i < 20; i += 1) f();
  const start = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < 50; i += 1) f();
  const used = process.cpuUsage(cpu);
  console.log(name, ((performance.now() - start) / 50).toFixed(2), 'ms wall', ((used.user + used.system) / 50 / 1000).toFixed(2), 'ms cpu');
};
if (process.env.PRAGMAS) {
  const sqlite = (d.jobs as unknown as { db: { $client: import('better-sqlite3').Database } }).db.$client;
  for (const pragma of process.env.PRAGMAS.split(';')) console.log(pragma, sqlite.pragma(pragma));
}
const page = await d.apps.list(p, { first: 50 });
const ids = page.nodes.map((a) => a.id);
time('apps.list', async () => d.apps.list(p, { first: 50 }));
time('forApps', () => d.appStatuses.forApps(p, ids));
const pairs = ids.flatMap((appId) => [1, 2, 3, 4, 5, 6, 7, 8].map((environmentId) => ({ appId, environmentId })));
time('latestOfKinds', async () => d.jobs.latestOfKinds(pairs));
const rows = await d.appStatuses.forApps(p, ids);
const nativeJobs = rows.flat().flatMap((row) => (row.latestNativeJob ? [row.latestNativeJob.id] : []));
time('stagesOf', async () => d.jobs.stagesOf(nativeJobs));
time('environments.statuses', async () => d.environments.statuses([...new Set(rows.flat().map((r) => r.environment.id))]));
time('baseline total', () => baselineDashboard(d, p));
time('baseline + JSON', () => JSON.stringify(baselineDashboard(d, p)));
{
  const sqlite = (d.jobs as unknown as { db: { $client: import('better-sqlite3').Database } }).db.$client;
  const list = JSON.stringify(nativeJobs);
  const raw = sqlite.prepare('select job_id, position, key, title, state, started_at, finished_at, message from publish_stages where job_id in (select value from json_each(?)) order by job_id, position');
  time('raw stages json_each', () => raw.all(list));
  const rawArr = sqlite.prepare('select job_id, position, key, title, state, started_at, finished_at, message from publish_stages where job_id in (select value from json_each(?)) order by job_id, position').raw(true);
  time('raw stages arrays', () => rawArr.all(list));
  const narrow = sqlite.prepare('select job_id, key, state from publish_stages where job_id in (select value from json_each(?)) order by job_id, position');
  time('raw stages narrow', () => narrow.all(list));
  const latestBoth = sqlite.prepare('select j.* from publish_jobs j where j.id in (select max(id) from publish_jobs where app_id in (select value from json_each(?)) group by app_id, environment_id, kind)');
  time('raw latest both kinds full rows', () => latestBoth.all(JSON.stringify(ids)));
  console.log(sqlite.prepare('explain query plan select j.* from publish_jobs j where j.id in (select max(id) from publish_jobs where app_id in (select value from json_each(?)) group by app_id, environment_id, kind)').all(JSON.stringify(ids)).map((r) => (r as { detail: string }).detail).join(' | '));
  const newest = sqlite.prepare("select max(id) from publish_jobs where kind = 'NATIVE_CLIENT' and app_id in (select value from json_each(?)) group by app_id, environment_id");
  time('raw newest ids', () => newest.all(JSON.stringify(ids)));
  console.log(sqlite.prepare("explain query plan select max(id) from publish_jobs where kind = 'NATIVE_CLIENT' and app_id in (select value from json_each(?)) group by app_id, environment_id").all(JSON.stringify(ids)));
}
recording = true;
await baselineDashboard(d, p);
recording = false;
for (const s of statements) {
  console.log('---', s.slice(0, 300));
}
const sqlite = (d as unknown as { jobs: { db: { $client: import('better-sqlite3').Database } } }).jobs.db.$client;
for (const s of statements) {
  try {
    const plan = sqlite.prepare(`explain query plan ${s}`).all();
    console.log(s.slice(0, 120), '\n   ', plan.map((r) => (r as { detail: string }).detail).join(' | '));
  } catch (e) {
    console.log('plan failed', String(e).slice(0, 100));
  }
}
await bench.stop();
process.exit(0);
