import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, watchedPage } from './browser.js';
import { startServer, type TestServer } from './kit.js';

/** Screenshots stay here (and are copied for people to look at when that folder exists). */
const shots = mkdtempSync(join(tmpdir(), 'shipyard-runtime-pages-'));
const SHARED_SHOTS = '/work/brief/screenshots';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const operation = (name: string) => {
  const found = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1] ?? '').find((text) => new RegExp(`^(query|mutation) ${name}\\b`, 'm').test(text));
  if (!found) throw new Error(`README has no ${name}`);
  return found;
};

function keep(file: string, name: string): void {
  try {
    mkdirSync(SHARED_SHOTS, { recursive: true });
    copyFileSync(file, join(SHARED_SHOTS, `h13-${name}`));
  } catch {
    // Only a convenience for people looking at a run.
  }
}

let browser: Browser;
let t: TestServer;
beforeAll(async () => {
  browser = await launchChromium();
  t = await startServer({ seed: 'demo' });
  console.log(`runtime page screenshots: ${shots}`);
});
afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

describe("what the embedded runtime serves, in headless Chromium (README's examples, R53, R55)", () => {
  it("the demo app's web client opens at the webClientUrl GraphiQL answers, and the store link lists the app for its user", async () => {
    expect((await t.admin.request(operation('PublishDemoWebClient'))).publishServicesAndWeb.job.state).toBe('SUCCEEDED');
    const { apps } = await t.admin.request(operation('WebClientAndSdkConfig'));
    const dev = apps.nodes[0].environmentStatuses.find((row: { environment: { name: string } }) => row.environment.name === 'dev');
    expect(dev.webClientUrl).toBe(`${t.url}/runtime/dev/apps/RetailBanking/`);

    const watched = await watchedPage(browser);
    try {
      const response = await watched.page.goto(dev.webClientUrl);
      expect(response?.status()).toBe(200);
      expect(await watched.page.title()).toBe('Retail Banking');
      // Its stylesheet, a relative link, came from the same archive.
      expect(await watched.page.locator('h1').evaluate((element) => getComputedStyle(element).color)).toBe('rgb(27, 95, 209)');
      await watched.page.screenshot({ path: join(shots, 'web-client.png') });
      keep(join(shots, 'web-client.png'), 'web-client.png');
    } finally {
      await watched.context.close();
    }

    const invited = await t.admin.request(operation('InviteAliceAndPublishNative'));
    expect(invited.publishNativeClient.job.state).toBe('SUCCEEDED');
    const storeUrl = invited.createStoreInvitation.storeUrl as string;
    const { node: alice } = await t.admin.request(operation('AliceStoreLink'));
    expect(alice.notifications[0].storeUrl).toBe(storeUrl);

    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      const page = await phone.newPage();
      const errors: string[] = [];
      page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
      expect((await page.goto(storeUrl))?.status()).toBe(200);
      expect(await page.title()).toBe('Enterprise Store');
      expect(await page.locator('li.app .name').allInnerTexts()).toEqual(['RetailBanking']);
      const installs = await page.locator('a.install').evaluateAll((links) => links.map((link) => [link.textContent, link.getAttribute('href')]));
      expect(installs.map(([text]) => text?.replace(/[\d.]+/, 'N')).sort()).toEqual(['Install N for Windows', 'Install N for iPhone']);
      expect(installs.find(([text]) => text?.includes('iPhone'))?.[1]).toMatch(/^itms-services:\/\/\?action=download-manifest&url=/);
      // Nothing on the page overflows a phone's width.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(errors).toEqual([]);
      await page.screenshot({ path: join(shots, 'store.png'), fullPage: true });
      keep(join(shots, 'store.png'), 'store.png');
    } finally {
      await phone.close();
    }
  });
});
