import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What is learnt about an HTTP request while serving it, for its access-log line and metrics. */
export interface RequestFacts {
  requestId: string;
  operationName?: string;
  /** Codes of the GraphQL errors answered. */
  errorCodes: string[];
}

/** The id of the HTTP request being served, for logs and masked errors (R43). */
const requests = new AsyncLocalStorage<RequestFacts>();

export const newRequestId = (): string => randomUUID();

export function withRequest<T>(facts: RequestFacts, run: () => T): T {
  return requests.run(facts, run);
}

/** The facts of the request being served, if any (graphql-ws messages have none). */
export const currentRequest = (): RequestFacts | undefined => requests.getStore();

/** The current request's id; outside a request (graphql-ws messages) a fresh one. */
export const currentRequestId = (): string => requests.getStore()?.requestId ?? newRequestId();
