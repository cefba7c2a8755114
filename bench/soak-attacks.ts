/**
 * Soak of the attack classes of issue 11 against a real server (`npm run soak`; SOAK_SECONDS,
 * default 600). Starts `src/main.ts` in a child process on a free loopback port, loops every
 * attack with bounded requests, samples the server's RSS and /ready latency every few seconds,
 * and at the end says whether memory stayed flat and /ready responsive; exits 1 otherwise.
 * SOAK_SKIP=nodes,Host leaves out the attacks whose names contain those words.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { apk, apkWithManifest, expandingBinaryPlist, ipa, ipaWithPlist, loopingAndroidManifest } from '../test/fixtures.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
/** Attacks whose name contains one of these comma-separated words are left out, to tell which one hurts. */
const SKIP = (process.env.SOAK_SKIP ?? '').split(',').map((word) => word.trim()).filter(Boolean);
const SAMPLE_MS = 2_000;
const READY_TIMEOUT_MS = 2_000;
const ADMIN_TOKEN = 'soak-admin-token-0123456789abcdef';
/** Memory is flat when the last minute's median RSS is within this of the second minute's. */
const FLAT_TOLERANCE = 0.15;
/** /ready is responsive when every probe answered 200 in time and 95% within this. */
const READY_P95_MS = 500;

const dataDir = mkdtempSync(join(tmpdir(), 'shipyard-soak-'));
const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
  env: { ...process.env, NODE_ENV: 'production', DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', SEED: 'none', LOG_LEVEL: 'silent', ADMIN_TOKEN },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let stderrBytes = 0;
child.stderr?.on('data', (chunk: Buffer) => (stderrBytes += chunk.length));
let stdoutBytes = 0;
const url = await new Promise<string>((resolve, reject) => {
  let output = '';
  const onExit = () => reject(new Error(`server exited: ${output}`));
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    const match = /listening on (http:\/\/\S+)/.exec(output);
    if (!match?.[1]) return;
    child.stdout?.off('data', onData).on('data', (more: Buffer) => (stdoutBytes += more.length));
    child.off('exit', onExit);
    resolve(match[1]);
  };
  child.stdout?.on('data', onData);
  child.once('exit', onExit);
});
const graphql = `${url}/graphql`;
const { port } = new URL(url);
console.log(`soak: server ${url} (pid ${child.pid}), ${SECONDS} s`);

// --- helpers -------------------------------------------------------------------------------

const outcomes = new Map<string, Map<string, number>>();
const note = (attack: string, outcome: string | number) => {
  const counts = outcomes.get(attack) ?? new Map<string, number>();
  counts.set(String(outcome), (counts.get(String(outcome)) ?? 0) + 1);
  outcomes.set(attack, counts);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function gql<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}, token = ADMIN_TOKEN): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any -- untyped documents
  const response = await fetch(graphql, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown };
  if (!body.data) throw new Error(`GraphQL failed: ${JSON.stringify(body.errors).slice(0, 300)}`);
  return body.data;
}

const UPLOAD = `mutation ($input: UploadClientBinaryInput!) { uploadClientBinary(input: $input) { binary { id } userErrors { code message } } }`;
async function multipart(platform: string, name: string, content: Buffer, extra: Record<string, unknown> = {}): Promise<string> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: UPLOAD, variables: { input: { appId, platform, ...extra, file: null } } }));
  form.append('map', JSON.stringify({ 0: ['variables.input.file'] }));
  form.append('0', new Blob([new Uint8Array(content)]), name);
  const response = await fetch(graphql, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-graphql-yoga-csrf': '1' },
    body: form,
    signal: AbortSignal.timeout(30_000),
  });
  if (response.status !== 200) return `HTTP ${response.status}`;
  const body = (await response.json()) as { data?: { uploadClientBinary: { binary: unknown; userErrors: { code: string }[] } } };
  const payload = body.data?.uploadClientBinary;
  return payload ? (payload.binary ? 'ok' : (payload.userErrors[0]?.code ?? 'no answer')) : 'error';
}

/** A raw HTTP request, for what fetch will not send (a Host header, a body shorter than declared). */
function raw(options: { method: string; path: string; headers: Record<string, string>; body?: Buffer; hangUpAfterBody?: boolean }) {
  return new Promise<{ status: number; text: string }>((resolve) => {
    const headers = options.body && !options.hangUpAfterBody ? { 'content-length': String(options.body.length), ...options.headers } : options.headers;
    const req = request({ host: '127.0.0.1', port, method: options.method, path: options.path, headers, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text.length < 1_000_000 ? (text += chunk) : undefined));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ status: 0, text: error.message }));
    if (options.body) req.write(options.body);
    if (!options.hangUpAfterBody) req.end();
  });
}

