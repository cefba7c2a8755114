import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { contentType } from 'mime-types';
import parseRange from 'range-parser';
import type { Entry } from 'yauzl';
import { runtimeInfo, type RuntimeHost } from '../embedded/index.js';
import { webClientPath } from './paths.js';
import { StorePages } from './store.js';
import { WebArchives, type WebArchive } from './web-archives.js';

/** Where a request for a runtime's public pages is answered: the environment and its public base URL. */
export interface PublicRequest {
  environmentId: number;
  /** The runtime's public base URL for this environment, without a trailing slash. */
  baseUrl: string;
  /** The path under that base, still percent-encoded: `/apps/Shop/index.html`. */
  path: string;
  managementAvailable: boolean;
}

/** The public routes, as the OpenAPI document names them (docs/runtime-api.yaml). */
export const PUBLIC_ROUTES = [
  'GET /apps/{appName}/appconfig',
  'GET /apps/{appName}/',
  'GET /apps/{appName}/{path}',
  'GET /store/{token}',
  'GET /store/{token}/apps/{managementAppId}/{platform}',
  'GET /store/{token}/apps/{managementAppId}/{platform}/manifest.plist',
] as const;

const APP_PATH = /^\/apps\/([^/]+)(\/.*)?$/;
const HIDDEN_FOLDERS = new Set(['web-inf', 'meta-inf']);


const sha256Of = (value: string) => createHash('sha256').update(value).digest();

const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
};

const notFound = (res: ServerResponse) => sendJson(res, 404, { code: 'NOT_FOUND', message: 'no such file' });

/**
 * The path of a file in the web root, from the URL's path, or null when it could escape or is
 * hidden: every segment is decoded once and must be a plain name (no `.`, `..`, slashes,
 * backslashes or NUL after decoding); WEB-INF and META-INF are never served.
 */
export function webRootPath(encoded: string): string | null {
  if (encoded === '') return '';
  const segments = encoded.split('/');
  const decoded: string[] = [];
  let folder = false;
  for (const [index, segment] of segments.entries()) {
    let name: string;
    try {
      name = decodeURIComponent(segment);
    } catch {
      return null;
    }
    if (name === '' && index === segments.length - 1 && index > 0) {
      folder = true;
      break;
    }
    if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) return null;
    decoded.push(name);
  }
  if (decoded.length > 0 && HIDDEN_FOLDERS.has((decoded[0] ?? '').toLowerCase())) return null;
  return `${decoded.join('/')}${folder ? '/' : ''}`;
}

/**
 * What a runtime serves to browsers, devices and SDKs (R53, R54): the same code answers on a
 * runtime server and, for the embedded runtime, inside Shipyard.
 */
export class RuntimePublic {
  private readonly archives = new WebArchives();
  private readonly store: StorePages;

  constructor(private readonly host: RuntimeHost) {
    this.store = new StorePages(host);
  }

  close(): void {
    this.archives.close();
  }

