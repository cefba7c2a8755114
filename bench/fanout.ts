import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { gql, printFigures, round, startBenchServer } from './support.js';

const SUBSCRIBERS = 1000;
const JOBS = 5;
/** A removal-only native publish: 9 stages, each RUNNING then finished, plus start and end. */
const EVENTS_PER_JOB = 1 + 2 * 9 + 1;

export async function run(): Promise<void> {
  const bench = await startBenchServer();
  try {
    const created = await gql(
      bench.url,
      bench.token,
      `mutation { createApp(input: { name: "Fanout" }) { app { id } } createEnvironment(input: { name: "fanout", managementEnabled: true }) { environment { id } } }`,
    );
    const appId = created.createApp.app.id;
    const environmentId = created.createEnvironment.environment.id;

    global.gc?.();
    const before = process.memoryUsage();
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/fanout-clients.ts', bench.url, bench.token, environmentId, String(SUBSCRIBERS), String(JOBS * EVENTS_PER_JOB)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () => JSON.parse(String((await lines.next()).value)) as { ready?: boolean; count: number; p50: number; p99: number; max: number };
    await next();
    await new Promise((resolve) => setTimeout(resolve, 500));
    global.gc?.();
    const connected = process.memoryUsage();
    const perSubscriberKiB = round((connected.heapUsed + connected.external - before.heapUsed - before.external) / SUBSCRIBERS / 1024);
    const rssPerSubscriberKiB = round((connected.rss - before.rss) / SUBSCRIBERS / 1024);

    const started = performance.now();
    for (let i = 0; i < JOBS; i += 1) {
      await gql(
        bench.url,
        bench.token,
        `mutation ($app: ID!, $env: ID!) { publishNativeClient(input: { appId: $app, environmentId: $env, option: APP_STORE, workflowState: DRAFT, removePlatforms: [WINDOWS], sync: true }) { job { state } } }`,
        { app: appId, env: environmentId },
      );
    }
    const received = await next();
    const seconds = (performance.now() - started) / 1000;
    printFigures('fanout', [
      { metric: `events delivered (${SUBSCRIBERS} subscribers × ${JOBS} jobs × ${EVENTS_PER_JOB} changes)`, shipyard: received.count },
      { metric: 'deliveries per second', shipyard: round(received.count / seconds) },
      { metric: 'persistence → receipt p50 (ms)', shipyard: received.p50 },
      { metric: 'persistence → receipt p99 (ms)', shipyard: received.p99, goal: '≤ 250 ms', met: received.p99 <= 250 },
      { metric: 'persistence → receipt max (ms)', shipyard: received.max },
      { metric: 'server heap + external per subscriber (KiB)', shipyard: perSubscriberKiB, goal: '≤ 50 KiB', met: perSubscriberKiB <= 50 },
      { metric: 'server RSS per subscriber (KiB)', shipyard: rssPerSubscriberKiB },
    ]);
    child.kill();
  } finally {
    await bench.stop();
  }
}