/** Opens a graphql-transport-ws socket; resolves once acknowledged (or closed). */
function socket(token: string | null, init: unknown = token ? { authorization: `Bearer ${token}` } : {}) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { maxPayload: 16 * 1024 * 1024 });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('error', () => undefined);
  const acked = new Promise<boolean>((resolve) => {
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: init })));
    ws.on('message', (data) => {
      if (String(data).includes('"connection_ack"')) resolve(true);
    });
    void closed.then(() => resolve(false));
  });
  return { ws, closed, acked };
}
const closedWithin = (closed: Promise<number>, ms: number) => Promise.race([closed.then(String), sleep(ms).then(() => 'still open')]);

// --- setup ---------------------------------------------------------------------------------

const appId: string = (await gql(`mutation { createApp(input: { name: "Soak" }) { app { id } } }`)).createApp.app.id;
const viewer = await gql(`mutation { createUser(input: { email: "viewer@soak.example", name: "Viewer", role: VIEWER }) { user { id } } }`);
const viewerToken: string = (await gql(`mutation ($id: ID!) { createApiToken(input: { name: "soak", userId: $id }) { token } }`, { id: viewer.createUser.user.id })).createApiToken.token;
const loopingApk = await apkWithManifest(loopingAndroidManifest());
const plistBomb = await ipaWithPlist(expandingBinaryPlist());
let honestVersion = 0;

// --- attacks -------------------------------------------------------------------------------

