import { createHash, timingSafeEqual } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { oneRow } from '../../db/queries.js';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { runtimeCommand, restorePointKey, type CommandType } from '../commands.js';
import { RuntimeHost, runtimeInfo } from '../embedded/index.js';
import { RuntimeRefusedError } from '../errors.js';
import { PUBLIC_ROUTES, RuntimePublic } from '../serve/public.js';
import { openRuntimeDatabase } from './database.js';
import { runtimeEnvironments } from './schema.js';

/** Where the environment's path ends and the API begins: `/dev/v1/info` is `/v1/info` of environment `/dev`. */
const routePattern = /^((?:\/[A-Za-z0-9_-]{1,64})?)(\/v1\/.*|\/health)$/;
/** The public pages (R53-R56) of environment `/dev` are under `/dev/apps/...`; the root's under `/apps/...`. */
const publicPattern = /^((?:\/[A-Za-z0-9_-]{1,64})??)(\/(?:apps|store)\/.*)$/;
const MAX_COMMAND_BYTES = 1024 * 1024;
const sha256Pattern = /^[0-9a-f]{64}$/;

export interface RuntimeServerOptions {
  dataDir: string;
  token: string;
  host?: string;
  port?: number;
  managementAvailable?: boolean;
  /** RUNTIME_PUBLIC_URL: the origin devices and browsers reach this runtime at; else the request's Host. */
  publicUrl?: string | null;
  /**
   * Test-only: stop answering at a chosen point so that a test can kill the runtime there
   * (R52). `blob`: after the first bytes of a transfer; `command:<type>`: after applying it.
   * Each hold is announced on `onHold` (the CLI prints it).
   */
  hold?: string | null;
  onHold?: (what: string) => void;
}

/** `/v1/blobs/{sha256}` matches `/v1/blobs/<anything but a slash>`. */
const patternOf = (path: string): RegExp => new RegExp(`^${path.replace(/\{[a-z0-9]+\}/gi, '([^/]+)')}$`);

