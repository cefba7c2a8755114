import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gql, printFigures, round, startBenchServer, type Figure } from './support.js';

const exec = promisify(execFile);
const SIZE = 1024 ** 3;

/** curl in a process of its own PUTs the file; answers MiB/s. */
async function put(url: string, file: string, token: string | null): Promise<number> {
  const started = performance.now();
  const { stdout } = await exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-T', file, ...(token ? ['-H', `Authorization: Bearer ${token}`] : []), url]);
  if (!stdout.startsWith('20')) throw new Error(`PUT answered ${stdout}`);
  return SIZE / 1024 ** 2 / ((performance.now() - started) / 1000);
}

export async function run(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'shipyard-upload-bench-'));
  const file = join(scratch, 'big.ipa');
  await exec('sh', ['-c', `head -c ${SIZE} /dev/urandom > ${file}`]);
  const bench = await startBenchServer();
  const plain = createServer((req, res) => {
    pipeline(req, createWriteStream(join(scratch, `plain-${Date.now()}`))).then(
      () => res.writeHead(201).end(),
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  try {
    const { createApp } = await gql(bench.url, bench.token, 'mutation { createApp(input: { name: "Upload" }) { app { id } } }');
    const rounds = 3;
    const shipyard: number[] = [];
    const baseline: number[] = [];
    let peakGrowth = 0;
    for (let i = 0; i < rounds; i += 1) {
      const { createBinaryUpload } = await gql(
        bench.url,
        bench.token,
        `mutation ($app: ID!, $size: SafeInt!) { createBinaryUpload(input: { appId: $app, platform: IOS_PHONE, fileName: "big.ipa", sizeBytes: $size }) { upload { uploadUrl } } }`,
        { app: createApp.app.id, size: SIZE },
      );
      global.gc?.();
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      shipyard.push(await put(createBinaryUpload.upload.uploadUrl, file, bench.token));
      clearInterval(sampler);
      peakGrowth = Math.max(peakGrowth, peak - before);
      baseline.push(await put(`http://127.0.0.1:${(plain.address() as AddressInfo).port}/`, file, null));
    }
    const best = (values: number[]) => Math.max(...values);
    const ratio = round(best(shipyard) / best(baseline), 2);
    const growthMiB = round(peakGrowth / 1024 ** 2);
    const figures: Figure[] = [
      { metric: 'streamed PUT of 1 GiB, MiB/s (best of 3)', shipyard: round(best(shipyard)), baseline: round(best(baseline)), ratio, goal: 'ratio ≥ 0.8', met: ratio >= 0.8 },
      { metric: 'server peak RSS growth during the PUT (MiB)', shipyard: growthMiB, goal: '≤ 64 MiB', met: growthMiB <= 64 },
    ];
    printFigures('upload', figures);
  } finally {
    await new Promise<void>((resolve) => plain.close(() => resolve()));
    await bench.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
