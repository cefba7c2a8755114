import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredTemp {
  path: string;
  sha256: string;
  sizeBytes: number;
}

/** Larger buffers mean fewer, bigger writes: measured in bench/upload.ts. */
const WRITE_BUFFER_BYTES = 1024 * 1024;

/** Raised while streaming when more bytes arrive than allowed; the temporary file is gone. */
export class TooLargeError extends Error {
  override name = 'TooLargeError';
}

/**
 * Content-addressed files (R17): a file is written to DATA_DIR/tmp while it is hashed, and renamed
 * to DATA_DIR/blobs/<first two hex digits>/<sha256> only when complete and verified.
 */
export class BlobStore {
  private readonly tempDir: string;
  private readonly blobDir: string;

  constructor(dataDir: string) {
    this.tempDir = join(dataDir, 'tmp');
    this.blobDir = join(dataDir, 'blobs');
    // Whatever is in tmp belongs to an upload that a previous process never finished.
    rmSync(this.tempDir, { recursive: true, force: true });
    mkdirSync(this.tempDir, { recursive: true });
    mkdirSync(this.blobDir, { recursive: true });
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

  /** A new file name in the temporary directory, for content written elsewhere (a worker thread). */
  tempPath(): string {
    return join(this.tempDir, randomBytes(16).toString('hex'));
  }

  /** Moves a verified temporary file into place; identical content is stored once. */
  commit(temp: StoredTemp): void {
    const target = this.pathOf(temp.sha256);
    if (existsSync(target) && statSync(target).size === temp.sizeBytes) {
      rmSync(temp.path, { force: true });
      return;
    }
    mkdirSync(join(this.blobDir, temp.sha256.slice(0, 2)), { recursive: true });
    renameSync(temp.path, target);
  }

  discard(temp: StoredTemp): Promise<void> {
    return rm(temp.path, { force: true });
  }

  remove(sha256: string): void {
    rmSync(this.pathOf(sha256), { force: true });
  }
}
