import { setMaxListeners } from 'node:events';
import { GraphQLError } from 'graphql';
import { createPubSub, Repeater, type PubSub, type PubSubEventTarget } from '@graphql-yoga/subscription';
import type { EnvironmentStatusChanged, PublishJobUpdated } from '../domain/events.js';
import type { Domain } from '../domain/index.js';
import { isFinal, type JobSnapshot } from '../domain/publish/jobs.js';

type MaybePromise<T> = T | Promise<T>;

/** Topics by account: a subscriber only ever listens to its own account (R40). */
export type Topics = {
  publishJob: [accountId: number, event: PublishJobUpdated];
  environmentStatus: [accountId: number, event: EnvironmentStatusChanged];
};

export interface RealtimeOptions {
  /**
   * Events one subscriber may have waiting before it counts as stalled and is dropped (R42).
   * Must stay under Repeater's own limit of 1024 pending pushes.
   */
  maxQueuedEvents: number;
  /**
   * Where events travel. In-process by default; a multi-instance deployment passes
   * `createRedisEventTarget(...)` from @graphql-yoga/redis-event-target here, and nothing
   * else changes (payloads then travel as JSON).
   */
  eventTarget?: PubSubEventTarget<Topics>;
}

/** Node warns past ten listeners on one EventTarget; a thousand dashboards on one topic are normal. */
function unlimitedEventTarget(): PubSubEventTarget<Topics> {
  const target = new EventTarget();
  setMaxListeners(0, target);
  return target as PubSubEventTarget<Topics>;
}

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

/** Called when a subscriber's queue overflows: the transport drops that connection. */
export type DropConnection = () => void;

/** How a dropped subscriber's stream ends: a plain GraphQL error, not an unexpected one. */
export class SubscriberDropped extends GraphQLError {
  constructor() {
    super('The subscriber fell too far behind and was dropped', { extensions: { code: 'SUBSCRIBER_TOO_SLOW' } });
  }
}

/**
 * Turns the domain's events into subscription streams: one pubsub for the server, and for
 * each subscriber a bounded queue that drops a stalled connection instead of growing (R42).
 */
export class Realtime {
  readonly pubsub: PubSub<Topics>;
  /** Subscription streams open now; closed connections bring it back down (R42). */
  private open = 0;
  /** Subscribers dropped for falling too far behind. */
  private dropped = 0;
  /** Subscribers attached to shared executions. */
  private sinks = 0;
  /** Results of shared executions turned into JSON: one per event, whatever the subscribers. */
  private serialisations = 0;
  private readonly unsubscribe: () => void;
  /** Executions shared by subscribers of the same operation, variables and account. */
  private readonly shared = new Map<string, SharedExecution>();

  constructor(
    private readonly domain: Domain,
    private readonly options: RealtimeOptions,
  ) {
    this.pubsub = createPubSub<Topics>({ eventTarget: options.eventTarget ?? unlimitedEventTarget() });
    this.unsubscribe = domain.events.subscribe((event) => {
      if (event.type === 'publishJobUpdated') this.pubsub.publish('publishJob', event.accountId, event);
      else if (event.type === 'environmentStatusChanged') this.pubsub.publish('environmentStatus', event.accountId, event);
    });
  }

  get openStreams(): number {
    return this.open;
  }

  /** Subscribers open now: own streams, and the subscribers of shared executions (not their upstreams). */
  get openSubscriptions(): number {
    return Math.max(0, this.open - this.shared.size + this.sinks);
  }

  get droppedSubscribers(): number {
    return this.dropped;
  }

  get sharedSerialisations(): number {
    return this.serialisations;
  }

  countSerialisation(): void {
    this.serialisations += 1;
  }

  close(): void {
    this.unsubscribe();
  }

