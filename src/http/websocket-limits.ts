import { GraphQLError } from 'graphql';
import type { RawData, WebSocket, WebSocketServer } from 'ws';

/** R69: what one graphql-ws connection may send and hold. */
export const WEBSOCKET_LIMITS = {
  /** Largest message before the connection is acknowledged (connection_init and its token). */
  messageBytesBeforeAck: 64 * 1024,
  /** Largest message after it; ws refuses a bigger frame from its header, before buffering it. */
  messageBytesAfterAck: 1024 * 1024,
  /** Operations open at once on one connection. */
  subscriptionsPerConnection: 100,
} as const;

/** The close code WebSocket defines for a message too big to process. */
const CLOSE_MESSAGE_TOO_BIG = 1009;

/** Options for the WebSocketServer: ws's own default message limit is 100 MiB. */
export const webSocketServerLimits = { maxPayload: WEBSOCKET_LIMITS.messageBytesAfterAck } as const;

const byteLength = (data: RawData): number =>
  Array.isArray(data) ? data.reduce((total, chunk) => total + chunk.length, 0) : data instanceof ArrayBuffer ? data.byteLength : data.length;

/**
 * R69 for graphql-ws: the smaller message limit until a connection is acknowledged, and the
 * number of operations per connection. `watch` must be called before graphql-ws attaches to the
 * server, so that an oversized message is refused before graphql-ws reads it.
 */
export class WebSocketLimits {
  private readonly acknowledged = new WeakSet<WebSocket>();
  private readonly refused = new WeakSet<WebSocket>();

  watch(server: WebSocketServer): void {
    server.on('connection', (socket) => {
      // ws has already closed a connection that broke a limit or the protocol, with the code that
      // says why (1009, 1002), when it emits 'error'; graphql-ws, which attaches right after this,
      // would print a stack to stderr for each, which any client could provoke at will.
      process.nextTick(() => {
        socket.removeAllListeners('error');
        socket.on('error', () => undefined);
      });
      socket.on('message', (data) => {
        if (this.acknowledged.has(socket) || byteLength(data) <= WEBSOCKET_LIMITS.messageBytesBeforeAck) return;
        this.refused.add(socket);
        socket.close(CLOSE_MESSAGE_TOO_BIG, `Messages before connection_ack are at most ${WEBSOCKET_LIMITS.messageBytesBeforeAck} bytes`);
      });
    });
  }

  /** Whether this connection was refused for an oversized message (graphql-ws still sees it). */
  isRefused(socket: WebSocket): boolean {
    return this.refused.has(socket);
  }

  /** The connection is acknowledged: the larger message limit applies from now on. */
  acknowledge(socket: WebSocket): void {
    this.acknowledged.add(socket);
  }

  /** Errors for an operation past the per-connection limit; `open` includes the new one. */
  refuseExcessOperation(open: Readonly<Record<string, unknown>>): GraphQLError[] | null {
    if (Object.keys(open).length <= WEBSOCKET_LIMITS.subscriptionsPerConnection) return null;
    return [
      new GraphQLError(`A connection holds at most ${WEBSOCKET_LIMITS.subscriptionsPerConnection} subscriptions; complete one first`, {
        extensions: { code: 'LIMIT_EXCEEDED' },
      }),
    ];
  }
}
