import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../src/config.js';
import type { Principal } from '../src/domain/principal.js';
import { createServer, type ServerHandle, type ServerOptions } from '../src/server.js';

export interface BenchServer {
  server: ServerHandle;
  url: string;
  token: string;
  principal: Principal;
  dataDir: string;
  stop(): Promise<void>;
}

export function benchConfig(overrides: Partial<Config> = {}): Config {
  return {
    port: 0,
    host: '127.0.0.1',
    dataDir: mkdtempSync(join(tmpdir(), 'shipyard-bench-')),
    adminToken: 'bench-admin-token-0123456789abcdef',
    databaseUrl: undefined,
    redisUrl: undefined,
    redisPrefix: 'shipyard-bench:',
    seed: 'none',
    publishStageDelayMs: 0,
    graphiqlPrefill: false,
    metricsToken: undefined,
    runtimeStageDeadlineMs: 30_000,
    runtimeUrlAllow: [],
    maxUploadBytes: 4 * 1024 ** 3,
    maxMultipartBytes: 64 * 1024 ** 2,
    uploadQuotaBytes: 16 * 1024 ** 3,
    publicUrl: undefined,
    corsOrigins: [],
    logLevel: 'silent',
    ...overrides,
  };
}

export async function startBenchServer(overrides: Partial<Config> = {}, options: ServerOptions = {}): Promise<BenchServer> {
  const config = benchConfig(overrides);
  const server = await createServer(config, options);
  const url = await server.start();
  const token = config.adminToken ?? '';
  const principal = await server.domain.accounts.authenticate(token);
  if (!principal) throw new Error('bench admin token does not work');
  return {
    server,
    url,
    token,
    principal,
    dataDir: config.dataDir,
    stop: async () => {
      await server.stop();
      rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}

export async function gql<T = Record<string, any>>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any -- untyped bench documents
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data as T;
}

export const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

export const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;

export interface Figure {
  metric: string;
  shipyard: number | string;
  baseline?: number | string;
  ratio?: number;
  goal?: string;
  met?: boolean;
}

export function printFigures(scenario: string, figures: Figure[]): void {
  console.log(`\n### ${scenario}\n`);
  console.log('| metric | Shipyard | baseline | ratio | goal | met |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const f of figures) {
    console.log(`| ${f.metric} | ${f.shipyard} | ${f.baseline ?? ''} | ${f.ratio ?? ''} | ${f.goal ?? ''} | ${f.met === undefined ? '' : f.met ? 'yes' : 'no'} |`);
  }
}