  /**
   * A thousand dashboards on one wide subscription ask the same thing: the first subscriber's
   * execution runs once per event and every subscriber with the same key receives its results,
   * each through its own bounded queue (R42). `start` runs only when no execution is shared yet.
   */
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
      let waiting = 0;
      let ended = false;
      const sink: Sink<T> = {
        offer: (value) => {
          if (ended) return;
          waiting += 1;
          if (waiting > this.options.maxQueuedEvents) {
            this.dropped += 1;
            drop();
            sink.end(new SubscriberDropped());
            return;
          }
          void push(value).then(() => (waiting -= 1), () => undefined);
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

  /** R41: the job as it stands, then each change once and in order, then the end after a final state. */
  jobStream(accountId: number, jobId: number, drop: DropConnection): Repeater<JobSnapshot> {
    return this.stream('publishJob', accountId, drop, async (events, emit, end) => {
      // Listening starts before the job is read, so no change falls between the two; the
      // revision tells a change already in the reading from a new one.
      const first = events.next();
      const snapshot = await this.domain.jobs.snapshot(jobId);
      let seen = -1;
      const offer = (next: JobSnapshot) => {
        if (next.job.revision <= seen) return;
        seen = next.job.revision;
        emit(next);
        if (isFinal(next.job.state)) end();
      };
      if (snapshot) offer(snapshot);
      return { first, accept: (event) => (event.job.id === jobId ? offer(event) : undefined) };
    });
  }

  /** Every change of any job of the account that passes the filter. */
  jobsStream(accountId: number, filter: (event: PublishJobUpdated) => boolean, drop: DropConnection): Repeater<JobSnapshot> {
    return this.stream('publishJob', accountId, drop, (events, emit) => ({
      first: events.next(),
      accept: (event) => (filter(event) ? emit(event) : undefined),
    }));
  }

  environmentStream(accountId: number, filter: (event: EnvironmentStatusChanged) => boolean, drop: DropConnection): Repeater<EnvironmentStatusChanged> {
    return this.stream('environmentStatus', accountId, drop, (events, emit) => ({
      first: events.next(),
      accept: (event) => (filter(event) ? emit(event) : undefined),
    }));
  }

  /**
   * A subscriber's stream: events of one topic pass `accept`, which may `emit` them. More than
   * `maxQueuedEvents` not yet taken by the transport drops the connection. Ending either way
   * removes the topic listener.
   */
  private stream<Topic extends keyof Topics, Out>(
    topic: Topic,
    accountId: number,
    drop: DropConnection,
    start: (
      events: AsyncIterator<Topics[Topic][1]>,
      emit: (value: Out) => void,
      end: () => void,
    ) => MaybePromise<{ first: Promise<IteratorResult<Topics[Topic][1]>>; accept: (event: Topics[Topic][1]) => void }>,
  ): Repeater<Out> {
    return new Repeater<Out>(async (push, stop) => {
      this.open += 1;
      // The generic topic defeats the pubsub's overloads; every topic here is keyed by account.
      const subscribe = this.pubsub.subscribe as (topic: keyof Topics, accountId: number) => AsyncIterable<Topics[Topic][1]>;
      const events = subscribe(topic, accountId)[Symbol.asyncIterator]();
      let waiting = 0;
      let ended = false;
      const end = (error?: Error) => {
        if (ended) return;
        ended = true;
        stop(error);
      };
      const emit = (value: Out) => {
        if (ended) return;
        waiting += 1;
        if (waiting > this.options.maxQueuedEvents) {
          this.dropped += 1;
          drop();
          end(new SubscriberDropped());
          return;
        }
        void push(value).then(() => (waiting -= 1), () => undefined);
      };
      const stopped = stop.then(() => ({ done: true as const, value: undefined }));
      try {
        const { first, accept } = await start(events, emit, () => end());
        let next = first;
        while (!ended) {
          const result = await Promise.race([next, stopped]);
          if (result.done) break;
          accept(result.value);
          next = events.next();
        }
      } finally {
        ended = true;
        await events.return?.();
        this.open -= 1;
      }
    });
  }
}
