import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Domain } from '../domain/index.js';
import { PublicLinks } from '../domain/links.js';
import type { RuntimePublic } from '../runtime/serve/public.js';

const EMBEDDED_PATH = /^\/runtime\/([^/]+)(\/.*)$/;

/** The origin of links Shipyard answers outside GraphQL: the request's own. */
export const requestOrigin = (req: IncomingMessage): string => `http://${req.headers.host ?? 'localhost'}`;

/**
 * The embedded runtime's public pages (R53-R56) at `/runtime/<environment name>/...`: the same
 * code a runtime server answers with at its own URL. False for any other path.
 */
export function handleEmbeddedRuntimePages(domain: Domain, pages: RuntimePublic, req: IncomingMessage, res: ServerResponse): boolean {
  const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
  const match = EMBEDDED_PATH.exec(rawPath);
  if (!match) return false;
  let name: string;
  try {
    name = decodeURIComponent(match[1] ?? '');
  } catch {
    name = '';
  }
  const environment = name ? domain.environments.embeddedByName(name) : undefined;
  const answered =
    environment !== undefined &&
    pages.handle(req, res, {
      environmentId: environment.id,
      baseUrl: new PublicLinks(requestOrigin(req)).runtimeBase(environment),
      path: match[2] ?? '/',
      managementAvailable: environment.managementEnabled,
    });
  if (!answered) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'Not found' }));
  }
  return true;
}
