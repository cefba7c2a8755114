import WebSocket from 'ws';

/** A graphql-ws connection spoken by hand, to see every message and the exact close code. */
export interface RawSubscription {
  socket: WebSocket;
  /** `next` payloads received so far. */
  events: unknown[];
  /** Close code once closed, else null. */
  closeCode: number | null;
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void;
}

/** Opens a graphql-ws connection with `token` and resolves once it is acknowledged. */
export function rawSubscription(url: string, token: string): Promise<RawSubscription> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const state: RawSubscription = {
      socket,
      events: [],
      closeCode: null,
      subscribe: (id, query, variables = {}) => socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })),
    };
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; payload?: unknown };
      if (message.type === 'connection_ack') resolve(state);
      if (message.type === 'next') state.events.push(message.payload);
    });
    socket.on('close', (code) => {
      state.closeCode = code;
      reject(new Error(`closed with ${code} before connection_ack`));
    });
    socket.on('error', () => undefined);
  });
}

/** A subscription over Server-Sent Events that keeps reading in the background. */
export interface SseStream {
  events: unknown[];
  ended: boolean;
  stop(): void;
}

export async function sseStream(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  if (response.status !== 200 || !response.body) throw new Error(`SSE answered ${response.status}`);
  const stream: SseStream = { events: [], ended: false, stop: () => controller.abort() };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let boundary;
        while ((boundary = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: next/m.test(block) && data) stream.events.push(JSON.parse(data));
        }
      }
    } catch {
      // Ended by the server closing the connection, or by stop().
    } finally {
      stream.ended = true;
    }
  })();
  return stream;
}

/** Waits for `condition` with a bounded poll; answers whether it came true. */
export async function eventually(condition: () => boolean, { attempts = 300, intervalMs = 20 } = {}): Promise<boolean> {
  for (let i = 0; i < attempts; i += 1) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return condition();
}
