import { execFile } from 'node:child_process';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startServer, type TestServer } from './kit.js';
import { wsClient } from './live.js';
import { eventually, rawSubscription } from './streams.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.stop());

const KIB = 1024;
const MIB = 1024 * KIB;
const STATUS = 'subscription { environmentStatusChanged { status } }';

/** Opens a bare WebSocket on the GraphQL path; answers it once open. */
const openSocket = () =>
  new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(`${t.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });

/** Sends `message` and answers the close code, or 'ack' if the server acknowledged instead. */
const answerTo = (socket: WebSocket, message: string | Buffer) =>
  new Promise<number | 'ack'>((resolve) => {
    socket.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') resolve('ack');
    });
    socket.once('close', (code) => resolve(code));
    socket.on('error', () => undefined);
    socket.send(message);
  });

/** Opens `rounds` unauthenticated sockets one after another from a child process, each sending one message of `bytes`; answers their close codes. */
const sendFromAnotherProcess = (url: string, rounds: number, bytes: number) =>
  new Promise<number[]>((resolve, reject) => {
    const script = `
      import WebSocket from 'ws';
      const codes = [];
      for (let i = 0; i < ${rounds}; i += 1) {
        codes.push(await new Promise((done) => {
          const socket = new WebSocket(${JSON.stringify(url)}, 'graphql-transport-ws');
          socket.on('error', () => undefined);
          socket.once('open', () => socket.send(Buffer.alloc(${bytes}, 0x20)));
          socket.once('close', (code) => done(code));
        }));
      }
      console.log(JSON.stringify(codes));`;
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 }, (error, stdout) =>
      error ? reject(error) : resolve(JSON.parse(stdout) as number[]),
    );
  });

const init = (padding: number, token: string | null) =>
  JSON.stringify({ type: 'connection_init', payload: { ...(token ? { authorization: `Bearer ${token}` } : {}), padding: 'x'.repeat(padding) } });

describe('WebSocket message limits (R69)', () => {
  it('closes with 1009 a message over 64 KiB before connection_ack, and acknowledges one under it', async () => {
    expect(await answerTo(await openSocket(), init(65 * KIB, null))).toBe(1009);
    // Even with a valid token: the limit holds until the connection is acknowledged.
    expect(await answerTo(await openSocket(), init(65 * KIB, t.admin.token))).toBe(1009);
    const accepted = await openSocket();
    expect(await answerTo(accepted, init(60 * KIB, t.admin.token))).toBe('ack');
    accepted.close();
  });

  it('closes with 1009 a message over 1 MiB after connection_ack, and answers one under it', async () => {
    const connection = await rawSubscription(t.url, t.admin.token ?? '');
    const answers: string[] = [];
    connection.socket.on('message', (data) => answers.push((JSON.parse(String(data)) as { type: string }).type));
    connection.socket.send(JSON.stringify({ id: 'big', type: 'subscribe', payload: { query: '{ serverInfo { consoleVersion } }', variables: { padding: 'x'.repeat(900 * KIB) } } }));
    expect(await eventually(() => answers.includes('complete'))).toBe(true);
    expect(answers).toEqual(['next', 'complete']);
    expect(connection.closeCode).toBeNull();

    connection.socket.send(JSON.stringify({ id: 'huge', type: 'subscribe', payload: { query: STATUS, variables: { padding: 'x'.repeat(2 * MIB) } } }));
    expect(await eventually(() => connection.closeCode !== null)).toBe(true);
    expect(connection.closeCode).toBe(1009);
  });

  it('keeps memory flat and stderr quiet while unauthenticated clients send 64 MiB messages', async () => {
    const stderr = vi.spyOn(console, 'error');
    global.gc?.();
    const before = process.memoryUsage();
    // The clients run in another process, so that what is measured here is the server alone
    // (a client's own masked copies of what it sends would count otherwise).
    expect(await sendFromAnotherProcess(`${t.url.replace('http', 'ws')}/graphql`, 6, 64 * MIB)).toEqual([1009, 1009, 1009, 1009, 1009, 1009]);
    global.gc?.();
    const after = process.memoryUsage();
    // Six buffered copies would be 384 MiB; the server reads none of them.
    expect(after.rss - before.rss).toBeLessThan(200 * MIB);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(100 * MIB);
    // No stack per refused message: any client could provoke those at will.
    expect(stderr).not.toHaveBeenCalled();
    stderr.mockRestore();
  });
});

describe('subscriptions per connection (R69)', () => {
  it('refuses the 101st with LIMIT_EXCEEDED and keeps the connection usable', async () => {
    const client = wsClient(t.url, t.admin.token);
    const iterators: AsyncIterator<unknown>[] = [];
    try {
      for (let i = 0; i < 100; i += 1) {
        const iterator = client.iterate({ query: STATUS })[Symbol.asyncIterator]();
        iterators.push(iterator);
        void iterator.next();
      }
      const excess = client.iterate({ query: STATUS })[Symbol.asyncIterator]();
      await expect(excess.next()).rejects.toEqual([expect.objectContaining({ message: expect.stringMatching(/at most 100 subscriptions/), extensions: { code: 'LIMIT_EXCEEDED' } })]);

      // Ending one makes room on the same connection.
      await iterators.pop()?.return?.();
      const again = client.iterate({ query: '{ serverInfo { consoleVersion } }' })[Symbol.asyncIterator]();
      const answer = await again.next();
      expect(answer.value).toMatchObject({ data: { serverInfo: { consoleVersion: expect.any(String) } } });
    } finally {
      await Promise.all(iterators.map((iterator) => iterator.return?.()));
      await client.dispose();
    }
  });
});
