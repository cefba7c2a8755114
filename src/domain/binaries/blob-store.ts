import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, fstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredTemp {
  path: string;
  sha256: string;
  sizeBytes: number;
}

export interface BlobStoreOptions {
  /**
   * BLOB_DIR: a directory other instances may share (docs/binaries.md, "Shared blobs"). Unset, the
   * blobs are DATA_DIR/blobs and the temporary files DATA_DIR/tmp, private to this instance.
   */
  blobDir?: string;
  /** Temporary files untouched this long belong to a dead writer and are removed at start. */
  staleTempMs?: number;
  /** An unreferenced blob touched (written or re-committed) more recently than this is kept. */
  graceMs?: number;
}

const HOUR_MS = 60 * 60 * 1000;
/** Defaults for a shared BLOB_DIR; a private one keeps the single-instance behaviour (0: no waiting). */
export const SHARED_STALE_TEMP_MS = HOUR_MS;
export const SHARED_GRACE_MS = 10 * 60 * 1000;
const UNRECORDED_MIN_AGE_MS = 10 * 60 * 1000;
/** A blob being removed waits in the temporary directory as <sha256>.removing.<random>. */
const ASIDE_MARK = '.removing.';
const ASIDE = /^([0-9a-f]{64})\.removing\.[0-9a-f]+$/;

/** Larger buffers mean fewer, bigger writes: measured in bench/upload.ts. */
const WRITE_BUFFER_BYTES = 1024 * 1024;

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';

/** Raised while streaming when more bytes arrive than allowed; the temporary file is gone. */
export class TooLargeError extends Error {
  override name = 'TooLargeError';
}

/**
 * Content-addressed files (R17): a file is written to a temporary file on the blobs' filesystem
 * while it is hashed, and renamed to <blobs>/<first two hex digits>/<sha256> only when complete and
 * verified. The blob directory may be shared by several instances (docs/binaries.md, "Shared
 * blobs"): temporary files have unique names and only stale ones are removed, and a blob is removed
 * only when its file has not been touched for `graceMs`, checked after it was moved aside.
 */
export class BlobStore {
  private readonly tempDir: string;
  private readonly blobDir: string;
  private readonly graceMs: number;
  private lastWalk = 0;

  constructor(dataDir: string, options: BlobStoreOptions = {}) {
    const shared = options.blobDir !== undefined;
    this.blobDir = options.blobDir ?? join(dataDir, 'blobs');
    // Inside a shared BLOB_DIR so that the final rename never crosses filesystems.
    this.tempDir = options.blobDir !== undefined ? join(options.blobDir, '.tmp') : join(dataDir, 'tmp');
    this.graceMs = options.graceMs ?? (shared ? SHARED_GRACE_MS : 0);
    mkdirSync(this.tempDir, { recursive: true });
    mkdirSync(this.blobDir, { recursive: true });
    // What is left in tmp belongs to an upload nobody finished; in a shared directory a fresh file
    // may be another instance's upload in flight, so only files untouched for a while go.
    this.removeStaleTemps(options.staleTempMs ?? (shared ? SHARED_STALE_TEMP_MS : 0));
  }

  pathOf(sha256: string): string {
    return join(this.blobDir, sha256.slice(0, 2), sha256);
  }

