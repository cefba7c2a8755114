import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import type { PubSubEvent, PubSubEventTarget } from '@graphql-yoga/subscription';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';
import type { EventTransport, Topics } from './realtime.js';

/**
 * Dates do not survive JSON on their own: each one travels as `{ "$date": iso }` and comes back
 * as a Date, so a job or status event from another instance reads exactly like a local one.
 */
export const eventSerializer = {
  stringify(message: unknown): string {
    return JSON.stringify(message, function (this: Record<string, unknown>, key: string, value: unknown) {
      // `value` is already the result of Date#toJSON; the holder still has the Date itself.
      const raw = this[key];
      return raw instanceof Date ? { $date: raw.toISOString() } : value;
    });
  },
  parse(message: string): unknown {
    return JSON.parse(message, (_key, value: unknown) => {
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        const keys = Object.keys(value);
        const iso = (value as { $date?: unknown }).$date;
        if (keys.length === 1 && typeof iso === 'string') return new Date(iso);
      }
      return value;
    });
  },
};

/**
 * Redis hands over many messages from one read of the socket; passed on in one go, a burst would
 * fill a healthy subscriber's bounded queue before it could take anything and drop it as stalled
 * (R42). They are passed on in order, at most `perTurn` per turn of the event loop: with half a
 * subscriber's bound, one that keeps up is never dropped, and one that takes nothing still is.
 */
function handOut(perTurn: number, listener: (channel: string, message: string) => void): (channel: string, message: string) => void {
  const waiting: [string, string][] = [];
  const passOn = () => {
    const turn = waiting.splice(0, perTurn);
    if (waiting.length > 0) setImmediate(passOn);
    for (const message of turn) listener(...message);
  };
  return (channel, message) => {
    if (waiting.push([channel, message]) === 1) setImmediate(passOn);
  };
}

export interface RedisTransportOptions {
  url: string;
  /** Put before every channel name, so that deployments (or test files) sharing a Redis never hear each other. */
  prefix: string;
  logger: Logger;
  /** Messages passed on to subscribers per turn of the event loop: half their queue bound (R42). */
  perTurn: number;
}

/** Reconnects forever, backing off to 2 s: a Redis that goes away must never end the process. */
const retryStrategy = (times: number): number => Math.min(times * 100, 2000);

/**
 * Live updates through Redis pub/sub (graphql-yoga's Redis event target over ioredis): one
 * connection publishes, one subscribes. Every event, this instance's own included, arrives back
 * through Redis, so all instances' subscribers see one order per publisher. When Redis is down,
 * the failures are logged (once per outage) and the server keeps serving; live updates resume
 * when it is back, and `onResume` lets streams catch up on what they missed.
 */
export function redisTransport({ url, prefix, logger, perTurn }: RedisTransportOptions): EventTransport {
  // CLIENT LIST names the deployment a connection belongs to.
  const base: RedisOptions = { retryStrategy, connectionName: `shipyard-live-updates-${prefix}`.replace(/[^\x21-\x7e]/g, '') };
  // A publish waits for a reconnection at most twice before it fails (and is logged): an outage
  // never piles events up in memory.
  const publisher = new Redis(url, { ...base, maxRetriesPerRequest: 2 });
  // SUBSCRIBE waits for Redis however long it takes: one that failed would leave a topic silent for good.
  const subscriber = new Redis(url, { ...base, maxRetriesPerRequest: null });

  /** What has been logged in this outage: a connection's errors, then its failed commands, once each. */
  const logged = new Set<string>();
  const failed = (role: 'publish' | 'subscribe', what: 'connection' | 'command', message: string) => (error: unknown) => {
    if (logged.has(`${role} ${what}`)) return;
    logged.add(`${role} ${what}`);
    logger.error({ err: error, role }, message);
  };
  const recovered = (role: 'publish' | 'subscribe') => {
    logged.delete(`${role} connection`);
    logged.delete(`${role} command`);
  };
  publisher.on('error', failed('publish', 'connection', 'redis unavailable for live updates; retrying'));
  subscriber.on('error', failed('subscribe', 'connection', 'redis unavailable for live updates; retrying'));
  const onPublisherError = failed('publish', 'command', 'live update not sent: redis unavailable');
  const onSubscriberError = failed('subscribe', 'command', 'live updates not received: redis unavailable');
  publisher.on('ready', () => recovered('publish'));

  /** Channels the event target listens to now, by their full (prefixed) name. */
  const channels = new Set<string>();
  const resumeListeners = new Set<() => void>();
  let connectedBefore = false;
  subscriber.on('ready', () => {
    recovered('subscribe');
    if (!connectedBefore) {
      connectedBefore = true;
      return;
    }
    // Events published while the connection was down are lost: once every channel is listened
    // to again, streams read what they may have missed.
    const again = [...channels];
    void (again.length > 0 ? subscriber.subscribe(...again) : Promise.resolve()).then(
      () => {
        logger.info({ channels: again.length }, 'live updates resumed through redis');
        for (const listener of resumeListeners) listener();
      },
      onSubscriberError,
    );
  });

  /**
   * The event target calls `publish`, `subscribe`, `unsubscribe` and `on('message')` and never
   * handles the promises: here each channel gets the prefix (and loses it on the way in), and a
   * failed command is logged instead of becoming an unhandled rejection.
   */
  const channelled = (client: Redis, onError: (error: unknown) => void): Redis =>
    new Proxy(client, {
      get(target, property) {
        if (property === 'publish')
          return (channel: string, message: string) => target.publish(prefix + channel, message).catch(onError);
        if (property === 'subscribe')
          return (...names: string[]) => {
            for (const name of names) channels.add(prefix + name);
            return target.subscribe(...names.map((name) => prefix + name)).catch(onError);
          };
        if (property === 'unsubscribe')
          return (...names: string[]) => {
            for (const name of names) channels.delete(prefix + name);
            return target.unsubscribe(...names.map((name) => prefix + name)).catch(onError);
          };
        if (property === 'on')
          return (event: string, listener: (channel: string, message: string) => void) => {
            if (event !== 'message') return target.on(event, listener);
            const inbox = handOut(perTurn, listener);
            return target.on('message', (channel: string, message: string) => {
              if (channel.startsWith(prefix)) inbox(channel.slice(prefix.length), message);
            });
          };
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });

  const eventTarget: PubSubEventTarget<Topics> = createRedisEventTarget<PubSubEvent<Topics, keyof Topics>>({
    publishClient: channelled(publisher, onPublisherError),
    subscribeClient: channelled(subscriber, onSubscriberError),
    serializer: eventSerializer,
  });

  return {
    eventTarget,
    async listening(topic) {
      // SUBSCRIBE again is harmless, and its answer comes after that of the event target's own
      // SUBSCRIBE on this connection: from then on, every event published to the topic reaches us.
      await subscriber.subscribe(prefix + topic);
    },
    onResume(listener) {
      resumeListeners.add(listener);
      return () => resumeListeners.delete(listener);
    },
    async close() {
      resumeListeners.clear();
      subscriber.disconnect();
      // Events announced while stopping (jobs rolled back, R4) still reach the other instances.
      if (publisher.status === 'ready') await publisher.quit().catch(() => publisher.disconnect());
      else publisher.disconnect();
    },
  };
}
