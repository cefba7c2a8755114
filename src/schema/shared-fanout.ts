import { Repeater } from '@graphql-yoga/subscription';
import { boundedQueue, SubscriberDropped, type DropConnection } from './bounded-queue.js';

interface Sink<T = unknown> {
  offer(value: T): void;
  end(error?: unknown): void;
}

interface SharedExecution<T = unknown> {
  upstream: AsyncIterator<T>;
  sinks: Set<Sink<T>>;
  finished: boolean;
}

const isAsyncIterable = <T>(value: unknown): value is AsyncIterable<T> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

/**
 * A thousand dashboards on one wide subscription ask the same thing: the first subscriber's
 * execution runs once per event and every subscriber with the same key receives its results,
 * each through its own bounded queue (R42).
 */
export class SharedFanout {
  /** Executions shared by subscribers of the same operation, variables and account. */
  private readonly shared = new Map<string, SharedExecution>();
  /** Subscribers attached to shared executions. */
  private sinks = 0;
  /** Results of shared executions turned into JSON: one per event, whatever the subscribers. */
  private serialisations = 0;

  constructor(
    private readonly maxQueuedEvents: number,
    /** Told of each subscriber dropped for falling too far behind. */
    private readonly onDropped: () => void,
  ) {}

  /** Executions running now, each counted once whatever its subscribers. */
  get executions(): number {
    return this.shared.size;
  }

  /** Subscribers attached to the executions. */
  get subscribers(): number {
    return this.sinks;
  }

  get sharedSerialisations(): number {
    return this.serialisations;
  }

  countSerialisation(): void {
    this.serialisations += 1;
  }

  /** A subscriber of the execution under `key`; `start` runs only when no execution is shared yet. */
  async share<T>(key: string, start: () => Promise<AsyncIterable<T> | T>, drop: DropConnection): Promise<AsyncIterable<T> | T> {
    let execution = this.shared.get(key) as SharedExecution<T> | undefined;
    if (!execution || execution.finished) {
      const started = await start();
      if (!isAsyncIterable(started)) return started;
      // Another subscriber may have started the same execution while this one was starting.
      const existing = this.shared.get(key) as SharedExecution<T> | undefined;
      if (existing && !existing.finished) {
        await started[Symbol.asyncIterator]().return?.();
        execution = existing;
      } else {
        execution = { upstream: started[Symbol.asyncIterator](), sinks: new Set(), finished: false };
        this.shared.set(key, execution as SharedExecution);
        void this.pump(key, execution);
      }
    }
    return this.attach(key, execution, drop);
  }

  private attach<T>(key: string, execution: SharedExecution<T>, drop: DropConnection): Repeater<T> {
    return new Repeater<T>(async (push, stop) => {
      let ended = false;
      const queue = boundedQueue(push, this.maxQueuedEvents, () => {
        this.onDropped();
        drop();
        sink.end(new SubscriberDropped());
      });
      const sink: Sink<T> = {
        offer: (value) => {
          if (!ended) queue(value);
        },
        end: (error) => {
          if (ended) return;
          ended = true;
          stop(error);
        },
      };
      execution.sinks.add(sink);
      this.sinks += 1;
      try {
        await stop;
      } finally {
        ended = true;
        this.sinks -= 1;
        execution.sinks.delete(sink);
        if (execution.sinks.size === 0 && !execution.finished) {
          execution.finished = true;
          if (this.shared.get(key) === execution) this.shared.delete(key);
          await execution.upstream.return?.();
        }
      }
    });
  }

  private async pump<T>(key: string, execution: SharedExecution<T>): Promise<void> {
    let failure: unknown;
    try {
      for (;;) {
        const next = await execution.upstream.next();
        if (next.done) break;
        for (const sink of execution.sinks) sink.offer(next.value);
      }
    } catch (error) {
      failure = error;
    } finally {
      execution.finished = true;
      if (this.shared.get(key) === execution) this.shared.delete(key);
      for (const sink of execution.sinks) sink.end(failure);
    }
  }
}
