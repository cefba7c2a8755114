import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (R67): `.ci/run` installs it when it is missing. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless Chromium that reaches nothing on its own: no background traffic of its own at all.
 * `withoutSameOriginPolicy` lets pages read cross-origin answers, so that what the server sends
 * other pages is seen, not hidden by the browser.
 */
export function launchChromium({ withoutSameOriginPolicy = false } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(withoutSameOriginPolicy ? ['--disable-web-security'] : []),
    ],
  });
}

const isLocal = (url: string) => {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'file:') return true;
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
};

/** A page whose every request is watched: any beyond localhost is refused and remembered, as are console errors. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Requests (HTTP and WebSocket) the page tried beyond localhost. */
  offsite: string[];
  consoleErrors: string[];
  /** WebSockets the page opened, with the close code once closed. */
  sockets: { url: string; closed: boolean }[];
}

export async function watchedPage(browser: Browser): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const offsite: string[] = [];
  const consoleErrors: string[] = [];
  const sockets: WatchedPage['sockets'] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    offsite.push(url);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  page.on('requestfailed', (request) => {
    if (!isLocal(request.url())) offsite.push(request.url());
  });
  page.on('websocket', (socket) => {
    const entry = { url: socket.url(), closed: false };
    sockets.push(entry);
    if (!isLocal(socket.url())) offsite.push(socket.url());
    socket.on('close', () => (entry.closed = true));
  });
  return { page, context, offsite, consoleErrors, sockets };
}

/** Polls `probe` until it answers something truthy, at most `timeoutMs`; never a fixed sleep. */
export async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
