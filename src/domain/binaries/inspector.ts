import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import type { Inspection } from './archive.js';

/** R68: what one parse of an untrusted file may take before its worker is ended. */
export interface InspectorLimits {
  /** Wall time from the moment a worker starts on the file. */
  timeLimitMs: number;
  /** The worker's V8 heap (old generation); a parse that needs more ends the worker. */
  memoryLimitMb: number;
  /** Workers at most; they start when first needed and are replaced when ended. */
  workers: number;
}

export const DEFAULT_INSPECTOR_LIMITS: InspectorLimits = {
  timeLimitMs: 5_000,
  memoryLimitMb: 128,
  workers: Math.min(2, availableParallelism()),
};

/**
 * The worker's code: `inspect-worker.ts` and the parsers, bundled into one script the first time a
 * worker is needed. A worker then starts in a fraction of the time it takes to load TypeScript
 * through tsx in each new thread (and runs the same under tsx and vitest). Being immutable code,
 * it is shared by the servers of a process; their pools are not.
 */
let workerCode: Promise<string> | undefined;
const bundledWorker = (): Promise<string> =>
  (workerCode ??= build({
    entryPoints: [fileURLToPath(new URL('./inspect-worker.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  }).then((result) => result.outputFiles[0]?.text ?? ''));

interface Task {
  path: string;
  resolve(inspection: Inspection): void;
  reject(error: Error): void;
}

interface Slot {
  /** Absent while the worker's code is being bundled. */
  worker?: Worker;
  ready: boolean;
  task?: Task & { id: number; timer: NodeJS.Timeout };
}

type WorkerMessage = { ready: true } | { id: number; inspection: Inspection };

/**
 * A small pool of worker threads that read untrusted archives (R68), so that a parser that loops
 * or explodes ends its own thread, never the server's event loop or heap. A worker runs one file
 * at a time; one that overruns the time or memory limit is terminated and a new one starts for the
 * next file. The main thread never parses the files itself.
 */
export class ArchiveInspector {
  private readonly slots = new Set<Slot>();
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly limits: InspectorLimits = DEFAULT_INSPECTOR_LIMITS) {}

  /** Tells what the archive at `path` is; a file past a limit is a refusal with the reason. */
  inspect(path: string): Promise<Inspection> {
    if (this.closed) return Promise.resolve({ ok: false, reason: 'The server is stopping; try again' });
    return new Promise((resolve, reject) => {
      this.queue.push({ path, resolve, reject });
      this.dispatch();
    });
  }

  /** Ends every worker; files still waiting are refused. */
  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.queue.splice(0)) task.resolve({ ok: false, reason: 'The server is stopping; try again' });
    const slots = [...this.slots];
    this.slots.clear();
    for (const slot of slots) {
      if (slot.task) {
        clearTimeout(slot.task.timer);
        slot.task.resolve({ ok: false, reason: 'The server is stopping; try again' });
      }
    }
    await Promise.all(slots.map((slot) => slot.worker?.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0 && !this.closed) {
      const slot = [...this.slots].find((candidate) => candidate.ready && !candidate.task);
      if (!slot) {
        if (this.slots.size < this.limits.workers) this.spawn();
        return;
      }
      this.run(slot, this.queue.shift() as Task);
    }
  }

  private run(slot: Slot, task: Task): void {
    const id = this.nextId++;
    const timer = setTimeout(() => {
      this.finish(slot, { ok: false, reason: `Reading the file took longer than ${this.limits.timeLimitMs / 1000} s; it is not a valid app binary` });
      this.retire(slot);
    }, this.limits.timeLimitMs);
    slot.task = { ...task, id, timer };
    slot.worker?.postMessage({ id, path: task.path });
  }

  /** Answers the slot's file, if it still has one, and frees the slot. */
  private finish(slot: Slot, inspection: Inspection): void {
    const task = slot.task;
    if (!task) return;
    clearTimeout(task.timer);
    slot.task = undefined;
    task.resolve(inspection);
  }

  /** Ends a worker that overran or failed and starts its replacement at once, so the next file need not wait for one. */
  private retire(slot: Slot): void {
    if (!this.slots.delete(slot)) return;
    void slot.worker?.terminate();
    if (!this.closed) this.spawn();
    this.dispatch();
  }

  private spawn(): void {
    const slot: Slot = { ready: false };
    this.slots.add(slot);
    bundledWorker().then(
      (code) => {
        if (this.slots.has(slot)) this.start(slot, code);
      },
      (error: Error) => this.failToStart(slot, error),
    );
  }

  /** The worker could not even start: a fault of this server, not of any file. */
  private failToStart(slot: Slot, error: Error): void {
    this.slots.delete(slot);
    for (const task of this.queue.splice(0)) task.reject(new Error(`The archive reader could not start: ${error.message}`));
  }

  private start(slot: Slot, code: string): void {
    const worker = new Worker(code, {
      eval: true,
      // The bundle is plain JavaScript: no loader from the parent (tsx) is needed in the thread.
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: this.limits.memoryLimitMb, maxYoungGenerationSizeMb: 16 },
    });
    // A worker must never keep a stopping process alive; a waiting file's own promise does.
    worker.unref();
    slot.worker = worker;
    worker.on('message', (message: WorkerMessage) => {
      if ('ready' in message) {
        slot.ready = true;
        this.dispatch();
      } else if (slot.task?.id === message.id) {
        this.finish(slot, message.inspection);
        this.dispatch();
      }
    });
    worker.on('error', (error: Error & { code?: string }) => {
      if (!slot.ready) return this.failToStart(slot, error);
      this.finish(slot, {
        ok: false,
        reason:
          error.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? `Reading the file needed more than ${this.limits.memoryLimitMb} MB of memory; it is not a valid app binary`
            : `The archive could not be read: ${error.message.slice(0, 200)}`,
      });
      this.retire(slot);
    });
    worker.on('exit', () => {
      this.finish(slot, { ok: false, reason: 'The archive could not be read' });
      this.retire(slot);
    });
  }
}
