import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { GraphQLError, type execute, type ExecutionArgs, type subscribe } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from './config.js';
import { openDatabase } from './db/client.js';
import { createDomain, type Domain } from './domain/index.js';
import { bootstrap } from './domain/bootstrap.js';
import { seedSampleBinaries } from './domain/samples.js';
import type { Principal } from './domain/principal.js';
import { InputError } from './domain/result.js';
import { probeRuntimeHealth, type RuntimeProbe } from './domain/runtime-probe.js';
import type { RunnerOptions } from './domain/publish/runner.js';
import { createLogger, type Logger } from './logger.js';
import type { Context } from './schema/builder.js';
import { buildSchema } from './schema/index.js';
import { createLoaders } from './schema/loaders.js';
import { Realtime } from './schema/realtime.js';
import { DEFAULT_QUERY } from './graphiql.js';
import { bearerPrincipal } from './http/auth.js';
import { handleBinaryRoutes } from './http/binaries.js';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';

/** How often URL environments are probed in the background (R9). */
export const PROBE_INTERVAL_MS = 30_000;
export const DEFAULT_CONCURRENT_JOBS = 8;
export const DEFAULT_MAX_QUEUED_EVENTS = 256;

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => ReturnType<typeof execute>;
  subscribe: (args: ExecutionArgs) => ReturnType<typeof subscribe>;
}

/** graphql-ws carries the token as `connectionParams.authorization`, with or without "Bearer". */
function connectionAuthorization(params: Readonly<Record<string, unknown>> | undefined): string | null {
  const value = params?.authorization ?? params?.Authorization;
  if (typeof value !== 'string') return null;
  return /^Bearer\s/i.test(value) ? value : `Bearer ${value}`;
}

export interface ServerOptions {
  logger?: Logger;
  /** How runtimes are asked for their health; the real HTTP probe unless a test swaps it. */
  probe?: RuntimeProbe;
  /** Sees every SQL statement, for tests that count statements per request. */
  onStatement?: (sql: string) => void;
  /** How often URL environments are probed; 30 s unless a test needs it sooner. */
  probeIntervalMs?: number;
  /** How many publish jobs run at once (different environments); the rest wait QUEUED. */
  maxConcurrentJobs?: number;
  /** Test-only fault injection: a message makes that stage of the embedded runtime fail. */
  runtimeFault?: RunnerOptions['fault'];
  /** Events a subscriber may have waiting before its connection is dropped (R42). */
  maxQueuedEvents?: number;
}

export interface ServerHandle {
  /** Listens on the configured host and port (0 = any free port) and answers the URL. */
  start(): Promise<string>;
  /** Stops accepting, closes open connections and the database. */
  stop(): Promise<void>;
  readonly url: string;
  readonly domain: Domain;
  readonly realtime: Realtime;
  /** The admin token if this start created it (the one time it is shown), else null. */
  readonly createdAdminToken: string | null;
}

/** What each transport hands the context factory: the HTTP request, or a graphql-ws connection. */
interface ServerContext {
  req: IncomingMessage;
  res?: ServerResponse;
  connectionParams?: Readonly<Record<string, unknown>>;
  socket?: WebSocket;
}

/** The header yoga's CSRF prevention asks of multipart uploads (R19). */
export const CSRF_HEADER = 'x-graphql-yoga-csrf';

const loopbackAddresses = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

const unauthenticated = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });

/** R5: the principal behind `Authorization: Bearer <token>`, or an error the client sees as 401. */
export function authenticate(domain: Domain, authorization: string | null | undefined): Principal {
  if (!authorization) throw unauthenticated('Authentication required: send Authorization: Bearer <token>');
  const principal = bearerPrincipal(domain, authorization);
  if (!principal) throw unauthenticated('Invalid or revoked API token');
  return principal;
}

