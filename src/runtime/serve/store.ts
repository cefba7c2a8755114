import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { build as buildPlist } from 'plist';
import parseRange from 'range-parser';
import type { RuntimeHost } from '../embedded/index.js';
import type { ManagementApp, ManagementVersion, RuntimePlatform } from '../types.js';

/** `/store/<token>`, `/store/<token>/apps/<id>/<platform>` and its `/manifest.plist`. */
const STORE_PATH = /^\/store\/([A-Za-z0-9_-]{16,100})(?:\/apps\/(\d{1,15})\/([A-Z_]{1,20})(\/manifest\.plist)?)?$/;

const EXTENSIONS: Record<RuntimePlatform, string> = {
  IOS_PHONE: 'ipa',
  IOS_TABLET: 'ipa',
  ANDROID_PHONE: 'apk',
  ANDROID_TABLET: 'apk',
  WINDOWS: 'appx',
  WEB: 'zip',
};
const PLATFORM_NAMES: Record<RuntimePlatform, string> = {
  IOS_PHONE: 'iPhone',
  IOS_TABLET: 'iPad',
  ANDROID_PHONE: 'Android phone',
  ANDROID_TABLET: 'Android tablet',
  WINDOWS: 'Windows',
  WEB: 'Web',
};

export interface StoreInstall {
  platform: RuntimePlatform;
  version: string;
  /** Android and Windows: the signed artifact itself; iOS: an itms-services link to its manifest. */
  installUrl: string;
  downloadUrl: string;
  manifestUrl: string | null;
  sha256: string;
}

export interface StoreApp {
  name: string;
  preview: boolean;
  description: string | null;
  installs: StoreInstall[];
}

const isIos = (platform: RuntimePlatform) => platform === 'IOS_PHONE' || platform === 'IOS_TABLET';

/** Newest version per platform (versions come by platform, newest first). */
function newestVersions(app: ManagementApp): ManagementVersion[] {
  const seen = new Set<RuntimePlatform>();
  return app.versions.filter((version) => version.platform !== 'WEB' && !seen.has(version.platform) && seen.add(version.platform));
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (character) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[character] ?? character);

const STYLE = `body{font:16px/1.4 system-ui,sans-serif;margin:0;padding:1rem;background:#f4f5f7;color:#1d2330}
h1{font-size:1.3rem;margin:0 0 1rem}ul{list-style:none;margin:0;padding:0}
li.app{background:#fff;border-radius:10px;padding:1rem;margin:0 0 .8rem;box-shadow:0 1px 3px #0002}
.name{font-weight:600;font-size:1.1rem}.desc{color:#556;margin:.2rem 0 .6rem}
a.install{display:block;margin:.4rem 0 0;padding:.7rem;border-radius:8px;background:#1b5fd1;color:#fff;text-decoration:none;text-align:center}
.empty{color:#556}`;

