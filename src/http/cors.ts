import type { IncomingMessage, ServerResponse } from 'node:http';
import { CSRF_HEADER } from './graphql.js';

/** What a cross-origin page may send and read on the API routes. */
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, OPTIONS';
const ALLOWED_HEADERS = `authorization, content-type, accept, ${CSRF_HEADER}`;
const EXPOSED_HEADERS = 'x-request-id, content-length, content-disposition, x-content-sha256';
/** How long a browser may cache a preflight answer. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * R63: cross-origin access to the API routes (`/graphql`, `/uploads`, `/binaries`, runtime
 * routes) for the origins in `CORS_ORIGINS` only. An origin is answered with itself when listed
 * and with nothing otherwise: never reflected blindly, and credentials are never allowed (tokens
 * travel in the Authorization header, which needs no cookies). Answers true when it answered a
 * preflight itself.
 */
export function createCorsPolicy(origins: readonly string[]): (req: IncomingMessage, res: ServerResponse) => boolean {
  const allowed = new Set(origins);
  return (req, res) => {
    // The answer depends on the Origin header, so caches must keep one per origin.
    res.setHeader('vary', 'Origin');
    const origin = req.headers.origin;
    const permitted = origin !== undefined && allowed.has(origin);
    if (permitted) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
    }
    if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return false;
    if (permitted) {
      res.setHeader('access-control-allow-methods', ALLOWED_METHODS);
      res.setHeader('access-control-allow-headers', ALLOWED_HEADERS);
      res.setHeader('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS));
    }
    res.writeHead(204, { 'content-length': '0' });
    res.end();
    req.resume();
    return true;
  };
}
