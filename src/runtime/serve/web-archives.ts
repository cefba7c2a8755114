import { Transform, type Readable } from 'node:stream';
import yauzl, { type Entry, type ZipFile } from 'yauzl';

/** A web client's archive, opened once: its central directory by entry name. */
export interface WebArchive {
  sha256: string;
  entries: ReadonlyMap<string, Entry>;
  /** The entry's bytes, or those from `start` to `end` (inclusive) of it. */
  read(entry: Entry, range?: { start: number; end: number }): Promise<Readable>;
}

/** A web client with more entries than this is not served (its central directory stays in memory). */
export const MAX_WEB_ENTRIES = 50_000;

const openZip = (path: string) =>
  new Promise<ZipFile>((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false }, (error, zip) =>
      error || !zip ? reject(error ?? new Error('not a zip')) : resolve(zip),
    ),
  );

const listEntries = (zip: ZipFile) =>
  new Promise<Map<string, Entry>>((resolve, reject) => {
    if (zip.entryCount > MAX_WEB_ENTRIES) return reject(new Error(`a web client holds at most ${MAX_WEB_ENTRIES} files`));
    const entries = new Map<string, Entry>();
    zip.on('entry', (entry: Entry) => {
      // Folders are not files; a name is kept as the archive spells it, with forward slashes.
      if (!entry.fileName.endsWith('/')) entries.set(entry.fileName.replace(/\\/g, '/'), entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', reject);
    zip.readEntry();
  });

/** Drops the first `skip` bytes and passes on `length` of the rest. */
function slice(skip: number, length: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const from = Math.max(0, skip - seen);
      const to = Math.min(chunk.length, skip + length - seen);
      seen += chunk.length;
      done(null, from < to ? chunk.subarray(from, to) : undefined);
    },
  });
}

/**
 * Web clients served straight from their stored archives (R53), without unpacking: each archive's
 * central directory is read once and kept (a few hundred bytes an entry), then every request
 * reads one entry by its offset. Archives are content-addressed, so a cached one never changes;
 * an open file stays readable even after a newer web client's deploy sweeps it from disk, so a
 * request that chose the old version finishes with it.
 */
export class WebArchives {
  private readonly open = new Map<string, Promise<WebArchive>>();

  constructor(private readonly capacity = 32) {}

  get(sha256: string, path: string): Promise<WebArchive> {
    const cached = this.open.get(sha256);
    if (cached) {
      // Most recently used last.
      this.open.delete(sha256);
      this.open.set(sha256, cached);
      return cached;
    }
    const opening = this.load(sha256, path);
    this.open.set(sha256, opening);
    opening.catch(() => this.open.delete(sha256));
    while (this.open.size > this.capacity) {
      const [oldest] = this.open.keys();
      if (oldest === undefined) break;
      const evicted = this.open.get(oldest);
      this.open.delete(oldest);
      // Reads already under way keep their own streams; yauzl closes the file once they end.
      void evicted?.then((archive) => (archive as WebArchive & { close(): void }).close(), () => undefined);
    }
    return opening;
  }

  close(): void {
    for (const archive of this.open.values()) void archive.then((one) => (one as WebArchive & { close(): void }).close(), () => undefined);
    this.open.clear();
  }

  private async load(sha256: string, path: string): Promise<WebArchive> {
    const zip = await openZip(path);
    try {
      const entries = await listEntries(zip);
      const archive: WebArchive & { close(): void } = {
        sha256,
        entries,
        read: (entry, range) =>
          new Promise<Readable>((resolve, reject) =>
            zip.openReadStream(entry, (error, stream) => {
              if (error || !stream) return reject(error ?? new Error('unreadable entry'));
              if (!range) return resolve(stream);
              // A compressed entry is inflated from its start; the bytes before the range are dropped.
              const sliced = slice(range.start, range.end - range.start + 1);
              stream.once('error', (failure) => sliced.destroy(failure));
              sliced.once('close', () => stream.destroy());
              resolve(stream.pipe(sliced));
            }),
          ),
        close: () => zip.close(),
      };
      return archive;
    } catch (error) {
      zip.close();
      throw error;
    }
  }
}
