import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHILD_ADMIN_TOKEN } from './child-server.js';

/**
 * Several real Shipyard processes (`npm start`'s entry point) for multi-instance suites (R60): they
 * share what `env` names — DATABASE_URL, REDIS_URL, REDIS_PREFIX, BLOB_DIR, ADMIN_TOKEN — and each
 * has its own DATA_DIR and a free port.
 */
export interface Instance {
  /** 0-based position in startInstances' answer, for messages. */
  index: number;
  url: string;
  dataDir: string;
  child: ChildProcess;
  /** Ends the process at once, as a crash would (SIGKILL); resolves when it has exited. */
  kill(): Promise<void>;
  /** SIGTERM, the clean stop; resolves when it has exited, rejects if it does not within `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** What it printed so far (stdout and stderr), for failure messages. */
  output(): string;
}

export interface InstancesOptions {
  /** Shared by every instance, on top of the defaults below and process.env. */
  env?: Record<string, string>;
  /** Per instance additions (say, one instance's own JOB_LEASE_MS). */
  envOf?: (index: number) => Record<string, string>;
  /** How long one may take to print its "listening on" line. */
  startTimeoutMs?: number;
}

export const INSTANCES_ADMIN_TOKEN = CHILD_ADMIN_TOKEN;

const exitOf = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((done) => child.once('exit', () => done()));

function spawnInstance(index: number, env: Record<string, string>, startTimeoutMs: number): Promise<Instance> {
  const dataDir = mkdtempSync(join(tmpdir(), `shipyard-instance-${index}-`));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', SEED: 'none', LOG_LEVEL: 'warn', ADMIN_TOKEN: INSTANCES_ADMIN_TOKEN, ...env, DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => (output += chunk.toString());
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const stop = async (signal: NodeJS.Signals, timeoutMs: number) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
    const outcome = await Promise.race([exitOf(child), late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      child.kill('SIGKILL');
      await exitOf(child);
      throw new Error(`instance ${index} did not exit within ${timeoutMs} ms of ${signal}:\n${output}`);
    }
  };
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
      reject(new Error(`instance ${index} ${why}:\n${output}`));
    };
    const timer = setTimeout(() => fail(`printed no "listening on" line within ${startTimeoutMs} ms`), startTimeoutMs);
    const onExit = () => fail('exited while starting');
    const onData = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (!match?.[1]) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout?.off('data', onData);
      resolve({
        index,
        url: match[1],
        dataDir,
        child,
        kill: () => stop('SIGKILL', 10_000),
        stop: (timeoutMs = 15_000) => stop('SIGTERM', timeoutMs),
        get exited() {
          return child.exitCode !== null || child.signalCode !== null;
        },
        output: () => output,
      });
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Starts `n` instances at the same moment; if one fails to start, the others are killed and its output is in the error. */
export async function startInstances(n: number, options: InstancesOptions = {}): Promise<Instance[]> {
  const starting = Array.from({ length: n }, (_, index) =>
    spawnInstance(index, { ...options.env, ...options.envOf?.(index) }, options.startTimeoutMs ?? 30_000),
  );
  const settled = await Promise.allSettled(starting);
  const started = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) {
    await closeInstances(started);
    throw failure.reason;
  }
  return started;
}

/** Stops what still runs (SIGTERM, then SIGKILL if it hangs) and removes every data directory. */
export async function closeInstances(instances: readonly Instance[]): Promise<void> {
  await Promise.all(
    instances.map(async (instance) => {
      try {
        if (!instance.exited) await instance.stop();
      } finally {
        rmSync(instance.dataDir, { recursive: true, force: true });
      }
    }),
  );
}

/**
 * Polls `check` until it answers something truthy and answers that; fails after `timeoutMs`
 * (with `what` in the message). A bounded poll, never a fixed sleep; `check` may be async.
 */
export async function eventually<T>(
  check: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  { timeoutMs = 10_000, everyMs = 50, what = 'the condition' }: { timeoutMs?: number; everyMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** GET /ready's status, or null when nothing answers (the process is gone). */
export async function readyStatus(url: string): Promise<number | null> {
  try {
    const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(5_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return null;
  }
}
