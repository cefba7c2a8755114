import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** The id of the HTTP request being served, for logs and masked errors (R43). */
const requests = new AsyncLocalStorage<{ requestId: string }>();

export const newRequestId = (): string => randomUUID();

export function withRequestId<T>(requestId: string, run: () => T): T {
  return requests.run({ requestId }, run);
}

/** The current request's id; outside a request (graphql-ws messages) a fresh one. */
export const currentRequestId = (): string => requests.getStore()?.requestId ?? newRequestId();
