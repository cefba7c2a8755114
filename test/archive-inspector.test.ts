import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArchiveInspector } from '../src/domain/binaries/inspector.js';
import { apk, apkWithManifest, expandingBinaryPlist, ipaWithPlist, loopingAndroidManifest } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'shipyard-inspector-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const file = (content: Buffer) => {
  files += 1;
  const path = join(dir, `file-${files}`);
  writeFileSync(path, content);
  return path;
};

describe('the worker pool that reads untrusted files (R68)', () => {
  it('ends a worker whose parse outgrows the memory limit, long before the time limit, and answers with the reason', async () => {
    // A time limit far beyond what the test allows: only the memory limit can end this parse.
    const inspector = new ArchiveInspector({ timeLimitMs: 10 * 60_000, memoryLimitMb: 48, workers: 1 });
    try {
      const inspection = await inspector.inspect(file(await ipaWithPlist(expandingBinaryPlist())));
      expect(inspection).toEqual({ ok: false, reason: 'Reading the file needed more than 48 MB of memory; it is not a valid app binary' });
      // The replacement worker reads the next file.
      expect(await inspector.inspect(file(await apk({ versionName: '2.0' })))).toMatchObject({ ok: true, identity: { version: '2.0' } });
    } finally {
      await inspector.close();
    }
  });

  it('ends a worker whose parse overruns the time limit, and a file queued behind it is still read', async () => {
    const inspector = new ArchiveInspector({ timeLimitMs: 1_000, memoryLimitMb: 64, workers: 1 });
    try {
      const [looping, honest] = await Promise.all([
        inspector.inspect(file(await apkWithManifest(loopingAndroidManifest()))),
        inspector.inspect(file(await apk({ versionName: '3.0' }))),
      ]);
      expect(looping).toEqual({ ok: false, reason: 'Reading the file took longer than 1 s; it is not a valid app binary' });
      expect(honest).toMatchObject({ ok: true, identity: { kind: 'ANDROID', version: '3.0' } });
    } finally {
      await inspector.close();
    }
  });

  it('refuses files once closed, and closing ends a parse that would never end', async () => {
    const inspector = new ArchiveInspector({ timeLimitMs: 10 * 60_000, memoryLimitMb: 64, workers: 1 });
    const underWay = inspector.inspect(file(await apkWithManifest(loopingAndroidManifest())));
    await inspector.close();
    expect(await underWay).toEqual({ ok: false, reason: 'The server is stopping; try again' });
    expect(await inspector.inspect(file(await apk()))).toEqual({ ok: false, reason: 'The server is stopping; try again' });
  });
});
