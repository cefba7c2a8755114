/**
 * How fast a web client is read straight from its archive (R53): one file of a 2,000-file .war,
 * with the central directory kept per archive (what the runtime does) against opening the
 * archive and reading its central directory for every request. Run:
 * `node --import tsx bench/web-client.ts`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { zipArchive } from '../src/domain/samples.js';
import { WebArchives } from '../src/runtime/serve/web-archives.js';

const FILES = 2000;
const READS = 2000;
const dir = mkdtempSync(join(tmpdir(), 'shipyard-web-bench-'));
const path = join(dir, 'site.war');
const entries: Record<string, string> = { 'index.html': '<!doctype html><title>Bench</title>' };
for (let i = 0; i < FILES; i += 1) entries[`assets/file-${i}.js`] = `console.log(${i});\n`.repeat(50);
writeFileSync(path, await zipArchive(entries));

const drain = async (stream: AsyncIterable<Buffer>) => {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.length;
  return bytes;
};

async function run(label: string, archivesFor: () => WebArchives, reads: number): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < reads; i += 1) {
    const archives = archivesFor();
    const archive = await archives.get('bench', path);
    const entry = archive.entries.get(`assets/file-${i % FILES}.js`);
    if (!entry) throw new Error('missing entry');
    await drain((await archive.read(entry)) as AsyncIterable<Buffer>);
    if (archives !== cached) archives.close();
  }
  const perRead = (performance.now() - started) / reads;
  console.log(`${label}: ${perRead.toFixed(3)} ms a file (${(1000 / perRead).toFixed(0)} files/s)`);
}

const cached = new WebArchives();
await run('central directory kept per archive', () => cached, READS);
await run('archive opened for every file     ', () => new WebArchives(), 200);
cached.close();
rmSync(dir, { recursive: true, force: true });
