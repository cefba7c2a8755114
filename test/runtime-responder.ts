import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntimeServer } from '../src/runtime/server/app.js';

/**
 * A real runtime server (in this process) behind a switch: while `healthy` is false every request
 * gets 503, as from a runtime that is down. Served under a path (`/runtime`) like a deployed one.
 */
export interface RuntimeResponder {
  url: string;
  token: string;
  healthy: boolean;
  requests: number;
  close(): Promise<void>;
}

export async function startRuntimeResponder(): Promise<RuntimeResponder> {
  const dataDir = mkdtempSync(join(tmpdir(), 'shipyard-responder-'));
  const token = 'responder-token-0123456789abcdef';
  const runtime = createRuntimeServer({ dataDir, token });
  const target = new URL(await runtime.start());
  const state = { healthy: true, requests: 0 };
  const server: Server = createServer((req, res) => {
    state.requests += 1;
    if (!state.healthy || !req.url?.startsWith('/runtime/')) return void res.writeHead(503).end();
    const forwarded = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url.slice('/runtime'.length), headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/runtime`,
    token,
    get healthy() {
      return state.healthy;
    },
    set healthy(value: boolean) {
      state.healthy = value;
    },
    get requests() {
      return state.requests;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runtime.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
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
