import { setMaxListeners } from 'node:events';
import { createPubSub, Repeater, type PubSub, type PubSubEventTarget } from '@graphql-yoga/subscription';
import type { DomainEvents, EnvironmentStatusChanged, PublishJobUpdated } from '../domain/events.js';
import { isFinal, type JobReading } from '../domain/publish/jobs.js';
import { boundedQueue, SubscriberDropped, type DropConnection } from './bounded-queue.js';
import { SharedFanout } from './shared-fanout.js';

/** What Realtime needs of the domain: its events, and a job as it stands (synchronous or not). */
export interface RealtimeSource {
  events: DomainEvents;
  jobs: { read(jobId: number): JobReading | null | Promise<JobReading | null> };
}

/**
 * Topics by account: a subscriber only ever listens to its own account (R40). `tokenRevoked` is
 * the server's own: tokens revoked (or whose user was deactivated) on any instance, whose open
 * streams every instance ends (R70).
 */
export type Topics = {
  publishJob: [accountId: number, event: PublishJobUpdated];
  environmentStatus: [accountId: number, event: EnvironmentStatusChanged];
  tokenRevoked: [event: { tokenIds: number[] }];
};

export interface RealtimeOptions {
  /**
   * Events one subscriber may have waiting before it counts as stalled and is dropped (R42).
   * Must stay under Repeater's own limit of 1024 pending pushes.
   */
  maxQueuedEvents: number;
  /**
   * Where events travel between instances (`redisTransport`, with REDIS_URL); in-process when
   * absent. Every event then goes out and comes back through it, this instance's own included.
   */
  transport?: EventTransport;
}

/** How events reach every instance's subscribers. */
export interface EventTransport {
  eventTarget: PubSubEventTarget<Topics>;
  /**
   * Resolves once every event published to the topic from now on will reach this instance's
   * listener of it (already added). Only then may a stream read the state it starts from (R41).
   */
  listening(topic: string): Promise<void>;
  /** Calls back after events may have been lost (a reconnection), once listening again. */
  onResume(listener: () => void): () => void;
  close(): Promise<void>;
}

/** The pubsub's name of a topic keyed by account (as `createPubSub` builds it). */
const topicName = (topic: keyof Topics, accountId: number): string => `${topic}:${accountId}`;

/** Jobs whose last revision one wide stream remembers: the most recently changed ones. */
const REMEMBERED_JOBS = 10_000;

/**
 * R41 per job: each revision passes once, and never after a newer one. Events of one job may come
 * from different instances (the one running it, the one that took a cancel), and Redis orders
 * messages per publisher only; each event is the whole job, so dropping a stale one loses nothing.
 */
class RevisionGate {
  /** Last revision by job, least recently changed first (a Map keeps insertion order). */
  private readonly seen = new Map<number, number>();

  pass({ job }: JobReading): boolean {
    const seen = this.seen.get(job.id);
    if (seen !== undefined && job.revision <= seen) return false;
    this.seen.delete(job.id);
    this.seen.set(job.id, job.revision);
    const oldest = this.seen.keys().next();
    if (this.seen.size > REMEMBERED_JOBS && !oldest.done) this.seen.delete(oldest.value);
    return true;
  }
}

/** Node warns past ten listeners on one EventTarget; a thousand dashboards on one topic are normal. */
function unlimitedEventTarget(): PubSubEventTarget<Topics> {
  const target = new EventTarget();
  setMaxListeners(0, target);
  return target as PubSubEventTarget<Topics>;
}

/** A stream once started: its first event to come, what to do with each, and how to read its state again. */
interface Started<Event> {
  first: Promise<IteratorResult<Event>>;
  accept: (event: Event) => void;
  catchUp?: () => void;
}

/**
 * Turns the domain's events into subscription streams: one pubsub for the server, and for
 * each subscriber a bounded queue that drops a stalled connection instead of growing (R42).
 */
export class Realtime {
  readonly pubsub: PubSub<Topics>;
  /** Subscription streams open now; closed connections bring it back down (R42). */
  private open = 0;
  /** Of those, the ones whose subscription took effect (over Redis: confirmed). */
  private listening = 0;
  /** Subscribers dropped for falling too far behind. */
  private dropped = 0;
  /** Wide subscriptions' executions, each shared by the subscribers asking the same (R42). */
  readonly fanout: SharedFanout;
  private readonly unsubscribe: () => void;
  /** Open single-job streams' ways to read their job again after a reconnection lost events. */
  private readonly catchUps = new Set<() => void>();
  private readonly stopResume: () => void;

  constructor(
    private readonly domain: RealtimeSource,
    private readonly options: RealtimeOptions,
  ) {
    this.fanout = new SharedFanout(options.maxQueuedEvents, () => (this.dropped += 1));
    this.pubsub = createPubSub<Topics>({ eventTarget: options.transport?.eventTarget ?? unlimitedEventTarget() });
    this.stopResume = options.transport?.onResume(() => {
      for (const catchUp of this.catchUps) catchUp();
    }) ?? (() => undefined);
    this.unsubscribe = domain.events.subscribe((event) => {
      if (event.type === 'publishJobUpdated') this.pubsub.publish('publishJob', event.accountId, event);
      else if (event.type === 'environmentStatusChanged') this.pubsub.publish('environmentStatus', event.accountId, event);
    });
  }

