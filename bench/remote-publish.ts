import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { build as buildPlist } from 'plist';
import yazl from 'yazl';
import { gql, printFigures, round, startBenchServer, type BenchServer, type Figure } from './support.js';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_BINARY_MIB ?? 64) * MIB;
const ROUNDS = 5;
const TOKEN = 'bench-runtime-token-0123456789abcdef';

function archive(entries: Record<string, Buffer>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(entries)) zip.addBuffer(content, name, { compress: false });
  zip.end();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/** Four 64 MiB native binaries of one version. */
async function binaries(version: string) {
  const plist = Buffer.from(buildPlist({ CFBundleIdentifier: 'com.example.remote', CFBundleShortVersionString: version }));
  const appx = Buffer.from(`<Package xmlns="x"><Identity Name="Remote" Publisher="CN=B" Version="${version}.0" /></Package>`);
  return [
    { platform: 'IOS_PHONE', name: 'a.ipa', content: await archive({ 'Payload/B.app/Info.plist': plist, 'Payload/B.app/B': randomBytes(SIZE) }) },
    { platform: 'IOS_TABLET', name: 'a.ipa', content: await archive({ 'Payload/B.app/Info.plist': plist, 'Payload/B.app/B': randomBytes(SIZE) }) },
    { platform: 'WINDOWS', name: 'a.appx', content: await archive({ 'AppxManifest.xml': appx, 'B.exe': randomBytes(SIZE) }) },
    { platform: 'ANDROID_PHONE', name: 'a.aab', content: await archive({ 'base/manifest/AndroidManifest.xml': Buffer.from([0x0a]), 'base/dex/classes.dex': randomBytes(SIZE) }) },
  ];
}

