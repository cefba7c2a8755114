import { spawn, type ChildProcess } from 'node:child_process';
import { testDatabaseEnv } from './kit.js';

export const CHILD_ADMIN_TOKEN = 'child-server-admin-token-0001';

export interface ChildServer {
  child: ChildProcess;
  url: string;
  /** Ends the process at once, as a crash would; resolves when it is gone. */
  kill(): Promise<void>;
}

/**
 * Runs `npm start`'s entry point in its own process on a free port, for crash and soak tests; on
 * the database a test server on `dataDir` would use (test/kit.ts).
 */
export async function startChildServer(dataDir: string, env: Record<string, string> = {}): Promise<ChildServer> {
  const databaseEnv = await testDatabaseEnv(dataDir);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, DATA_DIR: dataDir, PORT: '0', SEED: 'none', LOG_LEVEL: 'silent', ADMIN_TOKEN: CHILD_ADMIN_TOKEN, ...databaseEnv, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    const onExit = () => reject(new Error(`server exited: ${output}`));
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        child.off('exit', onExit);
        resolve({
          child,
          url: match[1],
          kill: () =>
            new Promise((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGKILL');
            }),
        });
      }
    });
    child.once('exit', onExit);
  });
}