function storeHtml(apps: StoreApp[]): string {
  const items = apps
    .map(
      (app) => `<li class="app"><div class="name">${escapeHtml(app.name)}${app.preview ? ' (preview)' : ''}</div>${
        app.description ? `<div class="desc">${escapeHtml(app.description)}</div>` : ''
      }${app.installs
        .map((install) => `<a class="install" href="${escapeHtml(install.installUrl)}">Install ${escapeHtml(install.version)} for ${PLATFORM_NAMES[install.platform]}</a>`)
        .join('')}</li>`,
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Enterprise Store</title><style>${STYLE}</style></head>
<body><h1>Enterprise Store</h1>${apps.length > 0 ? `<ul>${items}</ul>` : '<p class="empty">No apps for you here yet.</p>'}</body></html>`;
}

const sendJson = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
  res.end(JSON.stringify(body));
};

/**
 * The Enterprise Store for devices (R55, R56): a personal link lists the user's store apps with
 * install links, and serves their signed artifacts and iOS manifests; a link revoked, expired or
 * of a user no longer targeted answers 404 for everything.
 */
export class StorePages {
  constructor(private readonly host: RuntimeHost) {}

  /** False when the path is not a store path. */
  async handle(req: IncomingMessage, res: ServerResponse, environmentId: number, baseUrl: string, path: string, query: URLSearchParams): Promise<boolean> {
    if (!path.startsWith('/store/')) return false;
    const match = STORE_PATH.exec(path);
    if (!match) return sendJson(res, 404, { code: 'NOT_FOUND', message: 'no such store page' }), true;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    const [, token = '', appId, platform, manifest] = match;
    const store = await this.host.reads.storeOf(environmentId, createHash('sha256').update(token).digest('hex'), Date.now());
    if (!store) return sendJson(res, 404, { code: 'NOT_FOUND', message: 'this store link is unknown, revoked or expired' }), true;
    const linkBase = `${baseUrl}/store/${token}`;
    if (appId === undefined) {
      const apps = store.apps.map((app) => this.storeApp(app, linkBase));
      const wantsJson = query.get('format') === 'json' || (req.headers.accept ?? '').includes('application/json');
      if (wantsJson) return sendJson(res, 200, { apps }), true;
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : storeHtml(apps));
      return true;
    }
    const app = store.apps.find((candidate) => candidate.id === Number(appId));
    const version = app && newestVersions(app).find((candidate) => candidate.platform === platform);
    if (!app || !version) return sendJson(res, 404, { code: 'NOT_FOUND', message: 'no such app for this link' }), true;
    if (manifest) {
      if (!isIos(version.platform)) return sendJson(res, 404, { code: 'NOT_FOUND', message: 'only iOS apps have a manifest' }), true;
      res.writeHead(200, { 'content-type': 'application/xml', 'cache-control': 'no-store' });
      res.end(
        buildPlist({
          items: [
            {
              assets: [{ kind: 'software-package', url: `${linkBase}/apps/${app.id}/${version.platform}` }],
              metadata: { 'bundle-identifier': version.bundleId ?? '', 'bundle-version': version.version, kind: 'software', title: app.appName },
            },
          ],
        }),
      );
      return true;
    }
    void this.download(req, res, app, version).catch(() => (res.headersSent ? res.destroy() : sendJson(res, 500, { code: 'INTERNAL', message: 'the file could not be read' })));
    return true;
  }

  private storeApp(app: ManagementApp, linkBase: string): StoreApp {
    return {
      name: app.appName,
      preview: app.preview,
      description: app.description,
      installs: newestVersions(app).map((version) => {
        const downloadUrl = `${linkBase}/apps/${app.id}/${version.platform}`;
        const manifestUrl = isIos(version.platform) ? `${downloadUrl}/manifest.plist` : null;
        return {
          platform: version.platform,
          version: version.version,
          installUrl: manifestUrl ? `itms-services://?action=download-manifest&url=${encodeURIComponent(manifestUrl)}` : downloadUrl,
          downloadUrl,
          manifestUrl,
          sha256: version.artifactSha256,
        };
      }),
    };
  }

  /** R56: the signed artifact, with its length, Range, SHA-256 and Ed25519 signature. */
  private async download(req: IncomingMessage, res: ServerResponse, app: ManagementApp, version: ManagementVersion): Promise<void> {
    const path = this.host.blobs.pathOf(version.artifactSha256);
    const { size } = await stat(path);
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(`${app.appName}-${version.version}.${EXTENSIONS[version.platform]}`)}`,
      'accept-ranges': 'bytes',
      etag: `"${version.artifactSha256}"`,
      'x-content-sha256': version.artifactSha256,
      'x-content-signature': version.signature,
      'cache-control': 'no-store',
    };
    let range: { start: number; end: number } | null = null;
    if (req.headers.range) {
      const ranges = parseRange(size, req.headers.range, { combine: true });
      if (ranges === -1) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        return void res.end();
      }
      if (ranges !== -2 && ranges.length === 1 && ranges[0]) range = ranges[0];
    }
    headers['content-length'] = String(range ? range.end - range.start + 1 : size);
    if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD') return void res.end();
    const file = createReadStream(path, range ? { start: range.start, end: range.end } : {});
    file.once('error', () => res.destroy());
    res.once('close', () => file.destroy());
    file.pipe(res);
  }
}
