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
import { useHtmlSecurityHeaders } from './security-headers.js';
import type { TokenSessions } from './token-sessions.js';

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
function useAuthenticationAtTheDoor(domain: Domain, principals: WeakMap<Request, Principal>, databaseFailed: (error: unknown) => boolean): Plugin {
  return {
    async onRequest({ request, endResponse, fetchAPI }) {
      if (request.method === 'OPTIONS') return;
      const authorization = request.headers.get('authorization');
      let principal: Principal | null;
      try {
        principal = await bearerPrincipal(domain, authorization);
      } catch (error) {
        if (!databaseFailed(error)) throw error;
        return endResponse(databaseUnavailableResponse(fetchAPI));
      }
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

const DATABASE_UNAVAILABLE = 'The database is unavailable; try again shortly.';

/** R72: what a request gets while the database fails: 503, and no internals. */
function databaseUnavailableResponse(fetchAPI: { Response: typeof Response }): Response {
  const requestId = currentRequestId();
  return new fetchAPI.Response(JSON.stringify({ errors: [{ message: `${DATABASE_UNAVAILABLE} Quote request id ${requestId} to support.`, extensions: { code: 'SERVICE_UNAVAILABLE', requestId } }] }), {
    status: 503,
    headers: { 'content-type': 'application/json', 'retry-after': '5' },
  });
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
  /** The origin links are built on (R64), never the request's Host. */
  publicUrl: () => string;
  /** Where SSE streams are registered under their token, to end them when it goes (R70). */
  sessions: TokenSessions;
  /** Whether an error says the database itself is failing, so the answer is 503 (R72). */
  databaseFailed: (error: unknown) => boolean;
  jit: boolean;
  /** More plugins, run after the built-in ones (metrics and the access log's facts). */
  plugins?: Plugin[];
}

export function createGraphQL({ config, domain, realtime, logger, publicUrl, sessions, databaseFailed, jit, plugins = [] }: GraphQLOptions): YogaServerInstance<ServerContext, Context> {
  const principals = new WeakMap<Request, Principal>();
  /** Errors that maskError found to be the caller's own mistake. */
  const clientMistakes = new WeakSet<object>();
  return createYoga<ServerContext, Context>({
    schema: buildSchema(),
    // R63: CORS is answered for every API route alike by src/http/cors.ts, before yoga.
    cors: false,
    // R69: yoga's own 25 MB default must not undercut MAX_MULTIPART_BYTES; JSON bodies are held
    // to their own smaller limit before yoga sees them.
    maxRequestBodySize: config.maxMultipartBytes,
    // One context factory for HTTP, SSE and graphql-ws (R40).
    context: async (initial) => {
      const overWebSocket = initial.connectionParams !== undefined;
      const principal = overWebSocket
        ? await bearerPrincipal(domain, connectionAuthorization(initial.connectionParams))
        : (principals.get(initial.request) ?? await bearerPrincipal(domain, initial.request.headers.get('authorization')));
      if (!principal) throw unauthenticated('Invalid or revoked API token');
      if (!overWebSocket && (initial.request.headers.get('accept') ?? '').includes('text/event-stream')) {
        // R70: an SSE stream ends (its connection closes) when its token is revoked or expires.
        const untrack = sessions.track(principal.tokenId, () => initial.req.socket.destroy());
        // The response's close, not the request's: a request closes once its body is read.
        (initial.res ?? initial.req.socket).once('close', untrack);
      }
      return {
        principal,
        domain,
        origin: publicUrl(),
        loaders: createLoaders(domain),
        realtime,
        dropConnection: () => (initial.socket ? initial.socket.terminate() : initial.req.socket.destroy()),
      };
    },
    plugins: [
      useHtmlSecurityHeaders(),
      useAuthenticationAtTheDoor(domain, principals, (error) => {
        if (!databaseFailed(error)) return false;
        logger.error({ err: error, requestId: currentRequestId() }, 'database unavailable');
        return true;
      }),
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
        if (error instanceof GraphQLError && (original instanceof InputError || original instanceof GraphQLError)) clientMistakes.add(error);
        if (original instanceof InputError)
          return new GraphQLError(original.message, { ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}), extensions: { code: 'BAD_USER_INPUT' } });
        if (original instanceof GraphQLError) return withLimitCode(original);
        const requestId = currentRequestId();
        if (databaseFailed(original)) {
          logger.error({ err: original, requestId }, 'database unavailable');
          return new GraphQLError(`${DATABASE_UNAVAILABLE} Quote request id ${requestId} to support.`, {
            ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
            extensions: { code: 'SERVICE_UNAVAILABLE', requestId, http: { status: 503 } },
          });
        }
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
      // yoga logs every error that maskError replaced; a caller's mistake is not an error of
      // ours (R62), and unexpected ones were logged above with their stack and request id.
      error: (...args) => {
        const [only] = args;
        if (args.length === 1 && typeof only === 'object' && only !== null && clientMistakes.has(only)) logger.debug(args);
        else logger.error(args);
      },
    },
  });
}
