import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore, type BlobStoreOptions, type StoredTemp } from '../src/domain/binaries/blob-store.js';
import { eventually } from './streams.js';

// Two BlobStores on one BLOB_DIR stand for two instances sharing it (docs/binaries.md, "Shared blobs").
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const HOUR_MS = 60 * 60 * 1000;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function sharedDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shipyard-shared-blobs-'));
  dirs.push(dir);
  return dir;
}

/** A store of one instance: its own DATA_DIR, the shared BLOB_DIR. */
function instance(blobDir: string, options: Omit<BlobStoreOptions, 'blobDir'> = {}): BlobStore {
  return new BlobStore(sharedDir(), { blobDir, ...options });
}

const tempOf = (store: BlobStore, bytes: Buffer): Promise<StoredTemp> => store.writeTemp(Readable.from([bytes]), bytes.length);

const age = (path: string, ms: number) => {
  const then = new Date(Date.now() - ms);
  utimesSync(path, then, then);
};

describe('a BLOB_DIR shared by instances', () => {
  it("starting a second instance keeps the first's upload in flight and removes only a stale temporary file", async () => {
    const blobDir = sharedDir();
    const first = instance(blobDir);
    const stale = first.tempPath();
    writeFileSync(stale, 'left by an instance that died');
    age(stale, 2 * HOUR_MS);

    const body = new PassThrough();
    const writing = first.writeTemp(body, 1024);
    body.write(Buffer.from('first half,'));
    const inFlightNow = () => readdirSync(join(blobDir, '.tmp')).filter((name) => join(blobDir, '.tmp', name) !== stale);
    expect(await eventually(() => inFlightNow().length === 1)).toBe(true);
    const inFlight = inFlightNow();

    instance(blobDir);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(join(blobDir, '.tmp', inFlight[0] as string))).toBe(true);

    body.end(Buffer.from(' second half'));
    const temp = await writing;
    first.commit(temp);
    expect(readFileSync(first.pathOf(temp.sha256), 'utf8')).toBe('first half, second half');
  });

  it('keeps an unreferenced blob committed within the grace period and removes an old one', async () => {
    const blobDir = sharedDir();
    const writer = instance(blobDir);
    const collector = instance(blobDir);
    const fresh = await tempOf(writer, Buffer.from('just committed'));
    const old = await tempOf(writer, Buffer.from('committed long ago'));
    writer.commit(fresh);
    writer.commit(old);
    age(writer.pathOf(old.sha256), 2 * HOUR_MS);

    expect(collector.remove(fresh.sha256)).toBe(false);
    expect(collector.remove(old.sha256)).toBe(true);
    expect(readFileSync(writer.pathOf(fresh.sha256), 'utf8')).toBe('just committed');
    expect(existsSync(writer.pathOf(old.sha256))).toBe(false);
  });

  it('sweeps files no row records only once they are old, sparing recorded ones', async () => {
    const blobDir = sharedDir();
    const store = instance(blobDir);
    const contents = ['unrecorded and fresh', 'unrecorded and old', 'recorded and old'].map((text) => Buffer.from(text));
    const [fresh, old, recorded] = await Promise.all(contents.map((bytes) => tempOf(store, bytes)));
    for (const temp of [fresh, old, recorded]) store.commit(temp as StoredTemp);
    age(store.pathOf(sha256(contents[1] as Buffer)), 2 * HOUR_MS);
    age(store.pathOf(sha256(contents[2] as Buffer)), 2 * HOUR_MS);

    expect(store.walkDue()).toBe(true);
    expect(store.sweepUnrecorded(new Set([sha256(contents[2] as Buffer)]))).toBe(1);
    expect(contents.map((bytes) => existsSync(store.pathOf(sha256(bytes))))).toEqual([true, false, true]);
    expect(store.walkDue()).toBe(false);
  });

  it('a blob found unreferenced survives when another instance commits the same content before the removal', async () => {
    const blobDir = sharedDir();
    const a = instance(blobDir);
    const b = instance(blobDir);
    const bytes = Buffer.from('the same content, uploaded twice');
    a.commit(await tempOf(a, bytes));
    age(a.pathOf(sha256(bytes)), 2 * HOUR_MS);

    // A has found the blob unreferenced; B commits the same content and has not inserted its reference yet.
    const second = await tempOf(b, bytes);
    b.commit(second);
    expect(existsSync(second.path)).toBe(false);
    expect(a.remove(sha256(bytes))).toBe(false);
    expect(readFileSync(b.pathOf(sha256(bytes)))).toEqual(bytes);
  });

  it('a blob found unreferenced survives when another instance commits the same content while it is being removed', async () => {
    const blobDir = sharedDir();
    const b = instance(blobDir);
    const bytes = Buffer.from('content committed during a removal');
    const second = await tempOf(b, bytes);
    let committed = false;
    // Stages the interleaving: A has read the old blob's age and is about to delete; B commits now.
    class Collector extends BlobStore {
      protected override touchedAt(path: string): number {
        const touched = super.touchedAt(path);
        b.commit(second);
        committed = true;
        return touched;
      }
    }
    const a = new Collector(sharedDir(), { blobDir });
    a.commit(await tempOf(a, bytes));
    age(a.pathOf(sha256(bytes)), 2 * HOUR_MS);

    expect(a.remove(sha256(bytes))).toBe(true);
    expect(committed).toBe(true);
    expect(readFileSync(b.pathOf(sha256(bytes)))).toEqual(bytes);
  });

  it('a blob whose removal was cut short (the process died after moving it aside) is put back at start', async () => {
    const blobDir = sharedDir();
    const store = instance(blobDir);
    const bytes = Buffer.from('moved aside, then the process died');
    const temp = await tempOf(store, bytes);
    // What remove() leaves between its rename aside and its end.
    const aside = join(blobDir, '.tmp', `${temp.sha256}.removing.00ff`);
    renameSync(temp.path, aside);
    age(aside, 2 * HOUR_MS);

    instance(blobDir);
    expect(readFileSync(store.pathOf(temp.sha256))).toEqual(bytes);
    expect(existsSync(aside)).toBe(false);
  });

  it('a private blob directory keeps the single-instance behaviour: tmp emptied at start, removal at once', async () => {
    const dataDir = sharedDir();
    const store = new BlobStore(dataDir);
    const leftover = store.tempPath();
    writeFileSync(leftover, 'from the previous run');
    const temp = await tempOf(store, Buffer.from('private'));
    store.commit(temp);
    expect(store.pathOf(temp.sha256)).toBe(join(dataDir, 'blobs', temp.sha256.slice(0, 2), temp.sha256));
    new BlobStore(dataDir);
    expect(existsSync(leftover)).toBe(false);
    expect(store.remove(temp.sha256)).toBe(true);
    expect(existsSync(store.pathOf(temp.sha256))).toBe(false);
  });
});
