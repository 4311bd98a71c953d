import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopology, type DemoTopology } from '../src/index.js';

const CHROMIUM = '/usr/bin/chromium';
const REPO = join(import.meta.dirname, '..', '..', '..');
const RESULTS = join(REPO, 'test-results');

/** What the page footer says: which webmail node served it, which memcached nodes hold the session. */
async function footer(page: Page): Promise<{ node: string; sessionNodes: string[] }> {
  const el = page.locator('#nodeinfo');
  const node = (await el.getAttribute('data-node')) ?? '';
  const nodes = (await el.getAttribute('data-session-nodes')) ?? '';
  return { node, sessionNodes: nodes ? nodes.split(',') : [] };
}

async function composeState(page: Page): Promise<{ to: string; subject: string; body: string; token: string }> {
  return {
    to: await page.inputValue('#compose-to'),
    subject: await page.inputValue('#compose-subject'),
    body: await page.inputValue('#compose-body'),
    token: await page.inputValue('input[name="_token"]'),
  };
}

describe('the demo in a real browser: log in through the gateway, lose a memcached node and a webmail node, stay logged in', () => {
  let topology: DemoTopology | undefined;
  let browser: BrowserContext | undefined;
  let profile: string | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (sudo apt-get install -y chromium); this test never downloads a browser`);
    }
    mkdirSync(RESULTS, { recursive: true });
    // WEBTIER_KEEP_RUNDIR=1 keeps the run directory (every node's log) after the test, to look into a failure.
    // Free ports, not 8080: a demo someone is running must not collide with the test.
    topology = await startTopology({ keepRunDir: process.env['WEBTIER_KEEP_RUNDIR'] === '1', port: 0, httpsPort: 0, adminPort: 0, topology: { healthCheck: { intervalMs: 500, timeoutMs: 400, healthyThreshold: 1, unhealthyThreshold: 2 } } });
    profile = mkdtempSync(join(tmpdir(), 'webtier-chromium-'));
    // A fresh --user-data-dir: playwright passes it itself for a persistent context (launch() refuses the flag).
    // The demo's certificate is self-signed: Chromium accepts exactly its public key (the SPKI list
    // works only with a user data dir), not every bad certificate as --ignore-certificate-errors would.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: [`--ignore-certificate-errors-spki-list=${topology.certificate.spkiSha256}`, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await topology?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  }, 60_000);

  it('keeps the session, the draft and the CSRF token through a memcached kill and a webmail kill', async () => {
    const t = topology!;
    const page = await browser!.newPage();

    // Start at the old http:// URL: 308 to the same path over HTTPS, where the webmail sends us to /login.
    const landed = await page.goto(`${t.httpUrl}/mail?_from=http`);
    const hops: Array<[string, number | undefined]> = [];
    for (let r = landed!.request(); r; r = r.redirectedFrom()!) hops.unshift([r.url(), (await r.response())?.status()]);
    expect(hops[0]).toEqual([`${t.httpUrl}/mail?_from=http`, 308]);
    expect(hops[1]![0]).toBe(`${t.url}/mail?_from=http`);
    expect(new URL(page.url()).origin).toBe(t.url);
    expect(new URL(page.url()).pathname).toBe('/login');
    // Served over HTTPS with HTTP/2 (ALPN), with the demo's certificate.
    expect(await page.evaluate(() => [location.protocol, (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol])).toEqual(['https:', 'h2']);
    expect(await landed!.securityDetails()).toMatchObject({ subjectName: 'localhost' });
    // No HSTS on purpose: it would bind the name localhost (every port) to HTTPS in this browser.
    expect(landed!.headers()['strict-transport-security']).toBeUndefined();
    await expect.poll(() => page.locator('#notice').textContent()).toContain('Login required');
    await page.fill('#rcmloginuser', 'alice');
    await page.fill('#rcmloginpwd', 'wonderland');
    await Promise.all([page.waitForURL('**/mail'), page.click('#rcmloginsubmit')]);
    await expect.poll(() => page.locator('#messagelist').textContent()).toContain('Welcome to the webtier demo');
    // The skin came from the asset cluster through the gateway: the top bar has its colour.
    expect(await page.locator('header.topbar').evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(44, 54, 58)');

    // Compose and save a draft (kept in the session).
    await page.goto(`${t.url}/compose`);
    await page.fill('#compose-to', 'bob@example.org');
    await page.fill('#compose-subject', 'Failover, live');
    await page.fill('#compose-body', 'Written before a memcached node and a webmail node died.');
    await Promise.all([page.waitForURL('**/compose?_saved=1'), page.click('#compose-save')]);
    const saved = await composeState(page);
    expect(saved).toMatchObject({ to: 'bob@example.org', subject: 'Failover, live' });
    expect(saved.token).toMatch(/^[\w-]{32}$/);
    const before = await footer(page);
    expect(before.sessionNodes).toHaveLength(2);

    // Kill a memcached node that holds this session; reload: still logged in, same draft and token.
    const memcachedVictim = t.nameOf(before.sessionNodes[0]!)!;
    expect(memcachedVictim).toMatch(/^memcached-\d$/);
    await t.kill(memcachedVictim);
    await page.reload();
    expect(new URL(page.url()).pathname).toBe('/compose');
    expect(await composeState(page)).toEqual(saved);

    // Kill the webmail node that served the page; reload: another node serves it, same session.
    const served = (await footer(page)).node;
    expect(served).toMatch(/^webmail-\d$/);
    await t.kill(served);
    await page.reload();
    expect(new URL(page.url()).pathname).toBe('/compose');
    expect(await composeState(page)).toEqual(saved);
    const after = await footer(page);
    expect(after.node).not.toBe(served);

    // Send with the CSRF token from before both kills: accepted.
    await Promise.all([page.waitForURL('**/mail?_mbox=Sent&_sent=1'), page.click('#compose-send')]);
    expect(await page.locator('#notice').textContent()).toContain('Message sent successfully.');
    expect(await page.locator('#messagelist').textContent()).toContain('Failover, live');

    // Screenshots: the mailbox (its footer shows the node that served it and the session's nodes)
    // and the gateway's status page once its health checks have seen the dead webmail node.
    await page.goto(`${t.url}/mail`);
    await page.screenshot({ path: join(RESULTS, 'demo-mailbox.png'), fullPage: true });
    await page.waitForTimeout(2500);
    await page.goto(t.statusUrl);
    await page.screenshot({ path: join(RESULTS, 'demo-status.png'), fullPage: true });
    expect(await page.content()).toContain(t.node(served).address); // the dead endpoint is listed
    if (process.env['WEBTIER_UPDATE_DOC_IMAGES'] === '1') {
      mkdirSync(join(REPO, 'docs', 'img'), { recursive: true });
      copyFileSync(join(RESULTS, 'demo-mailbox.png'), join(REPO, 'docs', 'img', 'demo-mailbox.png'));
      copyFileSync(join(RESULTS, 'demo-status.png'), join(REPO, 'docs', 'img', 'demo-status.png'));
    }
    await page.close();
  }, 90_000);
});
