import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { noUserErrors, startServer } from './kit.js';
import { binary, MANAGEMENT, PUBLISH_NATIVE, publishWorld } from './publish-kit.js';

/** The entries of a tar file, by name. */
async function untar(content: Buffer): Promise<Map<string, Buffer>> {
  const entries = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
      stream.on('end', () => {
        entries.set(header.name, Buffer.concat(chunks));
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  Readable.from([content]).pipe(extract);
  await done;
  return entries;
}

describe('byte work of publishing on worker threads', () => {
  it('hashes and wraps binaries in the server’s worker pool, and the pool ends with the server', async () => {
    const t = await startServer();
    let stopped = false;
    try {
      const w = await publishWorld(t.admin);
      const ids = [await binary(t.admin, w.appId, 'IOS_PHONE', '1.0'), await binary(t.admin, w.appId, 'ANDROID_PHONE', '1.0')];
      const workers = t.server.domain.artifactWorkers;
      expect(workers.completedTasks).toBe(0);
      const { job } = noUserErrors(
        (await t.admin.request(PUBLISH_NATIVE, {
          input: { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', signAction: 'WRAP_AND_SIGN', workflowState: 'DRAFT', binaryIds: ids, sync: true },
        })).publishNativeClient,
      );
      expect(job.state).toBe('SUCCEEDED');
      // WRAP wrote two, each as a task of the pool. (TRANSFER_BINARIES streams each file to the
      // runtime, which verifies its SHA-256 on arrival: no hashing of its own here.)
      expect(workers.completedTasks).toBe(2);
      expect(workers.threads).toBeGreaterThan(0);

      // What a worker wrote is the artifact: its SHA-256 is the one signed, and it holds the
      // manifest and the original binary untouched.
      const { managementApps } = (await t.admin.request(MANAGEMENT, { id: w.environmentId })).node;
      const versions = managementApps.flatMap((app: { versions: unknown[] }) => app.versions) as { artifactSha256: string; wrapped: boolean; binary: { id: string } }[];
      expect(versions).toHaveLength(2);
      for (const version of versions) {
        expect(version.wrapped).toBe(true);
        // The artifact lives in the embedded runtime's own blob store.
        const wrapped = readFileSync(join(t.dataDir, 'runtime', 'blobs', version.artifactSha256.slice(0, 2), version.artifactSha256));
        expect(createHash('sha256').update(wrapped).digest('hex')).toBe(version.artifactSha256);
        const entries = await untar(wrapped);
        const manifest = JSON.parse(String(entries.get('wrapper.json'))) as { originalSha256: string; originalFileName: string };
        const original = entries.get(`app/${manifest.originalFileName}`);
        expect(original && createHash('sha256').update(original).digest('hex')).toBe(manifest.originalSha256);
      }

      await t.stop();
      stopped = true;
      expect(workers.threads).toBe(0);
    } finally {
      if (!stopped) await t.stop();
    }
  });
});