  /**
   * Streams `source` to a temporary file while hashing it; memory stays flat whatever the size.
   * More than `maxBytes` rejects with TooLargeError; any failure removes the temporary file.
   */
  async writeTemp(source: Readable | AsyncIterable<Uint8Array>, maxBytes: number, onProgress?: (bytes: number) => void): Promise<StoredTemp> {
    const path = this.tempPath();
    const hash = createHash('sha256');
    let sizeBytes = 0;
    const meter = new Transform({
      highWaterMark: WRITE_BUFFER_BYTES,
      transform(chunk: Buffer, _encoding, callback) {
        sizeBytes += chunk.length;
        if (sizeBytes > maxBytes) return callback(new TooLargeError(`more than ${maxBytes} bytes`));
        hash.update(chunk);
        onProgress?.(sizeBytes);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: WRITE_BUFFER_BYTES }));
    } catch (error) {
      await rm(path, { force: true });
      throw error;
    }
    return { path, sha256: hash.digest('hex'), sizeBytes };
  }

  /** A new, unique file name in the temporary directory, for content written elsewhere (a worker thread). */
  tempPath(): string {
    return join(this.tempDir, randomBytes(16).toString('hex'));
  }

  /**
   * Moves a verified temporary file into place; identical content is stored once. Committing onto
   * an existing blob touches it, which is what keeps it from garbage collection until the caller
   * has recorded its reference; a blob removed meanwhile is replaced by this file.
   */
  commit(temp: StoredTemp): void {
    const target = this.pathOf(temp.sha256);
    try {
      // Touching first is the existence check: a blob removed between a check and the touch would
      // otherwise count as stored.
      const now = new Date();
      utimesSync(target, now, now);
      if (statSync(target).size === temp.sizeBytes) {
        rmSync(temp.path, { force: true });
        return;
      }
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    mkdirSync(join(this.blobDir, temp.sha256.slice(0, 2)), { recursive: true });
    renameSync(temp.path, target);
  }

  discard(temp: StoredTemp): Promise<void> {
    return rm(temp.path, { force: true });
  }

  /**
   * Removes the file of a blob found unreferenced, unless it was touched within the grace period;
   * answers whether it is gone. The order matters with a shared directory: the file is first
   * renamed aside (atomic), and only then is its age read, from the moved file itself. A commit
   * that touched the blob did so before the rename, so the age read afterwards sees it and the
   * file is put back; a commit after the rename finds no blob and renames its own file into place,
   * which this never touches. Either way a committer's file survives until its reference is in.
   */
  remove(sha256: string, graceMs = this.graceMs): boolean {
    const target = this.pathOf(sha256);
    const aside = join(this.tempDir, `${sha256}${ASIDE_MARK}${randomBytes(8).toString('hex')}`);
    try {
      renameSync(target, aside);
    } catch (error) {
      if (isMissing(error)) return true;
      throw error;
    }
    let touchedAt: number;
    try {
      touchedAt = this.touchedAt(aside);
    } catch (error) {
      // An instance starting just now put it back (removeStaleTemps): it stays.
      if (isMissing(error)) return false;
      throw error;
    }
    if (Date.now() - touchedAt < graceMs) {
      this.putBack(aside, sha256);
      return false;
    }
    rmSync(aside, { force: true });
    return true;
  }

  /** Whether `sweepUnrecorded` is due: at the first sweep, then once per the age it looks for. */
  walkDue(now = Date.now()): boolean {
    return this.lastWalk === 0 || now - this.lastWalk >= this.unrecordedAgeMs();
  }

  /**
   * Removes blob files that no database row records (`known` holds the recorded hashes), such as
   * one whose removal the grace period put off, or one a crash left between its commit and its row.
   * Only files untouched for the grace period, and for at least ten minutes even in a private
   * directory (a commit whose row is still being written is younger), go; answers how many went.
   */
  sweepUnrecorded(known: ReadonlySet<string>): number {
    const now = Date.now();
    const ageMs = this.unrecordedAgeMs();
    this.lastWalk = now;
    let removed = 0;
    for (const prefix of readdirSync(this.blobDir, { withFileTypes: true })) {
      if (!prefix.isDirectory() || !/^[0-9a-f]{2}$/.test(prefix.name)) continue;
      for (const name of readdirSync(join(this.blobDir, prefix.name))) {
        if (!/^[0-9a-f]{64}$/.test(name) || known.has(name)) continue;
        try {
          if (now - statSync(this.pathOf(name)).mtimeMs < ageMs) continue;
        } catch (error) {
          if (isMissing(error)) continue;
          throw error;
        }
        if (this.remove(name, ageMs)) removed += 1;
      }
    }
    return removed;
  }

  private unrecordedAgeMs(): number {
    return Math.max(this.graceMs, UNRECORDED_MIN_AGE_MS);
  }

  /**
   * Identical content: replacing a copy another commit has just put there is harmless. A file
   * already gone was put back or finished by someone else (its remover, or an instance starting).
   */
  private putBack(aside: string, sha256: string): void {
    mkdirSync(join(this.blobDir, sha256.slice(0, 2)), { recursive: true });
    try {
      renameSync(aside, this.pathOf(sha256));
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  /** The modification time of a file, read through an open descriptor so that an NFS client revalidates it. */
  protected touchedAt(path: string): number {
    const fd = openSync(path, 'r');
    try {
      return fstatSync(fd).mtimeMs;
    } finally {
      closeSync(fd);
    }
  }

  private removeStaleTemps(staleMs: number): void {
    const now = Date.now();
    for (const name of readdirSync(this.tempDir)) {
      const path = join(this.tempDir, name);
      const aside = ASIDE.exec(name);
      if (aside?.[1]) {
        // A removal cut short between the rename aside and its end: the blob may be one a commit
        // had just touched, so it goes back; if nothing records it, the sweep of unrecorded files
        // removes it once it is old.
        this.putBack(path, aside[1]);
        continue;
      }
      try {
        const stat = statSync(path);
        if (staleMs === 0 || now - stat.mtimeMs >= staleMs) rmSync(path, { recursive: true, force: true });
      } catch (error) {
        // Its writer finished or removed it meanwhile.
        if (!isMissing(error)) throw error;
      }
    }
  }
}