export interface RuntimeServerHandle {
  /** Every route it answers, as `METHOD /path`, for the test that holds it to its OpenAPI document. */
  readonly routes: string[];
  start(): Promise<string>;
  stop(): Promise<void>;
  readonly host: RuntimeHost;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

const send = (res: ServerResponse, status: number, body?: unknown) => {
  if (body === undefined) return void res.writeHead(status).end();
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_COMMAND_BYTES) throw new RuntimeRefusedError('INVALID_COMMAND', `a command is at most ${MAX_COMMAND_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new RuntimeRefusedError('INVALID_COMMAND', 'the body is not JSON');
  }
}

/**
 * The runtime server (R45-R49): the runtime's reads, commands and files over versioned HTTP
 * routes, every state route behind the bearer token, over its own SQLite file and blob store.
 */
export function createRuntimeServer(options: RuntimeServerOptions): RuntimeServerHandle {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const database = openRuntimeDatabase(join(dataDir, 'runtime.db'));
  const host = new RuntimeHost(database.db, dataDir);
  const expected = digest(options.token);
  const publicPages = new RuntimePublic(host);
  const managementAvailable = options.managementAvailable ?? true;

  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) return false;
    return timingSafeEqual(digest(header.slice('Bearer '.length)), expected);
  };

  const holdForever = (what: string) => {
    options.onHold?.(what);
    return new Promise<never>(() => {});
  };

  /** The environment a path names: the root is 0, any other path gets a number the first time. */
  const environmentOf = async (path: string): Promise<number> => {
    if (path === '') return 0;
    // Looked up and created in one transaction: two first requests to a path make one environment.
    return database.db.transaction(async (tx) => {
      const [known] = await tx.select().from(runtimeEnvironments).where(eq(runtimeEnvironments.path, path)).limit(1);
      return known?.id ?? oneRow(await tx.insert(runtimeEnvironments).values({ path }).returning()).id;
    });
  };

  type Route = {
    method: string;
    /** As the OpenAPI document names it (docs/runtime-api.yaml). */
    path: string;
    handle: (req: IncomingMessage, res: ServerResponse, match: RegExpExecArray, url: URL, environment: number) => Promise<void> | void;
  };
  const routes: Route[] = [
    { method: 'GET', path: '/v1/info', handle: (_req, res) => send(res, 200, runtimeInfo(managementAvailable)) },
    { method: 'GET', path: '/v1/management', handle: async (_req, res, _match, _url, environment) => send(res, 200, { apps: (await host.reads.managementOf([environment]))[0] ?? [] }) },
    { method: 'GET', path: '/v1/services', handle: async (_req, res, _match, _url, environment) => send(res, 200, (await host.reads.servicesOf([environment]))[0]) },
    {
      method: 'GET',
      path: '/v1/notifications',
      handle: async (_req, res, _match, url, environment) => {
        const raw = url.searchParams.get('userIds') ?? '';
        const ids = raw === '' ? [] : raw.split(',').map(Number);
        if (ids.length > 1000 || ids.some((id) => !Number.isSafeInteger(id) || id < 0))
          throw new RuntimeRefusedError('INVALID_COMMAND', 'userIds is up to 1000 comma-separated ids');
        send(res, 200, { notifications: ids.length === 0 ? [] : await host.reads.notificationsOf([environment], ids) });
      },
    },
    { method: 'GET', path: '/v1/restore-points', handle: async (_req, res, _match, _url, environment) => send(res, 200, { restorePoints: await host.commands.restorePoints.open(environment) }) },
    {
      method: 'HEAD',
      path: '/v1/blobs/{sha256}',
      handle: async (_req, res, match) => send(res, sha256Pattern.test(match[1] ?? '') && await host.blobs.has(match[1] ?? '') ? 200 : 404),
    },
    {
      method: 'PUT',
      path: '/v1/blobs/{sha256}',
      handle: async (req, res, match, url) => {
        const sha256 = match[1] ?? '';
        if (!sha256Pattern.test(sha256)) throw new RuntimeRefusedError('INVALID_COMMAND', 'a blob is named by its lower-case hex SHA-256');
        const restorePoint = url.searchParams.get('restorePoint');
        if (restorePoint !== null && !restorePointKey.safeParse(restorePoint).success) throw new RuntimeRefusedError('INVALID_COMMAND', 'restorePoint is not a restore point key');
        if (options.hold === 'blob') {
          // Read a little, then stop reading and never answer: the transfer is under way.
          await new Promise<void>((readSome) => req.once('data', () => readSome()));
          req.pause();
          await holdForever(`blob ${sha256}`);
        }
        const held = await host.blobs.has(sha256);
        await host.blobs.put(sha256, req, restorePoint);
        send(res, held ? 200 : 201, { sha256 });
      },
    },
    {
      method: 'POST',
      path: '/v1/commands',
      handle: async (req, res, _match, _url, environment) => {
        const key = req.headers['idempotency-key'];
        if (typeof key !== 'string' || !/^[\x21-\x7e]{1,300}$/.test(key))
          throw new RuntimeRefusedError('INVALID_COMMAND', 'every change needs an Idempotency-Key header (R49)');
        const parsed = runtimeCommand.safeParse(await readJson(req));
        if (!parsed.success) throw new RuntimeRefusedError('INVALID_COMMAND', parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
        const result = await host.apply<CommandType>(environment, key, parsed.data);
        if (options.hold === `command:${parsed.data.type}`) await holdForever(`command ${parsed.data.type}`);
        send(res, 200, result);
      },
    },
  ];

  /** An environment by its path, for public pages: unknown paths are not made into environments. */
  const knownEnvironment = async (path: string): Promise<number | null> =>
    path === '' ? 0 : ((await database.db.select().from(runtimeEnvironments).where(eq(runtimeEnvironments.path, path)).limit(1))[0]?.id ?? null);

  const http = createServer((req, res) => {
    serve(req, res).catch(() => {
      // Public pages and the lookups before a route (a failing database) end here.
      if (res.headersSent) return void res.destroy();
      req.resume();
      send(res, 500, { code: 'INTERNAL', message: 'the runtime failed' });
    });
  });

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Public pages read the raw path: URL parsing would resolve `..` before the web root sees it.
    const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
    const publicMatch = publicPattern.exec(rawPath);
    if (publicMatch) {
      const [, environmentPath = '', path = ''] = publicMatch;
      const environmentId = await knownEnvironment(environmentPath);
      const origin = options.publicUrl ?? `http://${req.headers.host ?? 'localhost'}`;
      if (environmentId !== null && await publicPages.handle(req, res, { environmentId, baseUrl: `${origin}${environmentPath}`, path, managementAvailable })) return;
      return send(res, 404, { code: 'NOT_FOUND', message: 'no such page' });
    }
    const url = new URL(req.url ?? '/', 'http://runtime');
    const [, environmentPath = '', apiPath = ''] = routePattern.exec(url.pathname) ?? [];
    if (req.method === 'GET' && apiPath === '/health') return send(res, 200, { ok: true });
    const matching = routes.map((route) => ({ route, match: patternOf(route.path).exec(apiPath) })).filter((entry) => entry.match);
    if (matching.length === 0) return send(res, 404, { code: 'NOT_FOUND', message: 'no such route' });
    const found = matching.find((entry) => entry.route.method === req.method);
    if (!found?.match) return send(res, 405, { code: 'METHOD_NOT_ALLOWED', message: `use ${matching.map((entry) => entry.route.method).join(', ')}` });
    if (!authorized(req)) {
      req.resume();
      res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ code: 'UNAUTHORIZED', message: 'a runtime token is required (Authorization: Bearer <token>)' }));
    }
    try {
      await found.route.handle(req, res, found.match as RegExpExecArray, url, await environmentOf(environmentPath));
    } catch (error) {
      if (res.headersSent) return void res.destroy();
      if (error instanceof RuntimeRefusedError) {
        req.resume();
        return send(res, error.code === 'INVALID_COMMAND' ? 400 : 409, { code: error.code, message: error.message });
      }
      // A client that went away mid-transfer, or a fault here: nothing was kept.
      if (!req.complete) return void res.destroy();
      send(res, 500, { code: 'INTERNAL', message: 'the runtime failed' });
    }
  };
  http.requestTimeout = 0;

  return {
    host,
    routes: ['GET /health', ...routes.map((route) => `${route.method} ${route.path}`), ...PUBLIC_ROUTES],
    start: async () => {
      await new Promise<void>((listening, failed) => {
        http.once('error', failed);
        http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => listening());
      });
      const { port } = http.address() as AddressInfo;
      const name = options.host ?? '127.0.0.1';
      return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
    },
    stop: async () => {
      const closed = new Promise<void>((done) => http.close(() => done()));
      http.closeAllConnections();
      await closed;
      publicPages.close();
      await database.close();
    },
  };
}
