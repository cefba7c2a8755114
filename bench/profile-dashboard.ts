// Times each domain read of the dashboard's baseline on the bench's seeded data.
import { seed, baselineDashboard } from './dashboard.js';
import { startBenchServer } from './support.js';

const statements: string[] = [];
let recording = false;
const bench = await startBenchServer({}, { onStatement: (sql) => recording && statements.push(sql) });
seed(bench.server.domain, bench.principal, bench.dataDir);
const d = bench.server.domain;
const p = bench.principal;
const time = (name: string, f: () => unknown) => {
  for (let i = 0; i < 20; i += 1) f();
  const start = performance.now();
  for (let i = 0; i < 50; i += 1) f();
  console.log(name, ((performance.now() - start) / 50).toFixed(2), 'ms');
};
const page = d.apps.list(p, { first: 50 });
const ids = page.nodes.map((a) => a.id);
time('apps.list', () => d.apps.list(p, { first: 50 }));
time('forApps', () => d.appStatuses.forApps(p, ids));
const pairs = ids.flatMap((appId) => [1, 2, 3, 4, 5, 6, 7, 8].map((environmentId) => ({ appId, environmentId })));
time('latestOfKind native', () => d.jobs.latestOfKind('NATIVE_CLIENT', pairs));
const rows = d.appStatuses.forApps(p, ids);
const nativeJobs = rows.flat().flatMap((row) => (row.latestNativeJob ? [row.latestNativeJob.id] : []));
time('stagesOf', () => d.jobs.stagesOf(nativeJobs));
time('environments.statuses', () => d.environments.statuses([...new Set(rows.flat().map((r) => r.environment.id))]));
time('baseline total', () => baselineDashboard(d, p));
time('baseline + JSON', () => JSON.stringify(baselineDashboard(d, p)));
recording = true;
baselineDashboard(d, p);
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
