import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WebSocketServer, type WebSocket } from 'ws';

const STAGES = 9;

/**
 * The bare baseline of the fanout bench: a `ws` server that speaks just enough
 * graphql-transport-ws (connection_init/ack, ping/pong, subscribe, next, complete) to feed the
 * bench's graphql-ws clients job-shaped payloads, serialising each event once and doing nothing
 * else: no GraphQL, no database, no queues.
 */
export async function startBaseline(): Promise<{ url: string; subscribers: () => number; publishJobs(jobs: number): Promise<void>; stop(): Promise<void> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/graphql', handleProtocols: () => 'graphql-transport-ws' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const subscriptions = new Map<WebSocket, string[]>();
  server.on('connection', (socket) => {
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; id?: string };
      if (message.type === 'connection_init') socket.send('{"type":"connection_ack"}');
      else if (message.type === 'ping') socket.send('{"type":"pong"}');
      else if (message.type === 'subscribe' && message.id) subscriptions.set(socket, [...(subscriptions.get(socket) ?? []), message.id]);
      else if (message.type === 'complete') subscriptions.set(socket, (subscriptions.get(socket) ?? []).filter((id) => id !== message.id));
    });
    socket.on('close', () => subscriptions.delete(socket));
  });

  const send = (payload: unknown) => {
    const json = JSON.stringify(payload);
    for (const [socket, ids] of subscriptions) for (const id of ids) socket.send(`{"id":${JSON.stringify(id)},"type":"next","payload":${json}}`);
  };

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    subscribers: () => [...subscriptions.values()].reduce((sum, ids) => sum + ids.length, 0),
    /** Each job as the pipeline announces it: queued, running, each stage started then finished, final. */
    async publishJobs(jobs) {
      for (let j = 0; j < jobs; j += 1) {
        const createdAt = new Date().toISOString();
        const stages: { startedAt: string | null; finishedAt: string | null }[] = Array.from({ length: STAGES }, () => ({ startedAt: null, finishedAt: null }));
        const job = { state: 'QUEUED', createdAt, startedAt: null as string | null, finishedAt: null as string | null, stages };
        const announce = async () => {
          send({ data: { publishJobsUpdated: job } });
          await nextTurn();
        };
        await announce();
        job.state = 'RUNNING';
        job.startedAt = new Date().toISOString();
        await announce();
        for (const stage of stages) {
          stage.startedAt = new Date().toISOString();
          await announce();
          stage.finishedAt = new Date().toISOString();
          await announce();
        }
        job.state = 'SUCCEEDED';
        job.finishedAt = new Date().toISOString();
        await announce();
      }
    },
    stop: async () => {
      for (const socket of server.clients) socket.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
