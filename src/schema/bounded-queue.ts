import { GraphQLError } from 'graphql';

/** Called when a subscriber's queue overflows: the transport drops that connection. */
export type DropConnection = () => void;

/** How a dropped subscriber's stream ends: a plain GraphQL error, not an unexpected one. */
export class SubscriberDropped extends GraphQLError {
  constructor() {
    super('The subscriber fell too far behind and was dropped', { extensions: { code: 'SUBSCRIBER_TOO_SLOW' } });
  }
}

/**
 * R42: a subscriber's queue, the values pushed to its stream that the transport has not taken yet.
 * Answers the function that queues a value. Past `maxQueued` waiting, the subscriber counts as
 * stalled: `overflow` is called once and nothing more is queued, instead of the queue growing.
 */
export function boundedQueue<T>(push: (value: T) => Promise<unknown>, maxQueued: number, overflow: () => void): (value: T) => void {
  let waiting = 0;
  let overflowed = false;
  return (value) => {
    if (overflowed) return;
    waiting += 1;
    if (waiting > maxQueued) {
      overflowed = true;
      overflow();
      return;
    }
    void push(value).then(() => (waiting -= 1), () => undefined);
  };
}
