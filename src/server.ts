import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/client.js';
import { bootstrap } from './domain/bootstrap.js';
import type { InspectorLimits } from './domain/binaries/inspector.js';
import { createDomain, type Domain } from './domain/index.js';
import { Leases } from './domain/leases.js';
import { DEFAULT_LEASE_MS, type RunnerOptions } from './domain/publish/runner.js';
import type { RemoteRuntimeFactory } from './domain/runtimes.js';
import { DEFAULT_HTTP_RUNTIME_OPTIONS, HttpRuntime } from './runtime/http-client.js';
import { seedSampleBinaries } from './domain/samples.js';
import { observeWebSocket, useRequestFacts } from './http/access-log.js';
import { createRouter } from './http/router.js';
import { createGraphQL } from './http/graphql.js';
import { RuntimePublic } from './runtime/serve/public.js';
import { TokenSessions } from './http/token-sessions.js';
import { attachGraphQLWebSocket } from './http/websocket.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './ops/metrics.js';
import { observePublishJobs } from './ops/publish-outcomes.js';
import { timedRuntime } from './ops/timed-runtime.js';
import { Realtime } from './schema/realtime.js';
import { redisTransport } from './schema/redis-transport.js';

/** How often URL environments are probed in the background (R9). */
export const PROBE_INTERVAL_MS = 30_000;
export const DEFAULT_CONCURRENT_JOBS = 8;
export const DEFAULT_MAX_QUEUED_EVENTS = 256;

export interface ServerOptions {
  logger?: Logger;
  /** How a remote runtime is reached; the HTTP client unless a test swaps it. */
  remoteRuntime?: RemoteRuntimeFactory;
  /** One attempt of a call to a remote runtime (R51); 10 s unless a test needs it sooner. */
  runtimeCallTimeoutMs?: number;
  /** First wait before a waiting rollback is tried again (R50). */
  rollbackRetryMs?: number;
  /** Sees every SQL statement, for tests that count statements per request. */
  onStatement?: (sql: string) => void;
  /**
   * Sees the database once it is open: tests make SQLite's connection read-only (PRAGMA
   * query_only, the state a read-only file or mount puts SQLite in) or close it under a running
   * server (R72).
   */
  onDatabaseOpen?: (database: Database) => void;
  /** How often URL environments are probed; 30 s unless a test needs it sooner. */
  probeIntervalMs?: number;
  /** How many publish jobs run at once (different environments); the rest wait QUEUED. */
  maxConcurrentJobs?: number;
  /** Test-only fault injection: a message makes that stage of the embedded runtime fail. */
  runtimeFault?: RunnerOptions['fault'];
  /** Events a subscriber may have waiting before its connection is dropped (R42). */
  maxQueuedEvents?: number;
  /** How often open streams' tokens are checked for expiry; 250 ms unless a test turns it off. */
  tokenSweepIntervalMs?: number;
  /** Compile operations with graphql-jit: faster, but it breaks variable errors and subscriptions here, so off (bench/dashboard.ts measures it). */
  jit?: boolean;
  /** Time and memory limits of the worker threads that read uploaded files (R68); tests shorten them. */
  inspectorLimits?: InspectorLimits;
}

export interface ServerHandle {
  /** Listens on the configured host and port (0 = any free port) and answers the URL. */
  start(): Promise<string>;
  /** Stops accepting, lets running jobs reach a safe point, closes connections and the database. */
  stop(): Promise<void>;
  readonly url: string;
  readonly domain: Domain;
  readonly realtime: Realtime;
  /** Open streams by token, ended when their token is revoked or expires (R70). */
  readonly sessions: TokenSessions;
  /** The admin token if this start created it (the one time it is shown), else null. */
  readonly createdAdminToken: string | null;
}

/**
 * R59: this instance's id, kept in the data directory: a restarted instance knows the jobs it held
 * before it stopped as its own and recovers them at once (R25); other instances wait for their lease.
 */
function instanceIdOf(dataDir: string): string {
  const file = join(dataDir, 'instance-id');
  const kept = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  if (kept !== '') return kept;
  const id = randomUUID();
  writeFileSync(file, `${id}\n`);
  return id;
}

