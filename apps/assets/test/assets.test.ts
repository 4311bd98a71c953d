import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssetsErrorCodes, cacheControlFor, createAssetServer, isVersioned } from '../src/index.js';

describe('cache policy (pure)', () => {
  it.each([
    ['/skins/elastic/styles/styles.css?v=0.1.0', true],
    ['/program/js/app.js?s=1700000000', true],
    ['/program/js/app.3f9a1c2e.js', true],
    ['/program/js/app.js', false],
    ['/program/js/app.js?v=', false],
    ['/program/js/app.js?x=1', false],
  ])('%s versioned=%s', (url, expected) => {
    expect(isVersioned(url)).toBe(expected);
    expect(cacheControlFor(url)).toBe(expected ? 'public, max-age=604800' : 'public, no-cache');
  });
});

describe('asset server (real HTTP)', () => {
  let app: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    app = await createAssetServer({ name: 'assets-test' });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('serves the webmail skin with ETag, Last-Modified and a week of cache for versioned URLs', async () => {
    const res = await fetch(`${base}/skins/elastic/styles/styles.css?v=0.1.0`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/css/);
    expect(res.headers.get('etag')).toBeTruthy();
    expect(res.headers.get('last-modified')).toBeTruthy();
    expect(res.headers.get('cache-control')).toBe('public, max-age=604800');
    expect(res.headers.get('x-served-by')).toBe('assets-test');
    expect(await res.text()).toContain('elastic');
  });

  it('answers 304 to If-None-Match and to If-Modified-Since, keeping the cache policy', async () => {
    const first = await fetch(`${base}/program/js/app.js?v=1`);
    await first.arrayBuffer();
    const etag = first.headers.get('etag')!;
    const lastModified = first.headers.get('last-modified')!;
    // undici.request, not fetch: fetch adds "Cache-Control: no-cache" to conditional requests (Fetch spec).
    const byEtag = await request(`${base}/program/js/app.js?v=1`, { headers: { 'if-none-match': etag } });
    await byEtag.body.dump();
    expect(byEtag.statusCode).toBe(304);
    expect(byEtag.headers['cache-control']).toBe('public, max-age=604800');
    const byDate = await request(`${base}/program/js/app.js?v=1`, { headers: { 'if-modified-since': lastModified } });
    await byDate.body.dump();
    expect(byDate.statusCode).toBe(304);
    const changed = await request(`${base}/program/js/app.js?v=1`, { headers: { 'if-none-match': '"not-it"' } });
    await changed.body.dump();
    expect(changed.statusCode).toBe(200);
  });

  it('makes unversioned URLs revalidate every time', async () => {
    const res = await fetch(`${base}/program/js/app.js`);
    await res.arrayBuffer();
    expect(res.headers.get('cache-control')).toBe('public, no-cache');
  });

  it('answers /healthz and 404s for missing files and dotfiles', async () => {
    const health = await fetch(`${base}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok', name: 'assets-test' });
    expect((await fetch(`${base}/skins/nope.css`)).status).toBe(404);
    expect((await fetch(`${base}/../package.json`)).status).toBe(404);
  });

  it('rejects a bad root with a stable code', async () => {
    await expect(createAssetServer({ root: '/nonexistent/webtier' })).rejects.toMatchObject({ code: AssetsErrorCodes.NO_ROOT });
  });
});
