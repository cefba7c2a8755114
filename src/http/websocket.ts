import type { IncomingMessage, Server } from 'node:http';
import { GraphQLError, Kind, print, type execute, type ExecutionArgs, type OperationDefinitionNode, type subscribe } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Domain } from '../domain/index.js';
import type { Context } from '../schema/builder.js';
import { bearerPrincipal } from './auth.js';
import { connectionAuthorization, withLimitCode, type ServerContext } from './graphql.js';

/**
 * Subscriptions without a first snapshot: a new subscriber can join an execution already under
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
  onConnection: (socket: WebSocket, request: IncomingMessage) => void = () => undefined,
): () => Promise<void> {
  const webSockets = new WebSocketServer({ server: http, path: yoga.graphqlEndpoint });
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
        return context.realtime.share(key, async () => root.subscribe(args), context.dropConnection);
      },
      onConnect: (ctx) => {
        if (bearerPrincipal(domain, connectionAuthorization(ctx.connectionParams))) return true;
        ctx.extra.socket.close(4401, 'Unauthorized');
        return false;
      },
      onSubscribe: async (ctx, _id, payload) => {
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
