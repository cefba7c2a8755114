import type { IncomingMessage, ServerResponse } from 'node:http';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { GraphQLError } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { WebSocket } from 'ws';
import type { Config } from '../config.js';
import type { Domain } from '../domain/index.js';
import type { Principal } from '../domain/principal.js';
import { InputError } from '../domain/result.js';
import type { Logger } from '../logger.js';
import type { Context } from '../schema/builder.js';
import { buildSchema } from '../schema/index.js';
import { createLoaders } from '../schema/loaders.js';
import type { Realtime } from '../schema/realtime.js';
import { bearerPrincipal } from './auth.js';
import { currentRequest, currentRequestId } from './request-context.js';

/** The header yoga's CSRF prevention asks of multipart uploads (R19). */
export const CSRF_HEADER = 'x-graphql-yoga-csrf';

/** R44: what one operation may ask for. */
export const LIMITS = { depth: 12, aliases: 30, tokens: 5000, directives: 50 } as const;

/** What each transport hands the context factory: the HTTP request, or a graphql-ws connection. */
export interface ServerContext {
  req: IncomingMessage;
  res?: ServerResponse;
  connectionParams?: Readonly<Record<string, unknown>>;
  socket?: WebSocket;
}

const unauthenticated = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });

/** graphql-ws carries the token as `connectionParams.authorization`, with or without "Bearer". */
export function connectionAuthorization(params: Readonly<Record<string, unknown>> | undefined): string | null {
  const value = params?.authorization ?? params?.Authorization;
  if (typeof value !== 'string') return null;
  return /^Bearer\s/i.test(value) ? value : `Bearer ${value}`;
}

/**
 * R5 at the door: a GraphQL request without a valid token is answered 401 before it is parsed,
 * so an unauthenticated caller learns nothing of the schema (no validation messages, no field
 * suggestions; signed-in callers keep suggestions, which GraphiQL users rely on). The GraphiQL
 * page is served before yoga (src/http/pages.ts).
 */
function useAuthenticationAtTheDoor(domain: Domain, principals: WeakMap<Request, Principal>): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method === 'OPTIONS') return;
      const authorization = request.headers.get('authorization');
      const principal = bearerPrincipal(domain, authorization);
      if (principal) {
        principals.set(request, principal);
        return;
      }
      const message = authorization ? 'Invalid or revoked API token' : 'Authentication required: send Authorization: Bearer <token>';
      currentRequest()?.errorCodes.push('UNAUTHENTICATED');
      endResponse(
        new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] }), {
          status: 401,
          headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' },
        }),
      );
    },
  };
}

/** GraphQL Armor says which limit was passed, but gives no code; clients branch on codes (R44). */
export function withLimitCode(error: GraphQLError): GraphQLError {
  if (error.extensions.code || !/limit of \d+ exceeded/.test(error.message)) return error;
  return new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: 'OPERATION_LIMIT_EXCEEDED' } });
}

export interface GraphQLOptions {
  config: Config;
  domain: Domain;
  realtime: Realtime;
  logger: Logger;
  jit: boolean;
  /** More plugins, run after the built-in ones (metrics and the access log's facts). */
  plugins?: Plugin[];
}

export function createGraphQL({ config, domain, realtime, logger, jit, plugins = [] }: GraphQLOptions): YogaServerInstance<ServerContext, Context> {
  const principals = new WeakMap<Request, Principal>();
  return createYoga<ServerContext, Context>({
    schema: buildSchema(),
    // One context factory for HTTP, SSE and graphql-ws (R40).
    context: (initial) => {
      const overWebSocket = initial.connectionParams !== undefined;
      const principal = overWebSocket
        ? bearerPrincipal(domain, connectionAuthorization(initial.connectionParams))
        : (principals.get(initial.request) ?? bearerPrincipal(domain, initial.request.headers.get('authorization')));
      if (!principal) throw unauthenticated('Invalid or revoked API token');
      return {
        principal,
        domain,
        origin: overWebSocket ? `http://${initial.req.headers.host ?? `${config.host}:${config.port}`}` : new URL(initial.request.url).origin,
        loaders: createLoaders(domain),
        realtime,
        dropConnection: () => (initial.socket ? initial.socket.terminate() : initial.req.socket.destroy()),
      };
    },
    plugins: [
      useAuthenticationAtTheDoor(domain, principals),
      // R19: multipart requests are "simple" in CORS terms, so they must carry this header.
      useCSRFPrevention({ requestHeaders: [CSRF_HEADER] }),
      // R44: refused before execution, each with a GraphQL error saying which limit.
      maxTokensPlugin({ n: LIMITS.tokens }),
      maxDepthPlugin({ n: LIMITS.depth, flattenFragments: true }),
      maxAliasesPlugin({ n: LIMITS.aliases }),
      maxDirectivesPlugin({ n: LIMITS.directives }),
      ...(jit ? [useGraphQlJit()] : []),
      ...plugins,
    ],
    // GraphiQL is our own page (src/http/pages.ts), served before yoga.
    graphiql: false,
    maskedErrors: {
      // R43: the caller's own mistakes are said plainly; anything unexpected is logged with its
      // stack under the request id, and the client sees only that id.
      maskError: (error) => {
        const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
        if (original instanceof InputError) return new GraphQLError(original.message, { extensions: { code: 'BAD_USER_INPUT' } });
        if (original instanceof GraphQLError) return withLimitCode(original);
        const requestId = currentRequestId();
        logger.error({ err: original, requestId, path: error instanceof GraphQLError ? error.path : undefined }, 'unexpected error');
        return new GraphQLError(`Unexpected error. Quote request id ${requestId} to support.`, {
          ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
          extensions: { code: 'INTERNAL_SERVER_ERROR', requestId },
        });
      },
    },
    logging: {
      debug: (...args) => logger.debug(args),
      info: (...args) => logger.info(args),
      warn: (...args) => logger.warn(args),
      error: (...args) => logger.error(args),
    },
  });
}
