import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { build as buildPlist } from 'plist';
import yazl from 'yazl';
import { gql, percentile, printFigures, round, startBenchServer, type BenchServer } from './support.js';

const MIB = 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

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

/** Four 1 MiB binaries (two iOS, Windows, web is not native: iOS phone, iOS tablet, Windows, Android .aab). */
async function binaries(version: string) {
  const payload = randomBytes(MIB);
  const plist = Buffer.from(buildPlist({ CFBundleIdentifier: 'com.example.bench', CFBundleShortVersionString: version }));
  const appx = Buffer.from(`<Package xmlns="x"><Identity Name="Bench" Publisher="CN=B" Version="${version}.0" /></Package>`);
  return [
    { platform: 'IOS_PHONE', name: 'a.ipa', content: await archive({ 'Payload/B.app/Info.plist': plist, 'Payload/B.app/B': payload }) },
    { platform: 'IOS_TABLET', name: 'a.ipa', content: await archive({ 'Payload/B.app/Info.plist': plist, 'Payload/B.app/B': payload }) },
    { platform: 'WINDOWS', name: 'a.appx', content: await archive({ 'AppxManifest.xml': appx, 'B.exe': payload }) },
    { platform: 'ANDROID_PHONE', name: 'a.aab', content: await archive({ 'base/manifest/AndroidManifest.xml': Buffer.from([0x0a]), 'base/dex/classes.dex': payload }) },
  ];
}

async function upload(bench: BenchServer, appId: string, platform: string, version: string, name: string, content: Buffer): Promise<string> {
  const form = new FormData();
  const query = `mutation ($input: UploadClientBinaryInput!) { uploadClientBinary(input: $input) { binary { id } userErrors { message } } }`;
  form.append('operations', JSON.stringify({ query, variables: { input: { appId, platform, version, file: null } } }));
  form.append('map', JSON.stringify({ 0: ['variables.input.file'] }));
  form.append('0', new Blob([new Uint8Array(content)]), name);
  const response = await fetch(`${bench.url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${bench.token}`, 'x-graphql-yoga-csrf': '1' }, body: form });
  const body = (await response.json()) as { data: { uploadClientBinary: { binary: { id: string } | null; userErrors: unknown[] } } };
  if (!body.data.uploadClientBinary.binary) throw new Error(JSON.stringify(body.data.uploadClientBinary.userErrors));
  return body.data.uploadClientBinary.binary.id;
}

/**
 * A process doing nothing but measure its own event-loop delay: what the machine alone (other
 * processes, the scheduler) adds to the server's figure while the publishes run.
 */
