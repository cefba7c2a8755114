// One Shipyard instance for the multi-instance benches, in a process of its own: what src/main.ts
// does (configuration from the environment, createServer, start), plus an IPC channel on which
// the bench asks for the instance's memory after a full collection and its open subscriptions,
// which it cannot read from outside the process. Run with --expose-gc.
import { loadConfig } from '../src/config.js';
import { createServer } from '../src/server.js';

export type InstanceRequest = { id: number; type: 'memory' | 'subscriptions' | 'stop' };
export type InstanceMessage =
  | { type: 'listening'; url: string }
  | { id: number; type: 'memory'; heapUsed: number; external: number; rss: number }
  | { id: number; type: 'subscriptions'; count: number }
  | { id: number; type: 'stopped' };

const send = (message: InstanceMessage) => process.send?.(message);

const server = await createServer(loadConfig());
send({ type: 'listening', url: await server.start() });

process.on('message', (request: InstanceRequest) => {
  if (request.type === 'memory') {
    global.gc?.();
    const { heapUsed, external, rss } = process.memoryUsage();
    send({ id: request.id, type: 'memory', heapUsed, external, rss });
  } else if (request.type === 'subscriptions') {
    send({ id: request.id, type: 'subscriptions', count: server.realtime.openSubscriptions });
  } else {
    void server.stop().then(() => {
      send({ id: request.id, type: 'stopped' });
      process.exit(0);
    });
  }
});
// The bench went away without stopping us: do not linger.
process.on('disconnect', () => process.exit(0));
