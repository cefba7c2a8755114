import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, launchChromium, watchedPage } from './browser.js';
import { noUserErrors, startServer, type Client, type TestServer } from './kit.js';

/** Screenshots of each run stay here for people to look at. */
const shots = mkdtempSync(join(tmpdir(), 'shipyard-e2e-'));

const PUBLISH = `mutation ($input: PublishServicesAndWebInput!) {
  publishServicesAndWeb(input: $input) { job { id trackingId state } userErrors { code message } }
}`;

async function appAndEnvironment(admin: Client, name: string) {
  const created = await admin.request(
    `mutation ($app: CreateAppInput!, $env: CreateEnvironmentInput!) {
      createApp(input: $app) { app { id } } createEnvironment(input: $env) { environment { id } }
    }`,
    { app: { name, identityServices: [{ name: 'Login', providerType: 'UserStore' }] }, env: { name: `${name.toLowerCase()}-env` } },
  );
  return { appId: created.createApp.app.id as string, environmentId: created.createEnvironment.environment.id as string };
}

let browser: Browser;
/** An editor's or pane's text as a reader sees it (Monaco lays spaces out as no-break spaces). */
const textOf = async (page: import('playwright-core').Page, selector: string) => (await page.locator(selector).innerText()).replace(/\u00a0/g, ' ');
beforeAll(async () => {
  browser = await launchChromium();
  console.log(`e2e screenshots: ${shots}`);
});
afterAll(() => browser?.close());

describe('GraphiQL in headless Chromium (R65)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ seed: 'demo', publishStageDelayMs: 20 });
  });
  afterAll(() => t.stop());

  it('loads with no network beyond localhost, runs the example query, and runs a subscription that receives an event', async () => {
    const watched = await watchedPage(browser);
    const { page } = watched;
    try {
      await page.goto(`${t.url}/graphql`);
      await eventually(async () => (await textOf(page, '.graphiql-query-editor')).includes('query Overview'), 'the README example in the editor');
      const answered = page.waitForResponse((candidate) => candidate.request().method() === 'POST' && (candidate.request().postData() ?? '').includes('query Overview'));
      await page.locator('.graphiql-execute-button').click();
      const body = (await (await answered).json()) as { data?: { viewer: { user: { role: string } }; apps: { totalCount: number } }; errors?: unknown };
      expect(body.errors).toBeUndefined();
      expect(body.data?.viewer.user.role).toBe('ADMIN');
      expect(body.data?.apps.totalCount).toBeGreaterThan(0);
      // And the person sees it in the response pane.
      await eventually(async () => (await textOf(page, '.graphiql-response')).includes('"Administrator"'), 'the answer in the response pane');
      await page.screenshot({ path: join(shots, 'graphiql-query.png') });

      // A subscription, opened from the URL as a user would share it, receives a publish's events.
      const subscription = 'subscription WatchJobs {\n  publishJobsUpdated { trackingId state progress app { name } }\n}';
      await page.goto(`${t.url}/graphql?query=${encodeURIComponent(subscription)}`);
      await eventually(async () => (await textOf(page, '.graphiql-query-editor')).includes('WatchJobs'), 'the subscription in the editor');
      await page.locator('.graphiql-execute-button').click();
      const socket = await eventually(async () => watched.sockets.find((candidate) => candidate.url.endsWith('/graphql')), 'a WebSocket to /graphql');
      const world = await appAndEnvironment(t.admin, 'Watched');
      // The socket may still be connecting: publish until an event shows (each publish is an event).
      const seen = await eventually(
        async () => {
          const text = await textOf(page, '.graphiql-response');
          if (text.includes('SUCCEEDED')) return text;
          noUserErrors((await t.admin.request(PUBLISH, { input: { ...world, sync: true } })).publishServicesAndWeb);
          return null;
        },
        'a subscription event in the response pane',
        20_000,
        250,
      );
      expect(seen).toContain('Watched');
      expect(socket.closed).toBe(false);
      await page.screenshot({ path: join(shots, 'graphiql-subscription.png') });

      expect(watched.offsite).toEqual([]);
      expect(watched.consoleErrors).toEqual([]);
    } finally {
      await watched.context.close();
    }
  }, 90_000);

  it('gives the token to a page opened here and to nobody else: not a page on another local port, not a file:// page', async () => {
    const token = t.admin.token ?? '';
    // The probe reports whether a page it read carries a token, without holding the token itself.
    const probe = (target: string) => `<!doctype html><title>probe</title><script>
      Promise.all(['/graphql', '/dashboard'].map((path) =>
        fetch('${target}' + path, { headers: { accept: 'text/html' } }).then((r) => r.text()).then((body) => /Bearer |"token":"/.test(body) ? 'LEAKED' : 'no token', () => 'blocked')))
        .then((results) => { document.title = results.join(','); });
    </script>`;
    const elsewhere: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(probe(t.url)));
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const filePage = join(shots, 'probe.html');
    writeFileSync(filePage, probe(t.url));
    // Same-origin policy off: the pages read whatever the server answers them, so only the
    // server's own refusal keeps the token from them.
    const permissive = await launchChromium({ withoutSameOriginPolicy: true });
    try {
      const watched = await watchedPage(permissive);
      const { port } = elsewhere.address() as AddressInfo;
      for (const url of [`http://127.0.0.1:${port}/`, `file://${filePage}`]) {
        await watched.page.goto(url);
        const title = await eventually(async () => ((await watched.page.title()).includes(',') ? watched.page.title() : null), `the probe at ${url}`);
        expect(title, url).toBe('no token,no token');
      }
      // The positive control in the same browser: opened here, by the user, the page carries it.
      await watched.page.goto(`${t.url}/dashboard`);
      expect(await watched.page.content()).toContain(token);
      const sameOrigin = await watched.page.evaluate(() => fetch('/graphql', { headers: { accept: 'text/html' } }).then((r) => r.text()));
      expect(sameOrigin).toContain(token);
    } finally {
      await permissive.close();
      await new Promise((resolve) => elsewhere.close(resolve));
    }
  }, 60_000);
});

