import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Domain } from '../domain/index.js';
import { PublicLinks } from '../domain/links.js';
import type { RuntimePublic } from '../runtime/serve/public.js';

const EMBEDDED_PATH = /^\/runtime\/([^/]+)(\/.*)$/;

/**
 * The embedded runtime's public pages (R53-R56) at `/runtime/<environment name>/...`: the same
 * code a runtime server answers with at its own URL. False for any other path.
 */
export async function handleEmbeddedRuntimePages(
  domain: Domain,
  pages: RuntimePublic,
  req: IncomingMessage,
  res: ServerResponse,
  /** R64: the origin links are built on (PUBLIC_URL), never the request's Host. */
  publicUrl: string,
): Promise<boolean> {
  const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
  const match = EMBEDDED_PATH.exec(rawPath);
  if (!match) return false;
  let name: string;
  try {
    name = decodeURIComponent(match[1] ?? '');
  } catch {
    name = '';
  }
  const environment = name ? await domain.environments.embeddedByName(name) : undefined;
  const answered =
    environment !== undefined &&
    await pages.handle(req, res, {
      environmentId: environment.id,
      baseUrl: new PublicLinks(publicUrl).runtimeBase(environment),
      path: match[2] ?? '/',
      managementAvailable: environment.managementEnabled,
    });
  if (!answered) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'Not found' }));
  }
  return true;
}
