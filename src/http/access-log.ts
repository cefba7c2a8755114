import type { IncomingMessage, ServerResponse } from 'node:http';
import { Kind, type DocumentNode, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { WebSocket } from 'ws';
import type { Logger } from '../logger.js';
import type { Metrics } from '../ops/metrics.js';
import { currentRequest, newRequestId, type RequestFacts } from './request-context.js';

/** The routes Shipyard answers, as metric labels: a bounded set, with no token or id in it. */
function routeOf(path: string): string {
  if (path.startsWith('/uploads/')) return '/uploads/:token';
  if (/^\/binaries\/[^/]+\/file$/.test(path)) return '/binaries/:id/file';
  if (path.startsWith('/graphiql/')) return '/graphiql/*';
  if (path.startsWith('/assets/')) return '/assets/*';
  if (path.startsWith('/runtime/')) return /^\/runtime\/[^/]+\/store\//.test(path) ? '/runtime/:environment/store/*' : '/runtime/:environment/apps/*';
  if (['/graphql', '/health', '/ready', '/metrics', '/dashboard'].includes(path)) return path;
  return 'other';
}

/** The path as logged: an upload URL's token and a store link's token are credentials (R62). */
const loggedPath = (path: string) =>
  path.startsWith('/uploads/') ? '/uploads/[redacted]' : path.replace(/^(\/runtime\/[^/]+\/store\/)[^/]+/, '$1[redacted]').slice(0, 200);

const operationNameOf = (document: DocumentNode): string | undefined => {
  const operations = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  return operations.length === 1 ? operations[0]?.name?.value : undefined;
};

/**
 * Notes the operation name and the codes of the errors answered on the HTTP request being served
 * (counted when it ends); errors over graphql-ws, outside any HTTP request, are counted at once.
 */
export function useRequestFacts(metrics: Metrics): Plugin {
  const noteErrors = (errors: readonly GraphQLError[] | undefined) => {
    for (const error of errors ?? []) {
      const code = typeof error.extensions?.code === 'string' ? error.extensions.code : 'UNCODED';
      const facts = currentRequest();
      if (facts) facts.errorCodes.push(code);
      else metrics.graphqlErrors.inc({ code });
    }
  };
  return {
    onParams({ params }) {
      const facts = currentRequest();
      if (facts && params.operationName) facts.operationName = params.operationName;
    },
    onParse() {
      return ({ result }) => {
        const facts = currentRequest();
        if (facts && !facts.operationName && result && typeof result === 'object' && 'kind' in result && result.kind === Kind.DOCUMENT)
          facts.operationName = operationNameOf(result);
      };
    },
    onExecute() {
      // graphql-ws runs operations outside yoga's HTTP pipeline, so their results are seen here.
      return {
        onExecuteDone({ result }) {
          if (!currentRequest() && 'errors' in result) noteErrors(result.errors);
        },
      };
    },
    onResultProcess({ result }) {
      for (const one of Array.isArray(result) ? result : [result]) {
        if (one && typeof one === 'object' && 'errors' in one) noteErrors(one.errors as readonly GraphQLError[] | undefined);
      }
    },
  };
}

/**
 * R61, R62: when the answer to a request ends, one access-log line (request id, method, path,
 * operation name, status, duration; no header, query string or token) and the request metrics.
 * A client's mistake logs at info; only the server's own failures log as errors.
 */
export function observeRequest(req: IncomingMessage, res: ServerResponse, path: string, facts: RequestFacts, metrics: Metrics, logger: Logger): void {
  const started = process.hrtime.bigint();
  let logged = false;
  const done = () => {
    if (logged) return;
    logged = true;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const status = res.headersSent ? res.statusCode : 0;
    const route = routeOf(path);
    const operation = metrics.operationLabel(facts.operationName);
    metrics.requests.inc({ method: req.method ?? '', route, operation, status: String(status) });
    metrics.requestDuration.observe({ route, operation }, seconds);
    for (const code of facts.errorCodes) metrics.graphqlErrors.inc({ code });
    const line = {
      requestId: facts.requestId,
      method: req.method,
      path: loggedPath(path),
      ...(facts.operationName ? { operationName: facts.operationName.slice(0, 100) } : {}),
      status,
      durationMs: Math.round(seconds * 1e6) / 1e3,
      ...(facts.errorCodes.length > 0 ? { errorCodes: [...new Set(facts.errorCodes)] } : {}),
      ...(res.writableFinished ? {} : { aborted: true }),
    };
    if (status >= 500 || facts.errorCodes.includes('INTERNAL_SERVER_ERROR')) logger.error(line, 'request');
    else logger.info(line, 'request');
  };
  res.once('finish', done);
  res.once('close', done);
}

/**
 * A graphql-ws connection is one request too: its line is written when it closes, with the close
 * code (4401 for a refused token is the client's mistake; only 1011, the server's failure, is an error).
 */
export function observeWebSocket(socket: WebSocket, req: IncomingMessage, metrics: Metrics, logger: Logger): void {
  const started = process.hrtime.bigint();
  const requestId = newRequestId();
  socket.once('close', (closeCode: number) => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    metrics.requests.inc({ method: 'GET', route: routeOf(path), operation: '', status: '101' });
    const line = { requestId, method: 'GET', path: loggedPath(path), status: 101, websocket: true, closeCode, durationMs: Math.round(seconds * 1e6) / 1e3 };
    if (closeCode === 1011) logger.error(line, 'request');
    else logger.info(line, 'request');
  });
}
