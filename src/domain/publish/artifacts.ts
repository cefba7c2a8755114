import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import type { BlobStore, StoredTemp } from '../binaries/blob-store.js';

export interface HashedFile {
  sha256: string;
  sizeBytes: number;
}

/** What a worker thread of ArtifactWorkers is asked to do (artifact-worker.ts). */
export interface ArtifactTask {
  originalPath: string;
  manifestJson: string;
  originalFileName: string;
  target: string;
}

export interface WrapperManifest {
  wrapper: 'shipyard';
  version: 1;
  app: string;
  platform: string;
  appVersion: string;
  originalFileName: string;
  originalSha256: string;
  wrappedAt: string;
}

/**
 * Worker threads load TypeScript through tsx, as the server itself does (npm start, vitest).
 * Only that: the process's own flags (--expose-gc, say) are not all allowed in a worker.
 */
const WORKER = new URL('./artifact-worker.ts', import.meta.url).href;
const WORKER_EXEC_ARGV = ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];

/**
 * The byte work of publishing (wrapping binaries) on a pool of worker threads, one
 * pool per server: the event loop only hands out tasks and awaits their answers, and no more
 * files are read at once than there are threads; further tasks wait in the pool's queue.
 */
export class ArtifactWorkers {
  private readonly pool: Piscina<ArtifactTask, HashedFile>;

  constructor(threads = Math.max(1, Math.min(4, availableParallelism()))) {
    this.pool = new Piscina({
      filename: WORKER,
      // Threads start on the first publish, not with every server, and end when idle.
      minThreads: 0,
      maxThreads: threads,
      idleTimeout: 30_000,
      execArgv: WORKER_EXEC_ARGV,
    });
  }

  /**
   * WRAP_AND_SIGN (R29): a new artifact holding the wrapper manifest and the original binary
   * untouched, as a tar file in the blob store's temporary directory. Tar rather than ZIP: ZIP
   * needs a CRC-32 of every byte, computed in JavaScript by the ZIP writers.
   */
  async wrapArtifact(store: BlobStore, originalPath: string, manifest: WrapperManifest, signal: AbortSignal): Promise<StoredTemp> {
    const target = store.tempPath();
    try {
      const { sha256, sizeBytes } = await this.run(
        { originalPath, manifestJson: JSON.stringify(manifest, null, 2), originalFileName: manifest.originalFileName, target },
        signal,
      );
      return { path: target, sha256, sizeBytes };
    } catch (error) {
      // A canceled task's thread is ended mid-write; its file is left to remove here.
      await rm(target, { force: true });
      throw error;
    }
  }

  /** A canceled or stopped job's task ends with the job's own reason, as the stage's work would. */
  private async run(task: ArtifactTask, signal: AbortSignal): Promise<HashedFile> {
    try {
      return await this.pool.run(task, { signal });
    } catch (error) {
      throw signal.aborted ? signal.reason : error;
    }
  }

  /** Tasks the threads have finished, and threads running now: what tests look at. */
  get completedTasks(): number {
    return this.pool.completed;
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
