// npm run bench            every scenario
// npm run bench -- <name>  one or more of: dashboard, upload, fanout, pipeline, startup, remote-publish,
//                           dashboard-pg, fanout-pg
const scenarios: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  dashboard: () => import('./dashboard.js'),
  upload: () => import('./upload.js'),
  fanout: () => import('./fanout.js'),
  pipeline: () => import('./pipeline.js'),
  startup: () => import('./startup.js'),
  'remote-publish': () => import('./remote-publish.js'),
  'dashboard-pg': () => import('./dashboard-pg.js'),
  'fanout-pg': () => import('./fanout-pg.js'),
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in scenarios));
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; choose from ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
console.log(`machine: ${(await import('node:os')).cpus().length} cores, ${Math.round((await import('node:os')).totalmem() / 1024 ** 3)} GiB, node ${process.version}`);
for (const name of wanted.length > 0 ? wanted : Object.keys(scenarios)) {
  const scenario = await (scenarios[name] as () => Promise<{ run(): Promise<void> }>)();
  await scenario.run();
}
process.exit(0);