describe('the live dashboard in headless Chromium (R67)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ publishStageDelayMs: 400 });
  });
  afterAll(() => t.stop());

  it('shows a publish started through the API advance stage by stage to SUCCEEDED without a reload', async () => {
    const world = await appAndEnvironment(t.admin, 'Storefront');
    const watched = await watchedPage(browser);
    const { page } = watched;
    try {
      await page.goto(`${t.url}/dashboard`);
      await eventually(async () => (await page.getByTestId('connection').innerText()) === 'live', 'the dashboard to connect');
      const cell = page.locator('[data-cell="Storefront/storefront-env"] [data-part="servicesAndWeb"]');
      expect(await cell.innerText()).toBe('not published');
      await page.evaluate(() => Object.assign(window, { sameDocument: true }));

      // Every stage the page shows running is recorded as it is drawn, whatever the machine's load.
      await page.evaluate(() => {
        const shown: string[] = [];
        Object.assign(window, { runningShown: shown });
        new MutationObserver(() => {
          const key = document.querySelector('[data-job] [data-state="RUNNING"]')?.getAttribute('data-stage');
          if (key && shown.at(-1) !== key) shown.push(key);
        }).observe(document.body, { subtree: true, childList: true, attributes: true });
      });

      const { job } = noUserErrors((await t.admin.request(PUBLISH, { input: world })).publishServicesAndWeb);
      const card = page.locator(`[data-job="${job.trackingId}"]`);
      await eventually(async () => (await card.locator('[data-stage="PUBLISH_INTEGRATION_SERVICES"][data-state="RUNNING"]').count()) > 0, 'the third stage running on the page', 30_000);
      await page.screenshot({ path: join(shots, 'dashboard-running.png') });
      await eventually(async () => (await card.getAttribute('data-state')) === 'SUCCEEDED', 'the job to reach SUCCEEDED on the page', 30_000);
      const stages = await card.locator('[data-stage]').evaluateAll((items) => items.map((item) => [item.getAttribute('data-stage'), item.getAttribute('data-state')]));
      expect(stages).toEqual([
        ['VALIDATE', 'SUCCEEDED'],
        ['PUBLISH_IDENTITY_SERVICES', 'SUCCEEDED'],
        ['PUBLISH_INTEGRATION_SERVICES', 'SUCCEEDED'],
        ['DEPLOY_WEB_CLIENT', 'SKIPPED'],
        ['ACTIVATE', 'SUCCEEDED'],
      ]);
      // Each stage was shown running, one after another, in order.
      expect(await page.evaluate(() => (window as unknown as { runningShown: string[] }).runningShown)).toEqual(stages.map(([key]) => key));
      await eventually(async () => (await cell.innerText()) === 'published', 'the matrix cell to show PUBLISHED');
      expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
      await page.screenshot({ path: join(shots, 'dashboard-succeeded.png') });

      expect(watched.offsite).toEqual([]);
      expect(watched.consoleErrors).toEqual([]);
    } finally {
      await watched.context.close();
    }
  }, 90_000);
});
