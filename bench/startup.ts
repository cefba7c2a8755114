import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seed } from './dashboard.js';
import { benchConfig, printFigures, round } from './support.js';
import { createServer } from '../src/server.js';

/** Milliseconds from spawning `node src/main.ts` to its first 200 from /ready. */
async function timeToReady(dataDir: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', SEED: 'none', ADMIN_TOKEN: 'bench-admin-token-0123456789abcdef' },
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on (\S+)/.exec(output);
        if (match?.[1]) resolve(match[1]);
      });
      child.once('exit', () => reject(new Error(output)));
    });
    for (;;) {
      const ready = await fetch(`${url}/ready`).then((r) => r.status === 200, () => false);
      if (ready) return performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    child.kill('SIGKILL');
  }
}

export async function run(): Promise<void> {
  const empty = mkdtempSync(join(tmpdir(), 'shipyard-startup-empty-'));
  const full = mkdtempSync(join(tmpdir(), 'shipyard-startup-full-'));
  try {
    // 50 apps × 8 environments × 25 jobs: 10,000 jobs with 90,000 stages.
    const config = benchConfig({ dataDir: full });
    const server = await createServer(config);
    const principal = await server.domain.accounts.authenticate(config.adminToken ?? '');
    if (!principal) throw new Error('no admin');
    await seed(server.domain, principal, full, 25);
    await server.stop();
    const emptyServer = await createServer(benchConfig({ dataDir: empty }));
    await emptyServer.stop();
    const runs = 3;
    const emptyTimes: number[] = [];
    const fullTimes: number[] = [];
    for (let i = 0; i < runs; i += 1) {
      emptyTimes.push(await timeToReady(empty));
      fullTimes.push(await timeToReady(full));
    }
    const best = (values: number[]) => round(Math.min(...values));
    printFigures('startup', [
      { metric: 'process start → /ready 200 (ms), best of 3', shipyard: `${best(fullTimes)} (10,000 jobs)`, baseline: `${best(emptyTimes)} (empty)`, ratio: round(best(fullTimes) / best(emptyTimes), 2) },
    ]);
  } finally {
    rmSync(empty, { recursive: true, force: true });
    rmSync(full, { recursive: true, force: true });
  }
}
