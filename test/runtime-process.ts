import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';


/** A runtime server started as `npm run runtime` does, in a child process of its own. */
export interface RuntimeProcess {
  /** Its base URL; environments may live under paths of it (`${url}/dev`). */
  url: string;
  token: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Waits (bounded) until it has printed a line matching. */
  printed(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Kills it with SIGKILL and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data directory, with other test knobs if given. */
  restart(env?: Record<string, string>): Promise<RuntimeProcess>;
  stop(): Promise<void>;
}

export async function startRuntimeProcess(options: { dataDir?: string; port?: number; env?: Record<string, string> } = {}): Promise<RuntimeProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'shipyard-runtime-'));
  const token = 'test-runtime-token-0123456789abcdef';
  // One process (not the tsx wrapper), so that a signal reaches the runtime itself.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/runtime.ts'], {
    env: { ...process.env, RUNTIME_PORT: String(options.port ?? 0), RUNTIME_DATA_DIR: dataDir, RUNTIME_TOKEN: token, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters = new Set<() => void>();
  const append = (chunk: Buffer) => {
    text += chunk.toString();
    for (const waiter of waiters) waiter();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const printed = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(text);
        if (match) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(match[0]);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`runtime did not print ${pattern} within ${timeoutMs} ms; it printed:\n${text}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const line = await printed(/runtime listening on (http:\/\/\S+)/);
  const url = line.replace('runtime listening on ', '');
  const port = Number(new URL(url).port);
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return {
    url,
    token,
    dataDir,
    child,
    output: () => text,
    printed,
    kill,
    restart: async (env = {}) => {
      await kill();
      return startRuntimeProcess({ dataDir, port, env });
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
