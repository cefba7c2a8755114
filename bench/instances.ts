import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { InstanceMessage, InstanceRequest } from './instance.js';

/**
 * Real Shipyard processes for the PostgreSQL benches (bench/instance.ts), each with its own data
 * directory and port; several of them share the database and the Redis prefix `env` names.
 */
export interface BenchInstance {
  url: string;
  dataDir: string;
  /** heapUsed, external and RSS after a full collection in the instance. */
  memory(): Promise<{ heapUsed: number; external: number; rss: number }>;
  subscriptions(): Promise<number>;
  /** Messages graphql-ws's handler failed on in this instance so far. */
  internalErrors(): number;
  stop(): Promise<void>;
}

export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
const postgresAdminUrl = process.env.SHIPYARD_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const redisUrl = process.env.SHIPYARD_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export async function startInstance(env: Record<string, string>): Promise<BenchInstance> {
  const dataDir = mkdtempSync(join(tmpdir(), 'shipyard-bench-instance-'));
  const child: ChildProcess = fork('bench/instance.ts', [], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: '0',
      SEED: 'none',
      LOG_LEVEL: 'silent',
      PUBLISH_STAGE_DELAY_MS: '0',
      ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
      ...env,
      DATA_DIR: dataDir,
    },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  // graphql-ws prints a stack for each message its handler failed (the socket is closed with
  // 4500): counted, not printed, so that a burst of them does not bury the figures.
  let internalErrors = 0;
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    if (line.startsWith('Internal error occurred during message handling')) internalErrors += 1;
    else if (internalErrors === 0 || !/^\s+at |^\s*[}{]|^\s+\w+: /.test(line)) process.stderr.write(`${line}\n`);
  });
  let next = 0;
  const pending = new Map<number, (message: InstanceMessage) => void>();
  const url = await new Promise<string>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`bench instance exited with ${code} while starting`));
    child.once('exit', onExit);
    child.on('message', (message: InstanceMessage) => {
      if (message.type === 'listening') {
        child.off('exit', onExit);
        resolve(message.url);
      } else pending.get(message.id)?.(message);
    });
  });
  const ask = (type: InstanceRequest['type']) =>
    new Promise<InstanceMessage>((resolve) => {
      next += 1;
      pending.set(next, resolve);
      child.send({ id: next, type } satisfies InstanceRequest);
    });
  return {
    url,
    dataDir,
    memory: async () => {
      const answer = await ask('memory');
      if (answer.type !== 'memory') throw new Error('unexpected answer');
      return answer;
    },
    internalErrors: () => internalErrors,
    subscriptions: async () => {
      const answer = await ask('subscriptions');
      return answer.type === 'subscriptions' ? answer.count : Number.NaN;
    },
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        await ask('stop');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresAdminUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/**
 * An empty database of the bench's own (the first instance migrates it at start), with its URL,
 * and a Redis prefix of its own; `drop` removes the database and every key under the prefix.
 */
export async function benchPostgres(): Promise<{ databaseUrl: string; redisPrefix: string; drop(): Promise<void> }> {
  const suffix = `${process.pid}_${randomBytes(4).toString('hex')}`;
  const name = `shipyard_bench_${suffix}`;
  await admin(`create database "${name}"`);
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  const redisPrefix = `shipyard:bench:${suffix}:`;
  return {
    databaseUrl: url.toString(),
    redisPrefix,
    drop: async () => {
      await admin(`drop database if exists "${name}" with (force)`);
      const redis = new Redis(redisUrl, { lazyConnect: true });
      await redis.connect();
      try {
        let cursor = '0';
        do {
          const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
          if (keys.length > 0) await redis.del(...keys);
          cursor = nextCursor;
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  };
}

/** Starts the instances one after another, so that the first migrates the database alone. */
export async function startInstances(n: number, env: Record<string, string>): Promise<BenchInstance[]> {
  const started: BenchInstance[] = [];
  for (let i = 0; i < n; i += 1) started.push(await startInstance(env));
  return started;
}

/** Polls until `check` holds, for at most `timeoutMs`. */
export async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
