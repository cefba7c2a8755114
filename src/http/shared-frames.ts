import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { ExecutionResult, FormattedExecutionResult } from 'graphql';
import { WebSocket } from 'ws';

/**
 * Stands in for a payload while graphql-ws builds its `next` message: JSON.stringify calls
 * `toJSON`, which answers this token, and the socket then writes the payload's bytes in its
 * place. Random per process, so no result can contain it by chance.
 */
const TOKEN = `shipyard-shared-result-${randomBytes(12).toString('hex')}`;
const TOKEN_TAIL = `"${TOKEN}"}`;
const CLOSING_BRACE = Buffer.from('}');

/** The one result whose `toJSON` ran last; graphql-ws stringifies and sends in the same tick. */
let stringifying: SharedResult | null = null;

function standIn(result: SharedResult): string {
  stringifying = result;
  return TOKEN;
}

/**
 * One event's result of an execution shared by many subscribers (Realtime.share). It is turned
 * into JSON once, the first time a subscriber's message is built, and every subscriber's frame
 * carries the same bytes, exactly what graphql-ws would have written for the result alone.
 */
export class SharedResult {
  private serialised: Buffer | null = null;

  constructor(
    private readonly result: ExecutionResult,
    private readonly onSerialise: () => void,
  ) {}

  /** The payload as graphql-ws writes it: the result's fields, then `errors` if there are any. */
  get bytes(): Buffer {
    if (!this.serialised) {
      const { errors, ...rest } = this.result;
      this.serialised = Buffer.from(JSON.stringify({ ...rest, ...(errors ? { errors: errors.map((error) => error.toJSON()) } : {}) }));
      this.onSerialise();
    }
    return this.serialised;
  }

  /** What graphql-ws's onNext hook answers, so that this object becomes the message's payload. */
  asPayload(): FormattedExecutionResult {
    return this as unknown as FormattedExecutionResult;
  }

  toJSON(): string {
    return standIn(this);
  }
}

/**
 * The server's WebSocket class (ws's `WebSocket` option). It changes two things about sending:
 * a graphql-ws message whose payload is a SharedResult goes out with the result's shared bytes,
 * and the frames written to one socket in one tick leave in one write (the socket is corked
 * until the next tick), instead of one system call per message.
 */
export class FanoutSocket extends WebSocket {
  private corked = false;

  override send(data: unknown, options?: unknown, callback?: unknown): void {
    if (typeof data === 'string' && data.endsWith(TOKEN_TAIL)) {
      const shared = stringifying;
      stringifying = null;
      if (!shared) throw new Error('a shared result was stringified without being sent');
      data = Buffer.concat([Buffer.from(data.slice(0, -TOKEN_TAIL.length)), shared.bytes, CLOSING_BRACE]);
      // Text frame, as graphql-ws sends it; a Buffer would otherwise go out as binary.
      if (typeof options === 'function') [options, callback] = [{ binary: false }, options];
      else options = { ...(options as object | undefined), binary: false };
    }
    this.coalesce();
    (super.send as (data: unknown, options?: unknown, callback?: unknown) => void)(data, options, callback);
  }

  private coalesce(): void {
    // ws keeps the TCP socket as `_socket`; it has no public way to batch writes.
    const socket = (this as unknown as { _socket: Socket | null })._socket;
    if (this.corked || !socket || this.readyState !== WebSocket.OPEN) return;
    this.corked = true;
    socket.cork();
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }
}
