import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A stand-in for a remote Foundry runtime: answers `GET /health` with a status it can change. */
export interface RuntimeResponder {
  url: string;
  healthy: boolean;
  requests: number;
  close(): Promise<void>;
}

export async function startRuntimeResponder(): Promise<RuntimeResponder> {
  const state = { healthy: true, requests: 0 };
  const server: Server = createServer((req, res) => {
    state.requests += 1;
    res.writeHead(req.url === '/runtime/health' && state.healthy ? 200 : 503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/runtime`,
    get healthy() {
      return state.healthy;
    },
    set healthy(value: boolean) {
      state.healthy = value;
    },
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A loopback URL where nothing listens: connections are refused at once. */
export async function unreachableUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