/** The named lease under which one instance at a time does the background work. */
const MAINTENANCE_LEASE = 'maintenance';

/** Builds a whole server over one data directory; nothing is shared between two of them. */
export async function createServer(config: Config, options: ServerOptions = {}): Promise<ServerHandle> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const database = await openDatabase({
    file: join(dataDir, 'shipyard.db'),
    url: config.databaseUrl,
    onStatement: options.onStatement,
  });
  options.onDatabaseOpen?.(database);
  const metrics = new Metrics();
  const instanceId = instanceIdOf(dataDir);
  const leaseMs = config.jobLeaseMs ?? DEFAULT_LEASE_MS;
  const domain = createDomain(database.db, {
    dataDir,
    blobDir: config.blobDir === undefined ? undefined : resolve(config.blobDir),
    limits: { maxUploadBytes: config.maxUploadBytes, maxMultipartBytes: config.maxMultipartBytes, uploadQuotaBytes: config.uploadQuotaBytes },
    remoteRuntime:
      options.remoteRuntime ??
      ((url, token, environmentId) =>
        timedRuntime(
          new HttpRuntime(url, token, environmentId, {
            ...DEFAULT_HTTP_RUNTIME_OPTIONS,
            deadlineMs: config.runtimeStageDeadlineMs,
            callTimeoutMs: Math.min(options.runtimeCallTimeoutMs ?? DEFAULT_HTTP_RUNTIME_OPTIONS.callTimeoutMs, config.runtimeStageDeadlineMs),
          }),
          metrics,
        )),
    runtimeUrlAllow: config.runtimeUrlAllow,
    logger,
    ...(options.inspectorLimits ? { inspectorLimits: options.inspectorLimits } : {}),
    runner: {
      stageDelayMs: config.publishStageDelayMs,
      maxConcurrentJobs: options.maxConcurrentJobs ?? DEFAULT_CONCURRENT_JOBS,
      instanceId,
      leaseMs,
      ...(options.rollbackRetryMs ? { rollbackRetryMs: options.rollbackRetryMs } : {}),
      ...(options.runtimeFault ? { fault: options.runtimeFault } : {}),
    },
  });
  domain.events.subscribe((event) => {
    if (event.type === 'environmentStatusChanged')
      logger.info({ environmentId: event.environmentId, from: event.previousStatus, to: event.status }, 'environment status changed');
  });
  const stopObservingJobs = observePublishJobs(domain.events, metrics, logger);
  await domain.runner.recover();
  await domain.blobCollector.sweepOrphanBlobs();
  const runtimePages = new RuntimePublic(domain.runtimes.embedded);
  const maxQueuedEvents = options.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS;
  const transport = config.redisUrl ? redisTransport({ url: config.redisUrl, prefix: config.redisPrefix, logger, perTurn: Math.ceil(maxQueuedEvents / 2) }) : undefined;
  const realtime = new Realtime(domain, { maxQueuedEvents, ...(transport ? { transport } : {}) });
  metrics.watchSubscriptions(realtime);
  // R59: job events of every instance (through Redis when set) reach the runner: a cancel asked elsewhere, a job ended elsewhere.
  domain.runner.listen((accountId, listener) => {
    const stream = realtime.pubsub.subscribe('publishJob', accountId);
    void (async () => {
      for await (const event of stream) listener(event.job, event.origin);
    })().catch((error: unknown) => logger.error({ err: error }, 'following publish job events failed'));
    return () => void stream.return();
  });
  const sessions = new TokenSessions(domain, options.tokenSweepIntervalMs, realtime);

  const tokenFile = join(dataDir, 'admin-token');
  // R58: instances starting together on an empty database make one account, one token, one demo set.
  const outcome = await database.exclusively('shipyard:bootstrap', () =>
    bootstrap(database.db, domain, {
      seed: config.seed,
      ...(config.adminToken ? { adminToken: config.adminToken } : {}),
    }),
  );
  if (outcome.createdToken) {
    writeFileSync(tokenFile, `${outcome.createdToken}\n`, { mode: 0o600 });
    chmodSync(tokenFile, 0o600);
  }

  const yoga = createGraphQL({
    jit: options.jit ?? false,
    config,
    domain,
    realtime,
    logger,
    plugins: [useRequestFacts(metrics)],
    publicUrl: () => publicUrl,
    sessions,
    databaseFailed: database.isFailure,
  });
  const pages = {
    prefill: config.graphiqlPrefill,
    // ADMIN_TOKEN, else the token file's, and only while it still works.
    adminToken: async () => {
      const candidate = config.adminToken ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : null);
      return candidate && await domain.accounts.isLiveToken(candidate) ? candidate : null;
    },
  };

  const http = createHttpServer(
    createRouter({ config, database, domain, yoga, metrics, logger, pages, runtimePages, publicUrl: () => publicUrl }),
  );
  const closeWebSockets = attachGraphQLWebSocket(
    http,
    yoga,
    domain,
    sessions,
    (error) => logger.error({ err: error }, database.isFailure(error) ? 'database unavailable' : 'unexpected error'),
    (socket, req) => observeWebSocket(socket, req, metrics, logger),
  );

  let url = '';
  /** R64: the origin of every link we answer; PUBLIC_URL, else the address we listen on. */
  let publicUrl = config.publicUrl ?? '';
  let maintenanceTimer: NodeJS.Timeout | undefined;
  const probeIntervalMs = options.probeIntervalMs ?? PROBE_INTERVAL_MS;
  const leases = new Leases(database.db);
  let holdsMaintenance = false;
  let maintaining = false;
  let maintainedAt = 0;
  /**
   * R59: the background work runs on the instance holding the maintenance lease, renewed every
   * third of JOB_LEASE_MS, once per probe interval; an instance that takes the lease over from a
   * dead holder and has not run it lately runs it at once.
   */
  const maintain = async () => {
    try {
      holdsMaintenance = await leases.hold(MAINTENANCE_LEASE, instanceId, new Date(Date.now() + leaseMs));
      if (!holdsMaintenance || maintaining || Date.now() - maintainedAt < probeIntervalMs) return;
    } catch (error) {
      holdsMaintenance = false;
      return void logger.error({ err: error }, 'taking the maintenance lease failed');
    }
    maintaining = true;
    maintainedAt = Date.now();
    await runMaintenance().finally(() => (maintaining = false));
  };
  /** Background work every interval: probe URL environments (R9), drop expired uploads (R18). */
  const runMaintenance = async () => {
    try {
      await domain.uploads.sweepExpired();
      await domain.blobCollector.sweepOrphanBlobs();
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
    sessions,
    createdAdminToken: outcome.createdToken,
    start: async () => {
      if (outcome.seeded) await seedSampleBinaries(domain.binaries, outcome.seeded.principal, outcome.seeded.appId);
      await new Promise<void>((resolveListen, rejectListen) => {
        http.once('error', rejectListen);
        http.listen(config.port, config.host, () => {
          http.off('error', rejectListen);
          resolveListen();
        });
      });
      const { port } = http.address() as AddressInfo;
      url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
      publicUrl = config.publicUrl ?? url;
      void maintain();
      maintenanceTimer = setInterval(() => void maintain(), Math.min(probeIntervalMs, Math.floor(leaseMs / 3)));
      maintenanceTimer.unref();
      return url;
    },
    stop: async () => {
      clearInterval(maintenanceTimer);
      const closed = new Promise<void>((resolveStop) => http.close(() => resolveStop()));
      // R4: running jobs stop at their next safe point and are rolled back before the database closes.
      await domain.runner.shutdown();
      await domain.inspector.close();
      await domain.artifactWorkers.close();
      await closeWebSockets();
      sessions.close();
      await realtime.close();
      stopObservingJobs();
      http.closeAllConnections();
      await closed;
      await yoga.dispose();
      runtimePages.close();
      // Another instance takes the background work over at its next try rather than when the lease expires.
      if (holdsMaintenance) await leases.release(MAINTENANCE_LEASE, instanceId).catch(() => undefined);
      await database.close();
    },
  };
}