const attacks: Record<string, { everyMs: number; run: () => Promise<void> }> = {
  'crafted .apk (manifest chunk of size 0)': { everyMs: 500, run: async () => note('crafted .apk (manifest chunk of size 0)', await multipart('ANDROID_PHONE', 'loop.apk', loopingApk)) },
  'crafted .ipa (binary plist bomb)': { everyMs: 500, run: async () => note('crafted .ipa (binary plist bomb)', await multipart('IOS_PHONE', 'bomb.ipa', plistBomb)) },
  'honest upload': {
    everyMs: 3_000,
    run: async () => {
      honestVersion += 1;
      note('honest upload', await multipart('ANDROID_PHONE', 'honest.apk', await apk({ versionName: `${honestVersion}.0` })));
    },
  },
  'nodes(ids:) with 20,000 ids': {
    everyMs: 10_000,
    run: async () => {
      const ids = Array.from({ length: 20_000 }, (_, i) => Buffer.from(`App:${i}`).toString('base64'));
      const response = await raw({
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
        body: Buffer.from(JSON.stringify({ query: 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', variables: { ids } })),
      });
      note('nodes(ids:) with 20,000 ids', `${response.status} ${/"code":"([A-Z_]+)"/.exec(response.text)?.[1] ?? ''}`.trim());
    },
  },
  'WebSocket 4 MiB message before ack': {
    everyMs: 2_000,
    run: async () => {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      ws.on('error', () => undefined);
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      await new Promise((resolve) => ws.once('open', resolve).once('close', resolve));
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(4 * 1024 * 1024) } }));
      note('WebSocket 4 MiB message before ack', await closedWithin(closed, 3_000));
      ws.terminate();
    },
  },
  'WebSocket 4 MiB message after ack': {
    everyMs: 2_000,
    run: async () => {
      const { ws, closed, acked } = socket(ADMIN_TOKEN);
      if (await acked) ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `{ __typename }`, variables: { pad: 'x'.repeat(4 * 1024 * 1024) } } }));
      note('WebSocket 4 MiB message after ack', await closedWithin(closed, 3_000));
      ws.terminate();
    },
  },
  'WebSocket 200 subscriptions on one connection': {
    everyMs: 3_000,
    run: async () => {
      const { ws, closed, acked } = socket(ADMIN_TOKEN);
      let errors = 0;
      ws.on('message', (data) => (String(data).includes('"type":"error"') ? (errors += 1) : undefined));
      if (await acked) for (let i = 0; i < 200; i += 1) ws.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: 'subscription { environmentStatusChanged { status } }' } }));
      const code = await closedWithin(closed, 1_000);
      note('WebSocket 200 subscriptions on one connection', code === 'still open' ? `open, ${errors} refused` : `closed ${code}`);
      ws.terminate();
    },
  },
  'revoked token streams (WebSocket, SSE)': {
    everyMs: 3_000,
    run: async () => {
      const created = await gql(`mutation { createApiToken(input: { name: "soon revoked" }) { token apiToken { id } } }`);
      const token: string = created.createApiToken.token;
      const { ws, closed, acked } = socket(token);
      if (await acked) ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { environmentStatusChanged { status } }' } }));
      const controller = new AbortController();
      const sse = fetch(graphql, {
        method: 'POST',
        headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: 'subscription { environmentStatusChanged { status } }' }),
        signal: controller.signal,
      }).then(async (response) => {
        if (!response.body) return 'no body';
        const reader = response.body.getReader();
        try {
          while (!(await reader.read()).done);
          return 'ended';
        } catch {
          // The server ends a revoked token's stream by closing its connection (R70).
          return 'ended';
        }
      }, () => 'aborted');
      await sleep(200);
      await gql(`mutation ($id: ID!) { revokeApiToken(input: { id: $id }) { userErrors { code } } }`, { id: created.createApiToken.apiToken.id });
      note('revoked token streams (WebSocket, SSE)', `ws ${await closedWithin(closed, 2_000)}`);
      note('revoked token streams (WebSocket, SSE)', `sse ${await Promise.race([sse, sleep(2_000).then(() => 'still open')])}`);
      controller.abort();
      ws.terminate();
    },
  },
  'oversized multipart (declares 70 MiB)': {
    everyMs: 2_000,
    run: async () => {
      const response = await raw({
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'multipart/form-data; boundary=soak', 'content-length': String(70 * 1024 * 1024), authorization: `Bearer ${ADMIN_TOKEN}`, 'x-graphql-yoga-csrf': '1' },
        body: Buffer.alloc(256 * 1024, 120),
        hangUpAfterBody: true,
      });
      note('oversized multipart (declares 70 MiB)', response.status);
    },
  },
  'multipart of 30 MiB (past yoga\'s default, within MAX_MULTIPART_BYTES)': {
    everyMs: 20_000,
    run: async () => note("multipart of 30 MiB (past yoga's default, within MAX_MULTIPART_BYTES)", await multipart('WEB', 'big.zip', Buffer.alloc(30 * 1024 * 1024, 7), { version: '1.0' })),
  },
  'bad Host and Origin headers': {
    everyMs: 1_000,
    run: async () => {
      const page = await raw({ method: 'GET', path: '/graphql', headers: { host: 'evil.example', origin: 'http://evil.example', accept: 'text/html' } });
      note('bad Host and Origin headers', page.text.includes(ADMIN_TOKEN) ? `GraphiQL ${page.status}: token LEAKED` : `GraphiQL ${page.status}`);
      const link = await raw({
        method: 'POST',
        path: '/graphql',
        headers: { host: 'evil.example', 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
        body: Buffer.from(JSON.stringify({ query: `mutation ($app: ID!) { createBinaryUpload(input: { appId: $app, platform: WEB, fileName: "a.zip", sizeBytes: 10 }) { upload { uploadUrl } } }`, variables: { app: appId } })),
      });
      note('bad Host and Origin headers', link.text.includes('evil.example') ? 'link follows Host' : `link ${link.status}`);
    },
  },
  'a string where a file belongs': {
    everyMs: 1_000,
    run: async () => {
      const response = await raw({
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
        body: Buffer.from(JSON.stringify({ query: UPLOAD, variables: { input: { appId, platform: 'WEB', file: 'x.zip' } } })),
      });
      note('a string where a file belongs', `${response.status} ${/"code":"([A-Z_]+)"/.exec(response.text)?.[1] ?? ''}`.trim());
    },
  },
  "a VIEWER completes an ADMIN's upload URL": {
    everyMs: 2_000,
    run: async () => {
      const created = await gql(`mutation ($app: ID!) { createBinaryUpload(input: { appId: $app, platform: WEB, fileName: "a.zip", sizeBytes: 4 }) { upload { uploadUrl } } }`, { app: appId });
      const response = await fetch(created.createBinaryUpload.upload.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${viewerToken}` }, body: new Uint8Array(4), signal: AbortSignal.timeout(15_000) });
      await response.body?.cancel();
      note("a VIEWER completes an ADMIN's upload URL", response.status);
    },
  },
};

// --- sampling and the loops ----------------------------------------------------------------

interface Sample {
  at: number;
  rssMb: number;
  readyMs: number | null;
}
const samples: Sample[] = [];
const started = Date.now();
const rssMb = () => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
};
async function readyLatency(): Promise<number | null> {
  const begun = performance.now();
  try {
    const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(READY_TIMEOUT_MS) });
    await response.body?.cancel();
    return response.status === 200 ? performance.now() - begun : null;
  } catch {
    return null;
  }
}

let stopping = false;
const sampler = (async () => {
  while (!stopping) {
    const readyMs = await readyLatency();
    samples.push({ at: (Date.now() - started) / 1000, rssMb: rssMb(), readyMs });
    const last = samples.at(-1) as Sample;
    if (samples.length % 15 === 1) console.log(`soak: ${last.at.toFixed(0)} s, RSS ${last.rssMb.toFixed(0)} MB, /ready ${last.readyMs === null ? 'FAILED' : `${last.readyMs.toFixed(0)} ms`}`);
    await sleep(SAMPLE_MS);
  }
})();
const chosen = Object.entries(attacks).filter(([name]) => !SKIP.some((word) => name.includes(word)));
if (SKIP.length > 0) console.log(`soak: leaving out ${Object.keys(attacks).filter((name) => !chosen.some(([kept]) => kept === name)).join('; ')}`);
const loops = chosen.map(async ([name, attack]) => {
  while (!stopping) {
    try {
      await attack.run();
    } catch (error) {
      note(name, `client error: ${(error as Error).message.slice(0, 60)}`);
    }
    await sleep(attack.everyMs);
  }
});

await sleep(SECONDS * 1000);
stopping = true;
await Promise.race([Promise.all([sampler, ...loops]), sleep(45_000)]);

// --- verdict -------------------------------------------------------------------------------

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor((sorted.length - 1) / 2)] as number);
};
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number);
};
const end = samples.at(-1)?.at ?? 0;
// The second minute against the last; on a shorter run, the middle third against the last third.
const [early, late] = end >= 180 ? [[60, 120], [end - 60, end + 1]] : [[end / 3, (2 * end) / 3], [(2 * end) / 3, end + 1]];
const rssIn = ([from, to]: number[]) => median(samples.filter((s) => s.at >= (from as number) && s.at < (to as number)).map((s) => s.rssMb));
const earlyRss = rssIn(early as number[]);
const lateRss = rssIn(late as number[]);
const growth = (lateRss - earlyRss) / earlyRss;
// The first seconds are the server warming up (loading and compiling), not an attack's effect.
const WARM_UP_S = 10;
const measured = samples.filter((s) => s.at >= WARM_UP_S);
const answered = measured.flatMap((s) => (s.readyMs === null ? [] : [s.readyMs]));
const failedReady = measured.length - answered.length;
const readyP95 = percentile(answered, 95);

const honest = await multipart('ANDROID_PHONE', 'final.apk', await ipa()).catch(() => 'error');
const finalReady = await readyLatency();
child.kill('SIGTERM');
const exited = await Promise.race([new Promise((resolve) => child.once('exit', () => resolve(true))), sleep(15_000).then(() => false)]);
if (!exited) child.kill('SIGKILL');
rmSync(dataDir, { recursive: true, force: true });

console.log('\nsoak: attack outcomes (count × answer)');
for (const [attack, counts] of outcomes) console.log(`  ${attack}: ${[...counts].map(([outcome, n]) => `${n}× ${outcome}`).join(', ')}`);
const memoryFlat = Number.isFinite(growth) && growth <= FLAT_TOLERANCE;
const readyResponsive = failedReady === 0 && readyP95 <= READY_P95_MS && finalReady !== null;
console.log(`
soak: ${end.toFixed(0)} s, ${samples.length} samples, server wrote ${stdoutBytes} bytes to stdout, ${stderrBytes} to stderr
  RSS median ${earlyRss.toFixed(0)} MB (${(early as number[]).map((s) => s.toFixed(0)).join('-')} s) → ${lateRss.toFixed(0)} MB (${(late as number[]).map((s) => Math.min(s, end).toFixed(0)).join('-')} s): ${(growth * 100).toFixed(1)}% ${memoryFlat ? 'FLAT' : 'GREW'} (limit ${FLAT_TOLERANCE * 100}%), max ${Math.max(...samples.map((s) => s.rssMb)).toFixed(0)} MB
  /ready after ${WARM_UP_S} s: ${answered.length} answered, ${failedReady} failed or slower than ${READY_TIMEOUT_MS} ms; p50 ${percentile(answered, 50).toFixed(0)} ms, p95 ${readyP95.toFixed(0)} ms, max ${Math.max(...answered).toFixed(0)} ms: ${readyResponsive ? 'RESPONSIVE' : 'NOT RESPONSIVE'} (p95 limit ${READY_P95_MS} ms)
  after the soak: a .ipa upload as ANDROID_PHONE answers ${honest} (PLATFORM_MISMATCH expected), SIGTERM ${exited ? 'ended the server' : 'was IGNORED (killed)'}`);
const passed = memoryFlat && readyResponsive && honest === 'PLATFORM_MISMATCH' && exited;
console.log(`soak: ${passed ? 'PASS' : 'FAIL'}`);
process.exit(passed ? 0 : 1);
