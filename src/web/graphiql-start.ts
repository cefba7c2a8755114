/**
 * Starts yoga's GraphiQL (loaded before this script from /graphiql/graphiql.js) with a fetcher
 * that sends the headers typed in GraphiQL over HTTP, and the Authorization header as the
 * graphql-ws connection parameter for subscriptions (R5, R65).
 */
import type { DocumentNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { readOptions } from './page-options.js';

interface FetcherParams {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

interface FetcherOptions {
  headers?: Record<string, unknown>;
  documentAST?: DocumentNode;
}

declare global {
  interface Window {
    YogaGraphiQL: { renderYogaGraphiQL(root: Element, options: Record<string, unknown>): void };
    MonacoEnvironment: { globalAPI: boolean; getWorkerUrl(moduleId: string, label: string): string };
  }
}

window.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_moduleId, label) => `/graphiql/workers/${label}.js` };

const endpoint = new URL('/graphql', location.href);
const socketUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`;

/** One graphql-ws client per token; a new token typed in the headers opens a new connection. */
let socket: { authorization: string | undefined; client: Client } | undefined;
function socketFor(authorization: string | undefined): Client {
  if (socket && socket.authorization === authorization) return socket.client;
  void socket?.client.dispose();
  const client = createClient({ url: socketUrl, connectionParams: authorization ? { authorization } : {}, retryAttempts: 0 });
  socket = { authorization, client };
  return client;
}

const isSubscription = (params: FetcherParams, document: DocumentNode | undefined): boolean =>
  document?.definitions.some(
    (definition) =>
      definition.kind === 'OperationDefinition' &&
      definition.operation === 'subscription' &&
      (!params.operationName || definition.name?.value === params.operationName),
  ) ?? /^\s*subscription\b/m.test(params.query);

function fetcher(params: FetcherParams, options: FetcherOptions = {}) {
  const headers = Object.fromEntries(Object.entries(options.headers ?? {}).map(([name, value]) => [name, String(value)]));
  if (isSubscription(params, options.documentAST)) {
    const authorization = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
    return socketFor(authorization).iterate({ query: params.query, operationName: params.operationName ?? null, variables: params.variables ?? null });
  }
  return fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify(params),
  }).then((response) => response.json() as Promise<unknown>);
}

const root = document.getElementById('root');
if (root) window.YogaGraphiQL.renderYogaGraphiQL(root, { ...readOptions('graphiql-options'), fetcher });
