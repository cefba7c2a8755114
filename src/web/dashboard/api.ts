import { createClient, type Client } from 'graphql-ws';
import type { TypedDocumentString } from '../gql/graphql.js';

/** A typed graphql-ws connection: queries and subscriptions over one WebSocket (R40). */
export class Api {
  private readonly client: Client;

  constructor(token: string, onClosed: (code: number, reason: string) => void) {
    this.client = createClient({
      url: `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`,
      connectionParams: { authorization: `Bearer ${token}` },
      // A closed connection comes back (and the view refetches); a refused token does not.
      shouldRetry: (event) => !(event instanceof CloseEvent && event.code === 4401),
      retryAttempts: Infinity,
      on: {
        closed: (event) => {
          if (event instanceof CloseEvent) onClosed(event.code, event.reason);
        },
      },
    });
  }

  async query<Result, Variables>(document: TypedDocumentString<Result, Variables>, variables?: Variables): Promise<Result> {
    for await (const result of this.subscribe(document, variables)) return result;
    throw new Error('The query answered nothing');
  }

  async *subscribe<Result, Variables>(document: TypedDocumentString<Result, Variables>, variables?: Variables): AsyncGenerator<Result> {
    const stream = this.client.iterate<Result>({ query: document.toString(), variables: (variables ?? {}) as Record<string, unknown> });
    for await (const result of stream) {
      if (result.errors?.length) throw new Error(result.errors.map((error) => error.message).join('; '));
      if (result.data) yield result.data;
    }
  }

  close(): void {
    void this.client.dispose();
  }
}
