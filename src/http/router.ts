import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { Domain } from '../domain/index.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { RuntimePublic } from '../runtime/serve/public.js';
import { observeRequest } from './access-log.js';
import { handleBinaryRoutes } from './binaries.js';
import { createCorsPolicy } from './cors.js';
import type { createGraphQL } from './graphql.js';
import { serveMetrics } from './metrics-route.js';
import { handlePages, type PageOptions } from './pages.js';
import { newRequestId, withRequest, type RequestFacts } from './request-context.js';
import { handleEmbeddedRuntimePages } from './runtime-pages.js';
import { setBaselineSecurityHeaders } from './security-headers.js';

/** A JSON GraphQL request is at most this large (R43); files travel as multipart or PUT. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;

export interface RouterOptions {
  config: Config;
  database: Database;
  domain: Domain;
  yoga: ReturnType<typeof createGraphQL>;
  metrics: Metrics;
  logger: Logger;
  pages: PageOptions;
  runtimePages: RuntimePublic;
  /** R64: the origin of every link we answer, known once the server listens. */
  publicUrl: () => string;
}

const sendJson = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/**
 * The request listener of the node:http server: /health and /ready, CORS, request ids and the
 * access log, then each path to its handler in src/http/.
 */
export function createRouter(options: RouterOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, database, domain, yoga, metrics, logger, pages, runtimePages, publicUrl } = options;

  /**
   * R19, R43: yoga buffers request bodies, so an oversized one is refused by its declared length
   * before a byte of it is read; a body without a length is refused too.
   */
  const oversizedBody = (req: IncomingMessage): string | null => {
    if (req.method !== 'POST') return null;
    const multipart = (req.headers['content-type'] ?? '').toLowerCase().startsWith('multipart/');
    const limit = multipart ? config.maxMultipartBytes : MAX_JSON_BODY_BYTES;
    const declared = req.headers['content-length'];
    if (declared === undefined) return 'Send a Content-Length with GraphQL requests';
    if (Number(declared) > limit)
      return multipart
        ? `Multipart requests are at most ${limit} bytes; use createBinaryUpload for larger files`
        : `GraphQL requests are at most ${limit} bytes`;
    return null;
  };

  const cors = createCorsPolicy(config.corsOrigins);
  /** R63: the routes a cross-origin page may call, when its origin is listed. */
  const isApiRoute = (path: string) =>
    path === yoga.graphqlEndpoint || path.startsWith('/uploads/') || path.startsWith('/binaries/') || path.startsWith('/runtime/');

  /** R43, R72: a route that throws answers 503 (database failing) or a masked 500, never a crash. */
  const answerFault = (req: IncomingMessage, res: ServerResponse, error: unknown) => {
    const requestId = res.getHeader('x-request-id');
    const unavailable = database.isFailure(error);
    logger.error({ err: error, requestId, path: req.url?.split('?')[0] }, unavailable ? 'database unavailable' : 'unexpected error');
    req.resume();
    if (res.headersSent) return void res.destroy();
    sendJson(res, unavailable ? 503 : 500, {
      error: unavailable ? 'The database is unavailable; try again shortly' : 'Unexpected error',
      requestId,
    });
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    setBaselineSecurityHeaders(res);
    if (isApiRoute(path) && cors(req, res)) return;
    if (path === '/health' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });
    if (path === '/ready' && req.method === 'GET') {
      const ready = await database.isReady();
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'database unavailable' });
    }
    const facts: RequestFacts = { requestId: newRequestId(), errorCodes: [] };
    res.setHeader('x-request-id', facts.requestId);
    observeRequest(req, res, path, facts, metrics, logger);
    await withRequest(facts, async () => {
      if (path === '/metrics') return void serveMetrics(req, res, metrics, config.metricsToken);
      if (await handlePages(req, res, path, pages)) return;
      if (path === yoga.graphqlEndpoint) {
        const refusal = oversizedBody(req);
        if (refusal) {
          facts.errorCodes.push('REQUEST_TOO_LARGE');
          sendJson(res, req.headers['content-length'] === undefined ? 411 : 413, { errors: [{ message: refusal, extensions: { code: 'REQUEST_TOO_LARGE' } }] });
          req.resume();
          return;
        }
        return void yoga(req, res);
      }
      if (await handleBinaryRoutes(domain, logger, req, res, path, (error) => answerFault(req, res, error))) return;
      if (await handleEmbeddedRuntimePages(domain, runtimePages, req, res, publicUrl())) return;
      sendJson(res, 404, { error: 'Not found' });
    });
  };

  return (req, res) => {
    route(req, res).catch((error: unknown) => answerFault(req, res, error));
  };
}
