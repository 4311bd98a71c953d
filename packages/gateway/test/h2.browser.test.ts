import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../src/index.js';
import { testScope } from './support/gateway.js';
import { makeCert } from './support/tls.js';
import type { Echo, TestUpstream } from './support/upstreams.js';

// A real browser (Debian's chromium) gets h2 through ALPN from a TLS listener with http2: true.

const CHROMIUM = '/usr/bin/chromium';
const scope = testScope();
const dir = mkdtempSync(join(tmpdir(), 'gw-h2-browser-'));
let gw: RunningGateway;
let browser: BrowserContext | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); this test never downloads a browser`);
  const cert = makeCert(dir, 'browser', ['localhost']);
  const [up] = (await scope.upstreams('web-1')) as [TestUpstream];
  gw = await scope.gateway({
    admin: undefined,
    listeners: [{ host: '127.0.0.1', port: 0, tls: { certFile: cert.certFile, keyFile: cert.keyFile }, http2: true, hsts: { maxAgeSeconds: 600 } }],
    routes: [{ match: { prefix: '/' }, cluster: 'web' }],
    clusters: { web: { endpoints: [{ url: up.url }] } },
  });
  browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 90_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

describe('h2 in a browser', () => {
  it('chromium negotiates h2 with the TLS listener and gets the upstream page', async () => {
    const page = await browser!.newPage();
    const port = new URL(gw.urls[0]!).port;
    const res = await page.goto(`https://localhost:${port}/page?x=1`);
    expect(res?.status()).toBe(200);
    // Evaluated in the page (a string, so the Node typings of this file do not apply to browser APIs).
    expect(await page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol")).toBe('h2');
    const echo = JSON.parse(await page.locator('body').innerText()) as Echo;
    expect(echo).toMatchObject({ url: '/page?x=1', method: 'GET' });
    expect(echo.headers['x-forwarded-proto']).toBe('https');
    expect(res?.headers()['strict-transport-security']).toBe('max-age=600');
  });
});
