import { createClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';

/** A real graphql-ws client on the server's GraphQL path. */
export function wsClient(url: string, token: string | null, options: { retryAttempts?: number } = {}): WsClient {
  return createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: options.retryAttempts ?? 0,
    lazy: true,
  });
}

/** Collects every event of a subscription until it completes (or `stopAfter` says so). */
export async function collect<T = Record<string, any>>( // eslint-disable-line @typescript-eslint/no-explicit-any -- untyped test documents
  client: WsClient,
  query: string,
  variables: Record<string, unknown>,
  stopAfter: (events: T[]) => boolean = () => false,
): Promise<T[]> {
  const events: T[] = [];
  const iterator = client.iterate<T>({ query, variables });
  for await (const result of iterator) {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    events.push(result.data as T);
    if (stopAfter(events)) break;
  }
  return events;
}

/** A subscription over Server-Sent Events, as yoga serves them; answers the `next` payloads. */
export async function sse(url: string, token: string, query: string, variables: Record<string, unknown>, stopAfter: (count: number) => boolean = () => false) {
  const controller = new AbortController();
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  const events: { data?: Record<string, any>; errors?: unknown[] }[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any -- as above
  const decoder = new TextDecoder();
  let buffer = '';
  let complete = false;
  if (!response.body) return { status: response.status, events, complete };
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let boundary;
      while ((boundary = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const event = /^event: (\w+)/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === 'next' && data) events.push(JSON.parse(data));
        if (event === 'complete') complete = true;
      }
      if (complete || stopAfter(events.length)) break;
    }
  } finally {
    controller.abort();
  }
  return { status: response.status, events, complete };
}
