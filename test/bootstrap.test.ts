import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startServer, testDatabaseEnv } from './kit.js';
import { startRuntimeResponder } from './runtime-responder.js';

const run = promisify(execFile);

describe('bootstrap (R1, R2)', () => {
  it('creates the default account, its ADMIN and demo data, and writes the token file with mode 0600', async () => {
    const t = await startServer({ seed: 'demo' });
    try {
      const token = t.server.createdAdminToken;
      const file = join(t.dataDir, 'admin-token');
      expect(readFileSync(file, 'utf8').trim()).toBe(token);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const data = await t.admin.request(`{
        viewer { user { role } account { name } }
        apps { nodes { name identityServices { name } } }
        environments { nodes { name url status managementEnabled allowManualPublishOnly
          directoryUsers(first: 100) { nodes { source } } directoryGroups { nodes { name members { username } } } } }
      }`);
      expect(data.viewer).toEqual({ user: { role: 'ADMIN' }, account: { name: 'Default' } });
      expect(data.apps.nodes.some((app: { identityServices: unknown[] }) => app.identityServices.length > 0)).toBe(true);
      const environments = data.environments.nodes;
      expect(environments.some((e: { managementEnabled: boolean }) => e.managementEnabled)).toBe(true);
      expect(environments.some((e: { allowManualPublishOnly: boolean }) => e.allowManualPublishOnly)).toBe(true);
      expect(environments.find((e: { url: string | null }) => e.url !== null)?.status).toBe('UNKNOWN');
      const managed = environments.find((e: { managementEnabled: boolean }) => e.managementEnabled);
      const sources = new Set(managed.directoryUsers.nodes.map((u: { source: string }) => u.source));
      expect([...sources].sort()).toEqual(['ACTIVE_DIRECTORY', 'CLOUD', 'LOCAL', 'SAP']);
      expect(managed.directoryGroups.nodes.length).toBeGreaterThan(0);
      const samples = await t.admin.request('{ apps(search: "RetailBanking") { nodes { clientBinaries { nodes { platform version bundleId } } } } }');
      expect(samples.apps.nodes[0].clientBinaries.nodes).toEqual(
        expect.arrayContaining([
          { platform: 'IOS_PHONE', version: '1.0', bundleId: 'com.example.retailbanking' },
          { platform: 'WINDOWS', version: '1.0.0', bundleId: 'Example.RetailBanking' },
          { platform: 'WEB', version: '1.0', bundleId: null },
        ]),
      );
    } finally {
      await t.stop();
    }
  });

  it('creates only the account and admin with SEED=none', async () => {
    const t = await startServer({ seed: 'none' });
    try {
      const data = await t.admin.request('{ viewer { user { role } } apps { totalCount } environments { totalCount } }');
      expect(data).toEqual({ viewer: { user: { role: 'ADMIN' } }, apps: { totalCount: 0 }, environments: { totalCount: 0 } });
    } finally {
      await t.stop();
    }
  });

  it('uses ADMIN_TOKEN when set', async () => {
    const adminToken = 'operator-chosen-token-0123456789';
    const t = await startServer({ adminToken });
    try {
      expect(t.server.createdAdminToken).toBe(adminToken);
      expect((await t.client(adminToken).request('{ viewer { user { role } } }')).viewer.user.role).toBe('ADMIN');
    } finally {
      await t.stop();
    }
  });

  it('pre-fills GraphiQL with the token on loopback', async () => {
    const t = await startServer();
    try {
      const page = await (await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } })).text();
      expect(page).toContain('Shipyard');
      expect(page).toContain(t.server.createdAdminToken);
    } finally {
      await t.stop();
    }
  });

  it('keeps everything across a restart on the same DATA_DIR, and probes URL environments at start', async () => {
    const runtime = await startRuntimeResponder();
    const dataDir = mkdtempSync(join(tmpdir(), 'shipyard-restart-'));
    try {
      const first = await startServer({ dataDir, seed: 'demo' });
      const token = first.server.createdAdminToken;
      await first.admin.request(`mutation ($url: String, $token: String) { createEnvironment(input: { name: "remote", url: $url, runtimeToken: $token }) { userErrors { code } } }`, {
        url: runtime.url,
        token: runtime.token,
      });
      const before = await first.admin.request('{ apps { nodes { id name } } environments { nodes { id name } } }');
      await first.stop({ keepData: true });

      const second = await startServer({ dataDir, seed: 'demo' });
      try {
        expect(second.server.createdAdminToken).toBeNull();
        const client = second.client(token);
        expect(await client.request('{ apps { nodes { id name } } environments { nodes { id name } } }')).toEqual(before);
        // The start-up probe is under way; poll until it has answered.
        let status = 'UNKNOWN';
        for (let i = 0; i < 50 && status !== 'AVAILABLE'; i += 1) {
          const { environments } = await client.request('{ environments { nodes { name status } } }');
          status = environments.nodes.find((e: { name: string }) => e.name === 'remote').status;
          if (status !== 'AVAILABLE') await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(status).toBe('AVAILABLE');
      } finally {
        await second.stop();
      }
    } finally {
      await runtime.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('npm start (R3, R4)', () => {
  it('prints where it listens, and exits 0 on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shipyard-main-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', ...(await testDatabaseEnv(dataDir)) } });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /listening on (http:\/\/\S+)/.exec(output);
          if (match?.[1]) resolve(match[1]);
        });
        child.once('exit', () => reject(new Error(`exited early: ${output}`)));
      });
      expect(output).toMatch(/admin token \(shown once/);
      expect((await fetch(`${url}/ready`)).status).toBe(200);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a bad configuration value with a message naming it', async () => {
    const failed = await run('npx', ['tsx', 'src/main.ts'], { env: { ...process.env, PORT: 'eighty' } }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed).toMatchObject({ code: 1, stderr: expect.stringContaining('PORT: PORT must be a whole number') });
  });
});

describe('npm run create-account (R6)', () => {
  it('adds an account whose admin token is the last line of the output', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shipyard-cli-'));
    try {
      const { stdout } = await run('npx', ['tsx', 'src/cli/create-account.ts', '--name', 'Acme', '--email', 'ops@acme.example'], {
        env: { ...process.env, DATA_DIR: dataDir, ...(await testDatabaseEnv(dataDir)) },
      });
      const token = stdout.trim().split('\n').at(-1) ?? '';
      const t = await startServer({ dataDir });
      try {
        const data = await t.client(token).request('{ viewer { user { email role } account { name } } }');
        expect(data.viewer).toEqual({ user: { email: 'ops@acme.example', role: 'ADMIN' }, account: { name: 'Acme' } });
      } finally {
        await t.stop({ keepData: true });
      }
      const again = await run('npx', ['tsx', 'src/cli/create-account.ts', '--name', 'Acme', '--email', 'ops@acme.example'], {
        env: { ...process.env, DATA_DIR: dataDir, ...(await testDatabaseEnv(dataDir)) },
      }).catch((error: { code: number; stderr: string }) => error);
      expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('already exists') });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
