import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mayPrefillToken } from './prefill.js';

/** Where `npm run build:web` (run by `prepare`) writes the browser bundles. */
const webBuild = new URL('../../dist/web/', import.meta.url);

/**
 * R63: pages run only our own scripts and talk only to this origin (ws: included); inline styles
 * are allowed because GraphiQL's editor sets them at run time.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const pageHeaders = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // A page may carry a token: never kept by a cache, and it depends on who asks.
  'cache-control': 'no-store',
};

/** The README's first example, so the page opens on something that runs as written (R65). */
function readmeFirstExample(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const example = /^```graphql\n([\s\S]*?)^```/m.exec(readme)?.[1];
  if (!example) throw new Error('README.md has no graphql example');
  return example;
}

export const GRAPHIQL_DEFAULT_QUERY = `# Welcome to Shipyard. Press the play button to run
# this example from the README. Opened on the machine
# Shipyard runs on, the admin token is in Headers.
${readmeFirstExample()}`;

/** JSON that can sit inside a <script type="application/json"> element. */
const embeddedJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

const page = (title: string, head: string, body: string, bodyAttributes = '') => `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title}</title>
    ${head}
  </head>
  <body${bodyAttributes}>
    ${body}
  </body>
</html>
`;

function graphiqlPage(token: string | null): string {
  const options = {
    title: 'Shipyard',
    defaultQuery: GRAPHIQL_DEFAULT_QUERY,
    // The token stays in the page, not in the browser's storage.
    shouldPersistHeaders: false,
    ...(token ? { headers: JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2) } : {}),
  };
  return page(
    'Shipyard · GraphiQL',
    '<link rel="icon" href="/graphiql/favicon.ico" />\n    <link rel="stylesheet" href="/graphiql/graphiql.css" />',
    `<div id="root"></div>
    <script type="application/json" id="graphiql-options">${embeddedJson(options)}</script>
    <script src="/graphiql/graphiql.js"></script>
    <script src="/assets/graphiql-start.js"></script>`,
    ' id="body" class="no-focus-outline"',
  );
}

function dashboardPage(token: string | null): string {
  return page(
    'Shipyard · Dashboard',
    '<link rel="icon" href="/favicon.ico" />\n    <link rel="stylesheet" href="/assets/dashboard.css" />',
    `<div id="app"></div>
    <script type="application/json" id="dashboard-options">${embeddedJson({ token })}</script>
    <script src="/assets/dashboard.js"></script>`,
  );
}

type GraphiQLAssets = typeof import('@graphql-yoga/render-graphiql/graphiql');

/**
 * GraphiQL's own files, from the installed package: nothing comes from a CDN (R65). The package
 * is loaded on first use: 9 MB that a server nobody opens GraphiQL on need not parse.
 */
let graphiqlAssets: Promise<GraphiQLAssets> | undefined;
const favicon = (assets: GraphiQLAssets) => Buffer.from(assets.favicon.slice(assets.favicon.indexOf(',') + 1), 'base64');
const graphiqlFiles: Record<string, { type: string; body: (assets: GraphiQLAssets) => string | Buffer }> = {
  '/graphiql/graphiql.js': { type: 'text/javascript', body: (assets) => assets.js },
  '/graphiql/graphiql.css': { type: 'text/css', body: (assets) => assets.css },
  '/graphiql/favicon.ico': { type: 'image/x-icon', body: favicon },
  '/favicon.ico': { type: 'image/x-icon', body: favicon },
  '/graphiql/workers/editorWorkerService.js': { type: 'text/javascript', body: (assets) => assets.editorWorkerService },
  '/graphiql/workers/json.js': { type: 'text/javascript', body: (assets) => assets.jsonWorker },
  '/graphiql/workers/graphql.js': { type: 'text/javascript', body: (assets) => assets.graphqlWorker },
};

const builtFiles: Record<string, string> = {
  '/assets/graphiql-start.js': 'text/javascript',
  '/assets/dashboard.js': 'text/javascript',
  '/assets/dashboard.css': 'text/css',
};

function sendAsset(res: ServerResponse, type: string, body: string | Buffer): void {
  res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' });
  res.end(body);
}

export interface PageOptions {
  /** The admin token a page may be pre-filled with, if any (R2). */
  adminToken: () => Promise<string | null>;
  /** GRAPHIQL_PREFILL: false never pre-fills. */
  prefill: boolean;
}

/**
 * GraphiQL on GET /graphql for a browser, the dashboard on /dashboard, and their files. Answers
 * whether it handled the request.
 */
export async function handlePages(req: IncomingMessage, res: ServerResponse, path: string, options: PageOptions): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const token = async () => (options.prefill && mayPrefillToken(req) ? options.adminToken() : null);
  if (path === '/graphql' && (req.headers.accept ?? '').includes('text/html')) {
    res.writeHead(200, pageHeaders);
    res.end(graphiqlPage(await token()));
    return true;
  }
  if (path === '/dashboard' || path === '/dashboard/') {
    res.writeHead(200, pageHeaders);
    res.end(dashboardPage(await token()));
    return true;
  }
  const graphiqlFile = graphiqlFiles[path];
  if (graphiqlFile) {
    (graphiqlAssets ??= import('@graphql-yoga/render-graphiql/graphiql')).then(
      (assets) => sendAsset(res, graphiqlFile.type, graphiqlFile.body(assets)),
      (error: unknown) => res.destroy(error instanceof Error ? error : new Error(String(error))),
    );
    return true;
  }
  const builtType = builtFiles[path];
  if (builtType) {
    const file = new URL(`.${path.slice('/assets'.length)}`, webBuild);
    if (!existsSync(file)) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('The browser bundles are not built: run npm run build:web (npm install runs it).\n');
      return true;
    }
    sendAsset(res, builtType, readFileSync(file));
    return true;
  }
  return false;
}
