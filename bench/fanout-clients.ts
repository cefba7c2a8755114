// Runs in its own process: N graphql-ws subscribers to publishJobsUpdated, reporting on stdout the
// delay between each event's persistence (the newest timestamp in the job) and its receipt. The URL may
// be a comma-separated list of instances: the clients are then spread over them in turn. The URL may
// be a comma-separated list of instances: the clients are then spread over them in turn.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url = '', token = '', environmentId = '', countText = '0', expectedText = '0'] = process.argv.slice(2);
const count = Number(countText);
const expected = Number(expectedText);
const query = `subscription ($env: ID) { publishJobsUpdated(environmentId: $env) { state createdAt startedAt finishedAt stages { startedAt finishedAt } } }`;
interface Job {
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  stages: { startedAt: string | null; finishedAt: string | null }[];
}
const persistedAt = (job: Job) =>
  Math.max(...[job.createdAt, job.startedAt, job.finishedAt, ...job.stages.flatMap((s) => [s.startedAt, s.finishedAt])].filter((t): t is string => t !== null).map(Date.parse));

const latencies: number[] = [];
const connected = new Set<number>();
/** Connections tried again: refused before their acknowledgement, or closed by the server (4500) before their first event. */
const retried = { beforeAck: 0, serverError: 0 };
const urls = url.split(',');
let gaveUp = 0;
const listen = (i: number) => {
  let acknowledged = false;
  let received = 0;
  const client = createClient({
    url: `${(urls[i % urls.length] ?? '').replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    // A connection refused during the connection storm of a loaded machine, or closed by the
    // server's internal error (4500, say the database pool did not answer in time) before any
    // event, is tried again, as a dashboard would; one lost after its first event is not: its
    // reconnection would miss events and the round would never complete.
    retryAttempts: 20,
    retryWait: () => new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 800)),
    shouldRetry: (why) => {
      if (!acknowledged) retried.beforeAck += 1;
      else if (received === 0 && (why as { code?: number } | null)?.code === 4500) retried.serverError += 1;
      else return false;
      return true;
    },
  });
  client.on('connected', () => {
    acknowledged = true;
    connected.add(i);
    if (connected.size === count) console.log(JSON.stringify({ ready: true }));
  });
  const done = new Promise<void>((resolve) => {
    client.subscribe<{ publishJobsUpdated: Job }>(
      { query, variables: { env: environmentId } },
      {
        next: (result) => {
          if (result.data) latencies.push(Date.now() - persistedAt(result.data.publishJobsUpdated));
          received += 1;
          if (received === expected) resolve();
        },
        error: (why) => {
          gaveUp += 1;
          if (gaveUp <= 3) console.error(`fanout clients: client ${i} gave up: ${why instanceof Error ? why.message : JSON.stringify(why, ['code', 'reason', 'message'])}`);
          resolve();
        },
        complete: () => resolve(),
      },
    );
  });
  const connectedOrDone = new Promise<void>((resolve) => {
    client.on('connected', () => resolve());
    void done.then(() => resolve());
  });
  return { client, done, acknowledged: connectedOrDone };
};
// In batches of 100, each acknowledged before the next connects: the bench measures delivery, not
// a connection storm, which on a loaded machine starves the database pool of each subscription's
// authentication (see BENCHMARKS.md, issue 14).
const listeners: ReturnType<typeof listen>[] = [];
for (let first = 0; first < count; first += 100) {
  const batch = Array.from({ length: Math.min(100, count - first) }, (_, k) => listen(first + k));
  listeners.push(...batch);
  await Promise.all(batch.map((l) => l.acknowledged));
}
const clients = listeners.map((l) => l.client);
await Promise.all(listeners.map((l) => l.done));
latencies.sort((a, b) => a - b);
const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? null;
console.log(JSON.stringify({ count: latencies.length, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? null, retried }));
await Promise.all(clients.map((client) => client.dispose()));
process.exit(0);