  /** Answers the request if its path is one of the public routes; false otherwise. */
  async handle(req: IncomingMessage, res: ServerResponse, request: PublicRequest): Promise<boolean> {
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    if (await this.store.handle(req, res, request.environmentId, request.baseUrl, request.path, query)) return true;
    const app = APP_PATH.exec(request.path);
    if (!app) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { code: 'METHOD_NOT_ALLOWED', message: 'use GET or HEAD' }, { allow: 'GET, HEAD' });
      return true;
    }
    let appName: string;
    try {
      appName = decodeURIComponent(app[1] ?? '');
    } catch {
      notFound(res);
      return true;
    }
    const rest = app[2];
    if (rest === '/appconfig') await this.appConfig(req, res, request, appName);
    else if (rest === undefined) {
      // The folder itself: relative links of the page resolve under it only with the slash.
      res.writeHead(301, { location: `${request.baseUrl}${webClientPath(appName)}` }).end();
    } else
      void this.webFile(req, res, request.environmentId, appName, rest.slice(1)).catch(() => {
        if (!res.headersSent) sendJson(res, 500, { code: 'INTERNAL', message: 'the file could not be read' });
        else res.destroy();
      });
    return true;
  }

  /** R54: the JSON an SDK starts from, for the app's key and secret. */
  private async appConfig(req: IncomingMessage, res: ServerResponse, request: PublicRequest, appName: string): Promise<void> {
    const app = await this.host.reads.publishedApp(request.environmentId, appName);
    const key = req.headers['x-app-key'];
    const secret = req.headers['x-app-secret'];
    const keyMatches = app?.credentials && typeof key === 'string' && timingSafeEqual(sha256Of(key), sha256Of(app.credentials.appKey));
    const secretMatches =
      app?.credentials && typeof secret === 'string' && timingSafeEqual(sha256Of(secret), Buffer.from(app.credentials.secretSha256, 'hex'));
    if (!app || !keyMatches || !secretMatches)
      return sendJson(res, 401, { code: 'UNAUTHORIZED', message: 'send the app key and secret as X-App-Key and X-App-Secret' });
    const appBase = `${request.baseUrl}/apps/${encodeURIComponent(app.appName)}`;
    sendJson(res, 200, {
      appName: app.appName,
      identityServices: app.identityServices.map((service) => ({
        ...service,
        loginUrl: `${appBase}/authService/login?provider=${encodeURIComponent(service.name)}`,
      })),
      integrationServices: app.integrationServices.map((service) => ({ name: service.name, url: service.baseUrl })),
      webClientUrl: app.webClientSha256 ? `${request.baseUrl}${webClientPath(app.appName)}` : null,
      runtimeVersions: runtimeInfo(request.managementAvailable).versions,
    });
  }

  /** R53: one file of the live web client, read from the archive the request resolved first. */
  private async webFile(req: IncomingMessage, res: ServerResponse, environmentId: number, appName: string, encodedPath: string): Promise<void> {
    const path = webRootPath(encodedPath);
    if (path === null) return notFound(res);
    const archive = await this.liveArchive(environmentId, appName);
    if (!archive) return notFound(res);
    const wanted = path === '' || path.endsWith('/') ? `${path}index.html` : path;
    const entry = archive.entries.get(wanted);
    if (!entry) {
      // A folder named without its slash.
      if (archive.entries.has(`${wanted}/index.html`)) return void res.writeHead(301, { location: `${encodedPath.split('/').pop()}/` }).end();
      return notFound(res);
    }
    await this.sendEntry(req, res, archive, entry, wanted);
  }

  /**
   * The archive of the web client live now, resolved once per request (R38: a request never
   * mixes two versions). Should a newer deploy remove the file between the lookup and the open,
   * the lookup is made again and finds the newer one.
   */
  private async liveArchive(environmentId: number, appName: string): Promise<WebArchive | null> {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const app = await this.host.reads.publishedApp(environmentId, appName);
      if (!app?.webClientSha256) return null;
      try {
        return await this.archives.get(app.webClientSha256, this.host.blobs.pathOf(app.webClientSha256));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return null;
  }

  private async sendEntry(req: IncomingMessage, res: ServerResponse, archive: WebArchive, entry: Entry, name: string): Promise<void> {
    const size = entry.uncompressedSize;
    // The entry's CRC-32 and size: the same bytes answer the same tag in any version.
    const etag = `"${entry.crc32.toString(16).padStart(8, '0')}-${size.toString(16)}"`;
    const headers: Record<string, string> = {
      'content-type': contentType(name.split('/').pop() ?? '') || 'application/octet-stream',
      etag,
      'cache-control': 'no-cache',
      'accept-ranges': 'bytes',
      'x-content-type-options': 'nosniff',
    };
    const match = req.headers['if-none-match'];
    if (match && match.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag || tag.trim() === '*')) {
      res.writeHead(304, { etag, 'cache-control': 'no-cache' });
      return void res.end();
    }
    let range: { start: number; end: number } | undefined;
    const rangeHeader = req.headers.range;
    const ifRange = req.headers['if-range'];
    if (rangeHeader && (ifRange === undefined || ifRange === etag)) {
      const ranges = parseRange(size, rangeHeader, { combine: true });
      if (ranges === -1) {
        res.writeHead(416, { 'content-range': `bytes */${size}`, etag });
        return void res.end();
      }
      // One range is served; a malformed header or several ranges get the whole file.
      if (ranges !== -2 && ranges.length === 1 && ranges[0]) range = { start: ranges[0].start, end: ranges[0].end };
    }
    if (range) {
      headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
      headers['content-length'] = String(range.end - range.start + 1);
    } else headers['content-length'] = String(size);
    if (req.method === 'HEAD') {
      res.writeHead(range ? 206 : 200, headers);
      return void res.end();
    }
    const body: Readable = await archive.read(entry, range);
    res.writeHead(range ? 206 : 200, headers);
    body.once('error', () => res.destroy());
    res.once('close', () => body.destroy());
    body.pipe(res);
  }
}