/** The streamed upload (createBinaryUpload, PUT, addClientBinary): any size, memory flat. */
async function upload(bench: BenchServer, appId: string, platform: string, version: string, name: string, content: Buffer) {
  const { createBinaryUpload } = await gql(
    bench.url,
    bench.token,
    `mutation ($input: CreateBinaryUploadInput!) { createBinaryUpload(input: $input) { upload { id uploadUrl } userErrors { message } } }`,
    { input: { appId, platform, fileName: name, sizeBytes: content.length } },
  );
  const put = await fetch(createBinaryUpload.upload.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${bench.token}` }, body: new Uint8Array(content) }).catch((error: unknown) => {
    throw new Error(`upload PUT of ${platform} ${content.length} bytes failed: ${JSON.stringify(createBinaryUpload)}`, { cause: error });
  });
  if (put.status !== 201) throw new Error(`upload PUT answered ${put.status}`);
  const { addClientBinary } = await gql(
    bench.url,
    bench.token,
    `mutation ($input: AddClientBinaryInput!) { addClientBinary(input: $input) { binary { id sha256 } userErrors { message } } }`,
    { input: { uploadId: createBinaryUpload.upload.id, version } },
  );
  if (!addClientBinary.binary) throw new Error(JSON.stringify(addClientBinary.userErrors));
  return addClientBinary.binary as { id: string; sha256: string };
}

/** The runtime server in a process of its own, as `npm run runtime` starts it. */
async function startRuntime(dataDir: string): Promise<{ url: string; pid: number; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/runtime.ts'], {
    env: { ...process.env, RUNTIME_PORT: '0', RUNTIME_DATA_DIR: dataDir, RUNTIME_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /runtime listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', () => reject(new Error(`runtime exited: ${output}`)));
  });
  return { url, pid: child.pid ?? 0, stop: () => child.kill('SIGTERM') };
}

const rssOf = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

/** Samples the RSS of both processes while `work` runs; answers the peak growth of each. */
async function peakGrowth(runtimePid: number, work: () => Promise<void>): Promise<{ shipyard: number; runtime: number }> {
  global.gc?.();
  const base = { shipyard: process.memoryUsage().rss, runtime: rssOf(runtimePid) };
  const peak = { ...base };
  const sampler = setInterval(() => {
    peak.shipyard = Math.max(peak.shipyard, process.memoryUsage().rss);
    peak.runtime = Math.max(peak.runtime, rssOf(runtimePid));
  }, 10);
  await work();
  clearInterval(sampler);
  return { shipyard: peak.shipyard - base.shipyard, runtime: peak.runtime - base.runtime };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

export async function run(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'shipyard-remote-bench-'));
  const bench = await startBenchServer({ runtimeStageDeadlineMs: 600_000 });
  // The baseline: the same bytes PUT to a plain node:http server that writes them to a file.
  const plain = createServer((req, res) => {
    const file = join(scratch, `plain-${randomBytes(4).toString('hex')}`);
    pipeline(req, createWriteStream(file)).then(
      () => (rmSync(file), res.writeHead(201).end()),
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  const plainUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
  try {
    const { createApp } = await gql(bench.url, bench.token, 'mutation { createApp(input: { name: "Remote" }) { app { id } } }');
    const appId = createApp.app.id as string;
    const uploaded: { id: string; sha256: string; bytes: number }[] = [];
    for (const file of await binaries('1.0')) uploaded.push({ ...(await upload(bench, appId, file.platform, '1.0', file.name, file.content)), bytes: file.content.length });
    const bytes = uploaded.reduce((sum, file) => sum + file.bytes, 0);
    const paths = uploaded.map((file) => join(bench.dataDir, 'blobs', file.sha256.slice(0, 2), file.sha256));

    const publishRates: number[] = [];
    const putRates: number[] = [];
    const growth = { shipyard: 0, runtime: 0 };
    for (let i = 1; i <= ROUNDS; i += 1) {
      // A fresh runtime each round, so that it holds none of the files and all are sent.
      const runtime = await startRuntime(join(scratch, `runtime-${i}`));
      try {
        const { createEnvironment } = await gql(
          bench.url,
          bench.token,
          `mutation ($name: String!, $url: String!, $token: String!) { createEnvironment(input: { name: $name, url: $url, runtimeToken: $token, managementEnabled: true }) { environment { id } } }`,
          { name: `remote-${i}`, url: runtime.url, token: TOKEN },
        );
        const environmentId = createEnvironment.environment.id as string;
        await gql(bench.url, bench.token, `mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { environment { status } } }`, { id: environmentId });

        // Interleaved: the plain PUT of the same four files, then the publish.
        let started = performance.now();
        for (const path of paths) {
          const response = await fetch(`${plainUrl}/`, { method: 'PUT', body: Readable.toWeb(createReadStream(path, { highWaterMark: MIB })) as ReadableStream, duplex: 'half' } as RequestInit);
          if (response.status !== 201) throw new Error(`plain PUT answered ${response.status}`);
        }
        putRates.push(bytes / MIB / ((performance.now() - started) / 1000));

        let state = '';
        const round_ = await peakGrowth(runtime.pid, async () => {
          started = performance.now();
          const { publishNativeClient } = await gql(
            bench.url,
            bench.token,
            `mutation ($input: PublishNativeClientInput!) { publishNativeClient(input: $input) { job { state error { message } } userErrors { message } } }`,
            { input: { appId, environmentId, option: 'APP_STORE', workflowState: 'DRAFT', binaryIds: uploaded.map((file) => file.id), sync: true } },
          );
          state = publishNativeClient.job?.state ?? JSON.stringify(publishNativeClient.userErrors);
          publishRates.push(bytes / MIB / ((performance.now() - started) / 1000));
        });
        if (state !== 'SUCCEEDED') throw new Error(`publish ended ${state}`);
        growth.shipyard = Math.max(growth.shipyard, round_.shipyard);
        growth.runtime = Math.max(growth.runtime, round_.runtime);
      } finally {
        runtime.stop();
      }
    }
    const ratios = publishRates.map((rate, index) => rate / (putRates[index] ?? 1));
    const ratio = round(median(ratios), 2);
    const figures: Figure[] = [
      {
        metric: `native publish of 4 × ${SIZE / MIB} MiB to a remote runtime on loopback, MiB/s (median of ${ROUNDS}; ratio range ${round(Math.min(...ratios), 2)}-${round(Math.max(...ratios), 2)})`,
        shipyard: round(median(publishRates)),
        baseline: round(median(putRates)),
        ratio,
        goal: 'ratio ≥ 0.8',
        met: ratio >= 0.8,
      },
      { metric: 'Shipyard RSS growth during a publish, MiB (peak)', shipyard: round(growth.shipyard / MIB), goal: '< 64 MiB', met: growth.shipyard < 64 * MIB },
      { metric: 'runtime RSS growth during a publish, MiB (peak)', shipyard: round(growth.runtime / MIB), goal: '< 64 MiB', met: growth.runtime < 64 * MIB },
    ];
    printFigures('remote-publish', figures);
  } finally {
    plain.close();
    await bench.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
