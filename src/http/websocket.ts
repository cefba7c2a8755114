import type { IncomingMessage, Server } from 'node:http';
import { GraphQLError, Kind, print, type execute, type ExecutionArgs, type ExecutionResult, type OperationDefinitionNode, type subscribe } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Domain } from '../domain/index.js';
import type { Context } from '../schema/builder.js';
import { bearerPrincipal } from './auth.js';
import { connectionAuthorization, withLimitCode, type ServerContext } from './graphql.js';
import { WebSocketLimits, webSocketServerLimits } from './websocket-limits.js';
import { CLOSE_TOKEN_REVOKED, TOKEN_LOST, type TokenSessions } from './token-sessions.js';

/** WebSocket's close code for a server that met a condition it cannot serve through. */
const CLOSE_SERVER_FAULT = 1011;
import { FanoutSocket, SharedResult } from './shared-frames.js';

/**
 * Subscriptions without a first reading of their own: a new subscriber can join an execution already under
 * way and miss nothing it would have had alone. (publishJobUpdated starts with the job as it
 * stands for each subscriber, so it is not shared.)
 */
const SHARED_SUBSCRIPTIONS = new Set(['publishJobsUpdated', 'environmentStatusChanged']);

/** The one root field of a subscription operation, if it has exactly one. */
function rootField(args: ExecutionArgs): string | null {
  const operations = args.document.definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION);
  const operation = args.operationName ? operations.find((candidate) => candidate.name?.value === args.operationName) : operations[0];
  if (!operation || operation.operation !== 'subscription' || operation.selectionSet.selections.length !== 1) return null;
  const [selection] = operation.selectionSet.selections;
  return selection?.kind === Kind.FIELD ? selection.name.value : null;
}

/** Each result of a shared execution, wrapped once so that every subscriber sends the same bytes. */
function sharedResults(
  results: Awaited<ReturnType<typeof subscribe>>,
  onSerialise: () => void,
): AsyncIterable<ExecutionResult> | ExecutionResult {
  if (!(Symbol.asyncIterator in results)) return results;
  const upstream = results[Symbol.asyncIterator]();
  // Not an async generator: its `return()` would wait for the next event before reaching the
  // upstream, and a quiet subscription would then never let go of its listener (R42). The
  // SharedResult travels where graphql-ws expects a result, up to onNext below.
  const shared: AsyncIterableIterator<ExecutionResult> = {
    next: async () => {
      const next = await upstream.next();
      return next.done ? next : { done: false, value: new SharedResult(next.value, onSerialise) as unknown as ExecutionResult };
    },
    return: async () => (await upstream.return?.()) ?? { done: true, value: undefined },
    [Symbol.asyncIterator]: () => shared,
  };
  return shared;
}

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => ReturnType<typeof execute>;
  subscribe: (args: ExecutionArgs) => ReturnType<typeof subscribe>;
}

/**
 * graphql-ws on the GraphQL path itself (R40), through yoga's envelop so that every plugin, the
 * context factory and error masking apply as they do over HTTP. Answers how to close it.
 */
export function attachGraphQLWebSocket(
  http: Server,
  yoga: YogaServerInstance<ServerContext, Context>,
  domain: Domain,
  sessions: TokenSessions,
  /** Told of a fault while authenticating (a failing database, R72); the socket closes with 1011. */
  onFault: (error: unknown) => void,
  onConnection: (socket: WebSocket, request: IncomingMessage) => void = () => undefined,
): () => Promise<void> {
  /** The connection's principal; null for no valid token; undefined when the lookup failed (socket closed). */
  const principalOf = async (ctx: { connectionParams?: Readonly<Record<string, unknown>>; extra: { socket: WebSocket } }) => {
    try {
      return await bearerPrincipal(domain, connectionAuthorization(ctx.connectionParams));
    } catch (error) {
      onFault(error);
      ctx.extra.socket.close(CLOSE_SERVER_FAULT, 'The server cannot check the token now; try again shortly');
      return undefined;
    }
  };

  const webSockets = new WebSocketServer({ server: http, path: yoga.graphqlEndpoint, ...webSocketServerLimits, WebSocket: FanoutSocket });
  // R69: before graphql-ws attaches, so that it never reads a message refused for its size.
  const limits = new WebSocketLimits();
  limits.watch(webSockets);
  webSockets.on('connection', onConnection);
  const server = useServer<Record<string, unknown>, { socket: WebSocket; request: IncomingMessage }>(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
      subscribe: (args) => {
        const root = args.rootValue as EnvelopedRoot;
        const context = args.contextValue as Context;
        const field = rootField(args);
        if (!field || !SHARED_SUBSCRIPTIONS.has(field)) return root.subscribe(args);
        const key = [context.principal.accountId, print(args.document), args.operationName ?? '', JSON.stringify(args.variableValues ?? {})].join('\u0000');
        return context.realtime.fanout.share(key, async () => sharedResults(await root.subscribe(args), () => context.realtime.fanout.countSerialisation()), context.dropConnection);
      },
      // A shared result is its own payload: its bytes are made once for all subscribers.
      onNext: (_ctx, _id, _payload, _args, result) => (result instanceof SharedResult ? result.asPayload() : undefined),
      onConnect: async (ctx) => {
        if (limits.isRefused(ctx.extra.socket)) return false;
        const principal = await principalOf(ctx);
        if (principal === undefined) return false;
        if (principal) {
          // R70: the connection ends with 4403 when its token is revoked or expires.
          sessions.trackSocket(principal.tokenId, ctx.extra.socket);
          limits.acknowledge(ctx.extra.socket);
          return true;
        }
        ctx.extra.socket.close(4401, 'Unauthorized');
        return false;
      },
      onSubscribe: async (ctx, _id, payload) => {
        // Counted before the first await: graphql-ws lists every operation as it arrives, so a
        // count taken after awaiting would include the ones still arriving behind this one.
        const excess = limits.refuseExcessOperation(ctx.subscriptions);
        if (excess) return excess;
        // R70: a token lost since connecting closes the connection as forbidden, not as a fault.
        const principal = await principalOf(ctx);
        if (principal === undefined) return [new GraphQLError('The server cannot check the token now', { extensions: { code: 'SERVICE_UNAVAILABLE' } })];
        if (!principal) {
          ctx.extra.socket.close(CLOSE_TOKEN_REVOKED, TOKEN_LOST);
          return [new GraphQLError(TOKEN_LOST, { extensions: { code: 'FORBIDDEN' } })];
        }
        const enveloped = yoga.getEnveloped({
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          connectionParams: ctx.connectionParams ?? {},
          params: payload,
        });
        let document;
        try {
          document = enveloped.parse(payload.query);
          const errors = enveloped.validate(enveloped.schema, document);
          if (errors.length > 0) return errors.map(withLimitCode);
        } catch (error) {
          // Syntax errors and the operation limits (R44) answer as errors, not a closed socket.
          if (error instanceof GraphQLError) return [withLimitCode(error)];
          throw error;
        }
        return {
          schema: enveloped.schema,
          document,
          operationName: payload.operationName ?? null,
          variableValues: payload.variables ?? null,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
      },
    },
    webSockets,
  );
  return async () => {
    await server.dispose();
    for (const socket of webSockets.clients) socket.terminate();
    webSockets.close();
  };
}