async function idleLoop(): Promise<{ stop(): Promise<{ p99: number; max: number }> }> {
  const script = `const h = require('node:perf_hooks').monitorEventLoopDelay({ resolution: 5 }); h.enable(); console.log('ready');
    process.stdin.on('data', () => { h.disable(); console.log(JSON.stringify({ p99: h.percentile(99) / 1e6, max: h.max / 1e6 })); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  await lines.next();
  return {
    stop: async () => {
      child.stdin.write('stop\n');
      return JSON.parse(String((await lines.next()).value)) as { p99: number; max: number };
    },
  };
}

const PUBLISH = `mutation ($input: PublishNativeClientInput!) { publishNativeClient(input: $input) { job { state error { code message stage } } userErrors { message } } }`;

export async function run(): Promise<void> {
  const bench = await startBenchServer({}, { maxConcurrentJobs: 20 });
  try {
    const { createApp } = await gql(bench.url, bench.token, 'mutation { createApp(input: { name: "Pipeline" }) { app { id } } }');
    const appId = createApp.app.id;
    const environment = async (name: string) =>
      (await gql(bench.url, bench.token, `mutation ($name: String!) { createEnvironment(input: { name: $name, managementEnabled: true }) { environment { id } } }`, { name })).createEnvironment.environment.id as string;

    // Sync native publish of four 1 MiB binaries, wrapped and signed, ten times.
    const env = await environment('pipeline');
    const durations: number[] = [];
    for (let round_ = 1; round_ <= 10; round_ += 1) {
      const version = `${round_}.0`;
      const ids = [];
      for (const file of await binaries(version)) ids.push(await upload(bench, appId, file.platform, version, file.name, file.content));
      const started = performance.now();
      const answer = await gql(bench.url, bench.token, PUBLISH, {
        input: { appId, environmentId: env, option: 'APP_STORE', signAction: 'WRAP_AND_SIGN', workflowState: 'DRAFT', binaryIds: ids, sync: true },
      });
      durations.push(performance.now() - started);
      if (answer.publishNativeClient.job?.state !== 'SUCCEEDED') throw new Error(JSON.stringify(answer));
    }

    // Twenty environments publishing the same four binaries at once, in several rounds.
    const latest = await gql(
      bench.url,
      bench.token,
      `query ($id: ID!) { node(id: $id) { ... on App {
        a: clientBinaries(platform: IOS_PHONE, first: 1) { nodes { id } } b: clientBinaries(platform: IOS_TABLET, first: 1) { nodes { id } }
        c: clientBinaries(platform: WINDOWS, first: 1) { nodes { id } } d: clientBinaries(platform: ANDROID_PHONE, first: 1) { nodes { id } } } } }`,
      { id: appId },
    );
    const ids = ['a', 'b', 'c', 'd'].map((key) => latest.node[key].nodes[0].id as string);
    const rounds: { jobsPerSecond: number; p99: number; max: number; idleP99: number; idleMax: number }[] = [];
    for (let r = 0; r < ROUNDS; r += 1) {
      const environments = await Promise.all(Array.from({ length: 20 }, (_, i) => environment(`parallel-${r}-${i}`)));
      const idle = await idleLoop();
      const delay = monitorEventLoopDelay({ resolution: 5 });
      delay.enable();
      const started = performance.now();
      const answers = await Promise.all(
        environments.map((environmentId) =>
          gql(bench.url, bench.token, PUBLISH, { input: { appId, environmentId, option: 'APP_STORE', signAction: 'WRAP_AND_SIGN', workflowState: 'DRAFT', binaryIds: ids, sync: true } }),
        ),
      );
      const states = answers.map((answer) => (answer.publishNativeClient.job?.state === 'SUCCEEDED' ? 'SUCCEEDED' : JSON.stringify(answer.publishNativeClient)));
      if (states.some((state) => state !== 'SUCCEEDED')) throw new Error(`parallel publishes: ${states.join(', ')}`);
      const seconds = (performance.now() - started) / 1000;
      delay.disable();
      const control = await idle.stop();
      rounds.push({ jobsPerSecond: 20 / seconds, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6, idleP99: control.p99, idleMax: control.max });
    }
    const summary = (values: number[], digits = 1) => `${round(percentile(values, 50), digits)} (${round(Math.min(...values), digits)}–${round(Math.max(...values), digits)})`;
    const loopP99 = percentile(rounds.map((r) => r.p99), 50);
    printFigures(`pipeline (20 environments at once: median (min–max) of ${ROUNDS} rounds)`, [
      { metric: 'sync native publish, 4 × 1 MiB binaries, WRAP_AND_SIGN: median (ms)', shipyard: round(percentile(durations, 50)) },
      { metric: 'same, slowest of 10 (ms)', shipyard: round(Math.max(...durations)) },
      { metric: '20 environments at once: jobs/s', shipyard: summary(rounds.map((r) => r.jobsPerSecond), 2) },
      { metric: 'event-loop delay p99 while they run (ms)', shipyard: summary(rounds.map((r) => r.p99)), goal: '≤ 50 ms', met: loopP99 <= 50 },
      { metric: 'event-loop delay max while they run (ms)', shipyard: summary(rounds.map((r) => r.max)) },
      { metric: 'control: event-loop delay p99 of an idle process at the same time (ms)', shipyard: summary(rounds.map((r) => r.idleP99)) },
      { metric: 'control: event-loop delay max of an idle process at the same time (ms)', shipyard: summary(rounds.map((r) => r.idleMax)) },
    ]);
  } finally {
    await bench.stop();
  }
}