export function createServer(config: Config, options: ServerOptions = {}): ServerHandle {
  const logger = options.logger ?? createLogger(config.logLevel);
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const database = openDatabase(join(dataDir, 'shipyard.db'), options.onStatement);
  const domain = createDomain(database.db, {
    dataDir,
    limits: { maxUploadBytes: config.maxUploadBytes, maxMultipartBytes: config.maxMultipartBytes },
    probe: options.probe ?? probeRuntimeHealth,
    logger,
    runner: {
      stageDelayMs: config.publishStageDelayMs,
      maxConcurrentJobs: options.maxConcurrentJobs ?? DEFAULT_CONCURRENT_JOBS,
      ...(options.runtimeFault ? { fault: options.runtimeFault } : {}),
    },
  });
  domain.events.subscribe((event) => {
    if (event.type === 'environmentStatusChanged')
      logger.info({ environmentId: event.environmentId, from: event.previousStatus, to: event.status }, 'environment status changed');
  });
  domain.runner.recover();
  domain.binaries.sweepOrphanBlobs();

  const realtime = new Realtime(domain, { maxQueuedEvents: options.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS });

  const tokenFile = join(dataDir, 'admin-token');
  const outcome = bootstrap(database.db, domain, {
    seed: config.seed,
    ...(config.adminToken ? { adminToken: config.adminToken } : {}),
  });
  if (outcome.createdToken) {
    writeFileSync(tokenFile, `${outcome.createdToken}\n`, { mode: 0o600 });
    chmodSync(tokenFile, 0o600);
  }

  /** The token GraphiQL is pre-filled with on loopback: ADMIN_TOKEN, else the token file's. */
  const graphiqlToken = (): string | null => {
    const candidate = config.adminToken ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : null);
    return candidate && domain.accounts.isLiveToken(candidate) ? candidate : null;
  };

  const yoga: YogaServerInstance<ServerContext, Context> = createYoga<ServerContext, Context>({
    schema: buildSchema(),
    // One context factory for HTTP, SSE and graphql-ws (R40).
    context: (initial) => {
      const overWebSocket = initial.connectionParams !== undefined;
      const authorization = overWebSocket ? connectionAuthorization(initial.connectionParams) : initial.request.headers.get('authorization');
      return {
        principal: authenticate(domain, authorization),
        domain,
        origin: overWebSocket ? `http://${initial.req.headers.host ?? `${config.host}:${config.port}`}` : new URL(initial.request.url).origin,
        loaders: createLoaders(domain),
        realtime,
        dropConnection: () => (initial.socket ? initial.socket.terminate() : initial.req.socket.destroy()),
      };
    },
    // R19: multipart requests are "simple" in CORS terms, so they must carry this header.
    plugins: [useCSRFPrevention({ requestHeaders: [CSRF_HEADER] })],
    graphiql: (_request, serverContext) => {
      const token = serverContext && loopbackAddresses.has(serverContext.req.socket.remoteAddress ?? '') ? graphiqlToken() : null;
      return {
        title: 'Shipyard',
        defaultQuery: DEFAULT_QUERY,
        subscriptionsProtocol: 'WS',
        ...(token ? { headers: JSON.stringify({ Authorization: `Bearer ${token}` }) } : {}),
      };
    },
    maskedErrors: {
      maskError: (error, message, isDev) => {
        const original = error instanceof GraphQLError ? error.originalError : error;
        if (original instanceof InputError)
          return new GraphQLError(original.message, { extensions: { code: 'BAD_USER_INPUT' } });
        return maskError(error, message, isDev);
      },
    },
    logging: {
      debug: (...args) => logger.debug(args),
      info: (...args) => logger.info(args),
      warn: (...args) => logger.warn(args),
      error: (...args) => logger.error(args),
    },
  });

  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const isDatabaseAnswering = (): boolean => {
    try {
      return database.sqlite.open && database.sqlite.prepare('select 1 as ok').get() !== undefined;
    } catch {
      return false;
    }
  };

  /** R19: yoga buffers multipart bodies, so an oversized one is refused before it is read. */
  const isOversizedMultipart = (req: IncomingMessage): boolean => {
    if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('multipart/')) return false;
    const length = Number(req.headers['content-length'] ?? Number.POSITIVE_INFINITY);
    return !(length <= config.maxMultipartBytes);
  };

  const http = createHttpServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });
    if (path === '/ready' && req.method === 'GET') {
      const ready = isDatabaseAnswering();
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'database unavailable' });
    }
    if (path === yoga.graphqlEndpoint) {
      if (isOversizedMultipart(req)) {
        sendJson(res, 413, { error: `Multipart requests are at most ${config.maxMultipartBytes} bytes; use createBinaryUpload for larger files` });
        req.resume();
        return;
      }
      return void yoga(req, res);
    }
    if (handleBinaryRoutes(domain, logger, req, res, path ?? '')) return;
    return sendJson(res, 404, { error: 'Not found' });
  });

  // graphql-ws on the GraphQL path itself (R40), through yoga's envelop so that every plugin,
  // the context factory and error masking apply as they do over HTTP.
  const webSockets = new WebSocketServer({ server: http, path: yoga.graphqlEndpoint });
  const graphqlWs = useServer<Record<string, unknown>, { socket: WebSocket; request: IncomingMessage }>(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
      onConnect: (ctx) => {
        if (bearerPrincipal(domain, connectionAuthorization(ctx.connectionParams))) return true;
        ctx.extra.socket.close(4401, 'Unauthorized');
        return false;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const enveloped = yoga.getEnveloped({
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          connectionParams: ctx.connectionParams ?? {},
          params: payload,
        });
        const document = enveloped.parse(payload.query);
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length > 0) return errors;
        return {
          schema: enveloped.schema,
          document,
          operationName: payload.operationName ?? null,
          variableValues: payload.variables ?? null,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
      },
    },
    webSockets,
  );

  let url = '';
  let probeTimer: NodeJS.Timeout | undefined;
  /** Background work every interval: probe URL environments (R9), drop expired uploads (R18). */
  const runMaintenance = () => {
    try {
      domain.binaries.sweepExpiredUploads();
      domain.binaries.sweepOrphanBlobs();
    } catch (error) {
      logger.error({ err: error }, 'sweeping uploads and blobs failed');
    }
    return domain.environments.probeAll().catch((error: unknown) => logger.error({ err: error }, 'probing environments failed'));
  };

  return {
    get url() {
      return url;
    },
    domain,
    realtime,
    createdAdminToken: outcome.createdToken,
    start: async () => {
      if (outcome.seeded) await seedSampleBinaries(domain.binaries, outcome.seeded.principal, outcome.seeded.appId);
      return new Promise<string>((resolveStart, rejectStart) => {
        http.once('error', rejectStart);
        http.listen(config.port, config.host, () => {
          http.off('error', rejectStart);
          const { port } = http.address() as AddressInfo;
          const host = config.host.includes(':') ? `[${config.host}]` : config.host;
          url = `http://${host}:${port}`;
          void runMaintenance();
          probeTimer = setInterval(() => void runMaintenance(), options.probeIntervalMs ?? PROBE_INTERVAL_MS);
          probeTimer.unref();
          resolveStart(url);
        });
      });
    },
    stop: async () => {
      clearInterval(probeTimer);
      const closed = new Promise<void>((resolveStop) => http.close(() => resolveStop()));
      // R4: running jobs stop at their next safe point and are rolled back before the database closes.
      await domain.runner.shutdown();
      await graphqlWs.dispose();
      for (const socket of webSockets.clients) socket.terminate();
      webSockets.close();
      realtime.close();
      http.closeAllConnections();
      await closed;
      await yoga.dispose();
      database.close();
    },
  };
}
