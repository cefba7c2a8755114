// Runs in its own process: N graphql-ws subscribers to publishJobsUpdated, reporting on stdout the
// delay between each event's persistence (the newest timestamp in the job) and its receipt. The URL may
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
let ready = 0;
let retried = 0;
const urls = url.split(',');
const clients = Array.from({ length: count }, (_, i) => {
  // A connection refused during the connection storm of a loaded machine (graphql-ws's 3 s wait
  // for connection_init, a full accept queue) is tried again; one lost after its acknowledgement
  // is not: its reconnection would miss events and the round would never complete.
  let acknowledged = false;
  const client = createClient({
    url: `${(urls[i % urls.length] ?? '').replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 10,
    shouldRetry: () => {
      if (acknowledged) return false;
      retried += 1;
      return true;
    },
  });
  client.on('connected', () => (acknowledged = true));
  return client;
});
await Promise.all(
  clients.map(
    (client) =>
      new Promise<void>((resolve) => {
        let received = 0;
        client.on('connected', () => {
          ready += 1;
          if (ready === count) {
            if (retried > 0) console.error(`fanout clients: ${retried} connection attempts tried again`);
            console.log(JSON.stringify({ ready: true }));
          }
        });
        client.subscribe<{ publishJobsUpdated: Job }>(
          { query, variables: { env: environmentId } },
          {
            next: (result) => {
              if (result.data) latencies.push(Date.now() - persistedAt(result.data.publishJobsUpdated));
              received += 1;
              if (received === expected) resolve();
            },
            error: () => resolve(),
            complete: () => resolve(),
          },
        );
      }),
  ),
);
latencies.sort((a, b) => a - b);
const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? null;
console.log(JSON.stringify({ count: latencies.length, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? null }));
await Promise.all(clients.map((client) => client.dispose()));
process.exit(0);