  get openStreams(): number {
    return this.open;
  }

  /** Streams that receive every event published from now on. */
  get listeningStreams(): number {
    return this.listening;
  }

  /** Subscribers open now: own streams, and the subscribers of shared executions (not their upstreams). */
  get openSubscriptions(): number {
    return Math.max(0, this.open - this.fanout.executions + this.fanout.subscribers);
  }

  get droppedSubscribers(): number {
    return this.dropped;
  }

  get sharedSerialisations(): number {
    return this.fanout.sharedSerialisations;
  }

  /** Tells every instance, this one included, that these tokens no longer authenticate (R70). */
  announceRevoked(tokenIds: number[]): void {
    this.pubsub.publish('tokenRevoked', { tokenIds });
  }

  /** Calls `listener` with the tokens revoked on any instance from now on; answers how to stop. */
  onRevoked(listener: (tokenIds: number[]) => void): () => void {
    const stream = this.pubsub.subscribe('tokenRevoked');
    const iterator = stream[Symbol.asyncIterator]();
    void (async () => {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) listener(next.value.tokenIds);
    })();
    // Logged by the transport when Redis is down; the periodic check of open streams still ends them.
    this.options.transport?.listening('tokenRevoked').catch(() => undefined);
    return () => void iterator.return?.();
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.stopResume();
    await this.options.transport?.close();
  }

  /** R41: the job as it stands, then each change once and in order, then the end after a final state. */
  jobStream(accountId: number, jobId: number, drop: DropConnection): Repeater<JobReading> {
    return this.stream('publishJob', accountId, drop, async (events, emit, end) => {
      // Listening starts before the job is read, so no change falls between the two; the
      // revision tells a change already in the reading from a new one.
      const first = events.next();
      await this.options.transport?.listening(topicName('publishJob', accountId));
      const gate = new RevisionGate();
      const offer = (next: JobReading) => {
        if (!gate.pass(next)) return;
        emit(next);
        if (isFinal(next.job.state)) end();
      };
      const read = async () => {
        const reading = await this.domain.jobs.read(jobId);
        if (reading) offer(reading);
      };
      await read();
      const catchUp = () => void read().catch((error: unknown) => end(error instanceof Error ? error : new Error(String(error))));
      return { first, accept: (event) => (event.job.id === jobId ? offer(event) : undefined), catchUp };
    });
  }

  /** Every change of any job of the account that passes the filter. */
  jobsStream(accountId: number, filter: (event: PublishJobUpdated) => boolean, drop: DropConnection): Repeater<JobReading> {
    const gate = new RevisionGate();
    return this.stream('publishJob', accountId, drop, async (events, emit) => {
      const first = events.next();
      await this.options.transport?.listening(topicName('publishJob', accountId));
      return { first, accept: (event) => (filter(event) && gate.pass(event) ? emit(event) : undefined) };
    });
  }

  environmentStream(accountId: number, filter: (event: EnvironmentStatusChanged) => boolean, drop: DropConnection): Repeater<EnvironmentStatusChanged> {
    return this.stream('environmentStatus', accountId, drop, async (events, emit) => {
      const first = events.next();
      await this.options.transport?.listening(topicName('environmentStatus', accountId));
      return { first, accept: (event) => (filter(event) ? emit(event) : undefined) };
    });
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
    start: (events: AsyncIterator<Topics[Topic][1]>, emit: (value: Out) => void, end: (error?: Error) => void) => Started<Topics[Topic][1]> | Promise<Started<Topics[Topic][1]>>,
  ): Repeater<Out> {
    return new Repeater<Out>(async (push, stop) => {
      this.open += 1;
      // Counted as listening once started (over Redis: once the subscription is confirmed): a
      // stream that listens misses nothing published after.
      let listening = false;
      // The generic topic defeats the pubsub's overloads; every topic here is keyed by account.
      const subscribe = this.pubsub.subscribe as (topic: keyof Topics, accountId: number) => AsyncIterable<Topics[Topic][1]>;
      const events = subscribe(topic, accountId)[Symbol.asyncIterator]();
      let ended = false;
      const end = (error?: Error) => {
        if (ended) return;
        ended = true;
        stop(error);
      };
      const queue = boundedQueue(push, this.options.maxQueuedEvents, () => {
        this.dropped += 1;
        drop();
        end(new SubscriberDropped());
      });
      const emit = (value: Out) => {
        if (!ended) queue(value);
      };
      const stopped = stop.then(() => ({ done: true as const, value: undefined }));
      let catchUp: (() => void) | undefined;
      try {
        // Starting may wait for the transport; a subscriber that leaves meanwhile ends it.
        const started = await Promise.race([start(events, emit, end), stopped]);
        if ('done' in started) return;
        this.listening += 1;
        listening = true;
        const { first, accept } = started;
        if (started.catchUp) {
          catchUp = started.catchUp;
          this.catchUps.add(catchUp);
        }
        let next = first;
        while (!ended) {
          const result = await Promise.race([next, stopped]);
          if (result.done) break;
          accept(result.value);
          next = events.next();
        }
      } finally {
        ended = true;
        if (catchUp) this.catchUps.delete(catchUp);
        await events.return?.();
        if (listening) this.listening -= 1;
        this.open -= 1;
      }
    });
  }
}
