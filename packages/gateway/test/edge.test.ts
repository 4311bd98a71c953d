import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { RunningGateway } from '../src/index.js';
import { get, testScope } from './support/gateway.js';
import { rawRequest } from './support/rawHttp.js';
import { startUpstream, type Echo, type TestUpstream } from './support/upstreams.js';

// The edge holes of issue 9, each on real sockets: paths, prefixes, smuggling, header hygiene,
// slow clients, connection caps, WebSocket caps, readable errors.

const scope = testScope();
const dir = mkdtempSync(join(tmpdir(), 'gw-edge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let assets: TestUpstream;
let eas: TestUpstream;
let web: TestUpstream;
let gw: RunningGateway;
/** Port of the listener with pathNormalization: reject (the default) and of the normalize one. */
let rejectPort: number;
let normalizePort: number;

const port = (url: string) => Number(new URL(url).port);

beforeAll(async () => {
  [assets, eas, web] = (await scope.upstreams('assets', 'eas', 'web')) as [TestUpstream, TestUpstream, TestUpstream];
  gw = await scope.gateway({
    admin: undefined,
    listeners: [
      { host: '127.0.0.1', port: 0 },
      { host: '127.0.0.1', port: 0, pathNormalization: 'normalize' },
    ],
    stripHeaders: ['X-Forwarded-User'],
    routes: [
      { match: { prefix: '/assets/' }, cluster: 'assets' },
      { match: { prefix: '/Microsoft-Server-ActiveSync', caseInsensitive: true }, cluster: 'eas' },
      { match: { prefix: '/legacy', boundary: false }, cluster: 'web' },
      { match: { prefix: '/mail' }, cluster: 'web' },
    ],
    clusters: { assets: { endpoints: [{ url: assets.url }] }, eas: { endpoints: [{ url: eas.url }] }, web: { endpoints: [{ url: web.url }] } },
  });
  [rejectPort, normalizePort] = gw.urls.map(port) as [number, number];
});

async function status(p: number, target: string): Promise<{ status: number; upstreamUrl: string | undefined; body: string }> {
  const r = await rawRequest(p, `GET ${target} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`);
  const body = r.text.slice(r.text.indexOf('\r\n\r\n') + 4);
  let upstreamUrl: string | undefined;
  try {
    upstreamUrl = (JSON.parse(body) as Echo).url;
  } catch {
    /* not an echo */
  }
  return { status: r.status, upstreamUrl, body };
}

describe('paths are judged as the upstream will see them', () => {
  const rejectCases = [
    { target: '/assets/../internal/secret.txt', expected: 400 },
    { target: '/assets/%2e%2e/internal/secret.txt', expected: 400 },
    { target: '/assets/%2E%2E/internal/secret.txt', expected: 400 },
    { target: '/assets/..%2finternal/secret.txt', expected: 400 },
    { target: '/assets/..%5cinternal/secret.txt', expected: 400 },
    { target: '/assets/./app.css', expected: 400 },
    { target: '/assets/sub/..', expected: 400 },
    { target: '/assets/app.min.js', expected: 200 },
    { target: '/assets/x..y/...', expected: 200 },
    { target: '/assets/a%20b.css?v=1', expected: 200 },
  ];
  it.each(rejectCases)('reject (default): $target → $expected', async ({ target, expected }) => {
    const r = await status(rejectPort, target);
    expect(r.status).toBe(expected);
    if (expected === 400) expect(JSON.parse(r.body)).toMatchObject({ code: 'GW_ERR_BAD_PATH' });
  });

  const normalizeCases = [
    { target: '/assets/../internal/secret.txt', expected: 404, upstream: undefined },
    { target: '/assets/%2e%2e/internal/secret.txt', expected: 404, upstream: undefined },
    { target: '/assets/..%2finternal/secret.txt', expected: 404, upstream: undefined },
    { target: '/assets/sub/../app.css?v=1', expected: 200, upstream: '/assets/app.css?v=1' },
    { target: '/assets/%2e/app.css', expected: 200, upstream: '/assets/app.css' },
    { target: '/assets%5capp.css', expected: 200, upstream: '/assets/app.css' },
    { target: '/../etc/passwd', expected: 400, upstream: undefined },
  ];
  it.each(normalizeCases)('normalize: $target → $expected (upstream sees $upstream)', async ({ target, expected, upstream }) => {
    const r = await status(normalizePort, target);
    expect([r.status, r.upstreamUrl]).toEqual([expected, upstream]);
  });
});

describe('prefixes match on a segment boundary', () => {
  const cases = [
    { target: '/Microsoft-Server-ActiveSync', upstream: 'eas' },
    { target: '/Microsoft-Server-ActiveSync?Cmd=Ping&DeviceId=d1', upstream: 'eas' },
    { target: '/microsoft-server-activesync/x', upstream: 'eas' },
    { target: '/Microsoft-Server-ActiveSyncEvil', upstream: undefined },
    { target: '/mail', upstream: 'web' },
    { target: '/mail/?_task=login', upstream: 'web' },
    { target: '/mailx', upstream: undefined },
    { target: '/legacyX', upstream: 'web' },
  ];
  it.each(cases)('$target → $upstream', async ({ target, upstream }) => {
    const res = await get(`${gw.urls[0]}${target}`);
    expect([res.status, res.headers.get('x-upstream') ?? undefined]).toEqual([upstream ? 200 : 404, upstream]);
  });
});

describe('request smuggling: every variant gets 400', () => {
  const H = 'Host: gw.test\r\n';
  const cases: Array<{ name: string; raw: string }> = [
    { name: 'CL.TE', raw: `POST /mail/ HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG` },
    { name: 'TE.CL', raw: `POST /mail/ HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n` },
    { name: 'TE.TE: chunked, identity', raw: `POST /mail/ HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n` },
    { name: 'TE.TE: xchunked', raw: `POST /mail/ HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n` },
    { name: 'TE with a space before the colon', raw: `POST /mail/ HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n` },
    { name: 'TE by obs-fold', raw: `POST /mail/ HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n` },
    { name: 'two different Content-Length', raw: `POST /mail/ HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde` },
    { name: 'Content-Length list', raw: `POST /mail/ HTTP/1.1\r\n${H}Content-Length: 4, 5\r\n\r\nabcde` },
    { name: 'Content-Length with a sign', raw: `POST /mail/ HTTP/1.1\r\n${H}Content-Length: +4\r\n\r\nabcd` },
    { name: 'Content-Length in hex', raw: `POST /mail/ HTTP/1.1\r\n${H}Content-Length: 0x4\r\n\r\nabcd` },
    { name: 'bad chunk size', raw: `POST /mail/ HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nabcd\r\n0\r\n\r\n` },
    { name: 'chunk size with bare LF', raw: `POST /mail/ HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n4\nabcd\r\n0\r\n\r\n` },
    { name: 'bare LF line endings', raw: 'GET /mail/ HTTP/1.1\nHost: gw.test\n\n' },
    { name: 'space in a header name', raw: `GET /mail/ HTTP/1.1\r\n${H}Foo Bar: x\r\n\r\n` },
    { name: 'NUL in a header value', raw: `GET /mail/ HTTP/1.1\r\n${H}X-A: a\u0000b\r\n\r\n` },
    { name: 'HTTP/1.1 without Host', raw: 'GET /mail/ HTTP/1.1\r\nX-A: 1\r\n\r\n' },
    { name: 'two Host headers', raw: `GET /mail/ HTTP/1.1\r\n${H}Host: attacker.example\r\n\r\n` },
    { name: 'absolute URI with another host', raw: `GET http://attacker.example/mail/ HTTP/1.1\r\n${H}\r\n` },
    { name: 'absolute URI without a dot', raw: `GET http://intranet/mail/ HTTP/1.1\r\n${H}\r\n` },
  ];
  it.each(cases)('$name', async ({ raw }) => {
    const before = web.hits;
    const r = await rawRequest(rejectPort, raw);
    expect(r.status).toBe(400);
    expect(web.hits).toBe(before);
  });
});

describe('header hygiene', () => {
  it('drops client-IP and URL-override headers (and the configured list) from untrusted clients', async () => {
    const res = await request(`${gw.urls[0]}/mail/h`, {
      headers: { 'x-real-ip': '6.6.6.6', 'x-client-ip': '6.6.6.6', 'true-client-ip': '6.6.6.6', 'cf-connecting-ip': '6.6.6.6', 'x-original-url': '/admin', 'x-rewrite-url': '/admin', 'x-forwarded-user': 'root', 'x-kept': 'yes' },
    });
    const echo = (await res.body.json()) as Echo;
    for (const h of ['x-real-ip', 'x-client-ip', 'true-client-ip', 'cf-connecting-ip', 'x-original-url', 'x-rewrite-url', 'x-forwarded-user']) expect(echo.headers[h]).toBeUndefined();
    expect(echo.headers['x-kept']).toBe('yes');
    expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('answers 431 past maxHeaderCount (100) instead of dropping headers, and accepts exactly 100', async () => {
    const headers = (n: number) => Array.from({ length: n }, (_, i) => `X-H-${i}: v\r\n`).join('');
    const over = await rawRequest(rejectPort, `GET /mail/ HTTP/1.1\r\nHost: gw.test\r\n${headers(100)}Connection: close\r\n\r\n`);
    expect(over.status).toBe(431);
    const at = await rawRequest(rejectPort, `GET /mail/ HTTP/1.1\r\nHost: gw.test\r\n${headers(98)}Connection: close\r\n\r\n`);
    expect(at.status).toBe(200);
  });
});

describe('no client can hold the gateway or an upstream hostage', () => {
  let slow: RunningGateway;
  let big: TestUpstream;
  beforeAll(async () => {
    big = await startUpstream('big', (req, res) => {
      if (req.url === '/big') res.end(Buffer.alloc(32 * 1024 * 1024, 97));
      else res.end(JSON.stringify({ name: 'big', method: req.method, url: req.url, headers: req.headers, body: '' }));
    });
    scope.defer(() => big.close());
    slow = await scope.gateway({
      admin: undefined,
      listeners: [{ host: '127.0.0.1', port: 0, clientHeaderTimeoutMs: 500, maxConnections: 3 }],
      routes: [{ match: { prefix: '/' }, cluster: 'big', clientBodyTimeoutMs: 500, clientSendTimeoutMs: 500 }],
      clusters: { big: { endpoints: [{ url: big.url }], connectionsPerEndpoint: 1 } },
    });
  });

  it('headers that do not arrive within clientHeaderTimeoutMs: 408 and close', async () => {
    const r = await rawRequest(port(slow.urls[0]!), 'GET / HTTP/1.1\r\nHost: gw.test\r\n', 5000);
    expect([r.status, r.closed]).toEqual([408, true]);
    expect(r.ms).toBeLessThan(3000);
  });

  it('a body announced but not sent: 408 GW_ERR_CLIENT_TIMEOUT after clientBodyTimeoutMs, and close', async () => {
    const r = await rawRequest(port(slow.urls[0]!), 'POST /up HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 100000\r\n\r\n', 5000);
    expect([r.status, r.closed]).toEqual([408, true]);
    expect(r.text).toContain('GW_ERR_CLIENT_TIMEOUT');
    expect(r.ms).toBeLessThan(3000);
  });

  it('an upload that stalls past the buffered part: the connection ends, the upstream connection is freed', async () => {
    const r = await rawRequest(port(slow.urls[0]!), ['POST /up HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 2000000\r\n\r\n', Buffer.alloc(1_100_000, 98)], 5000);
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(4000);
    expect((await get(`${slow.urls[0]}/after-upload`, { timeoutMs: 3000 })).status).toBe(200);
  });

  it('a client that never reads its response is closed after clientSendTimeoutMs and frees the upstream connection (pool of 1)', async () => {
    const s = connect(port(slow.urls[0]!), '127.0.0.1');
    s.pause();
    const closed = new Promise<number>((resolve) => s.once('close', () => resolve(Date.now())));
    s.write('GET /big HTTP/1.1\r\nHost: gw.test\r\n\r\n');
    const t0 = Date.now();
    // The only upstream connection is busy with /big until the gateway gives up on this client.
    const next = await get(`${slow.urls[0]}/next`, { timeoutMs: 8000 });
    expect(next.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(6000);
    s.resume();
    expect((await closed) - t0).toBeLessThan(8000);
  });

  it('maxConnections: connections past the cap are closed at once; room again once they leave', async () => {
    const p = port(slow.urls[0]!);
    const held = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<ReturnType<typeof connect>>((resolve) => {
            const s = connect(p, '127.0.0.1', () => resolve(s));
          }),
      ),
    );
    const over = await rawRequest(p, 'GET /x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n', 2000);
    expect([over.status, over.closed]).toEqual([0, true]);
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await rawRequest(p, 'GET /x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n', 2000)).status).toBe(200);
  });
});

describe('WebSocket upgrades per cluster are capped', () => {
  it('maxWebSocketConnections: 1 → the second upgrade gets 503 GW_ERR_TOO_MANY_WEBSOCKETS; a slot frees on close', async () => {
    const up = await startUpstream('ws');
    const wss = new WebSocketServer({ server: up.server });
    wss.on('connection', (sock) => sock.on('message', (m) => sock.send(`echo:${m.toString()}`)));
    scope.defer(async () => {
      wss.close();
      await up.close();
    });
    const g = await scope.gateway({ admin: undefined, routes: [{ match: { prefix: '/' }, cluster: 'ws' }], clusters: { ws: { endpoints: [{ url: up.url }], maxWebSocketConnections: 1 } } });
    const url = `${g.urls[0]!.replace('http', 'ws')}/socket`;
    const open = (): Promise<{ ws: WebSocket } | { status: number }> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(url);
        ws.once('open', () => resolve({ ws }));
        ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
        ws.once('error', reject);
      });
    const first = await open();
    expect('ws' in first).toBe(true);
    expect(await open()).toEqual({ status: 503 });
    (first as { ws: WebSocket }).ws.close();
    await new Promise((r) => setTimeout(r, 300));
    const third = await open();
    expect('ws' in third).toBe(true);
    (third as { ws: WebSocket }).ws.close();
  });
});

describe('errors people can read', () => {
  let down: RunningGateway;
  let custom: RunningGateway;
  beforeAll(async () => {
    const page = join(dir, '503.html');
    writeFileSync(page, '<html><body>Down for maintenance</body></html>');
    const cfg = {
      admin: undefined,
      routes: [
        { match: { prefix: '/drained' }, cluster: 'drained' },
        { match: { prefix: '/refused' }, cluster: 'refused' },
      ],
      clusters: { drained: { endpoints: [{ url: web.url }] }, refused: { endpoints: [{ url: 'http://127.0.0.1:9' }] } },
    };
    down = await scope.gateway(cfg);
    down.runtime.setDrained('drained', web.url, true);
    custom = await scope.gateway({ ...cfg, retryAfterSeconds: 30, errorPages: { '503': page } });
    custom.runtime.setDrained('drained', web.url, true);
  });

  it('a browser (Accept: text/html) gets a small HTML page with the request id, no internal address; 503 has Retry-After 5', async () => {
    const res = await get(`${down.urls[0]}/drained/x`, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.text).toContain('503 Service Unavailable');
    expect(res.text).toContain(res.headers.get('x-request-id')!);
    expect(res.text).not.toContain('127.0.0.1');
    expect(res.text).not.toContain('drained');
  });

  it('a 502 page does not show the upstream address either', async () => {
    const res = await get(`${down.urls[0]}/refused/x`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(502);
    expect(res.text).toContain('502 Bad Gateway');
    expect(res.text).not.toMatch(/127\.0\.0\.1|:9\b|refused/);
  });

  it('API clients keep the JSON body with code (and Retry-After on 503)', async () => {
    const res = await get(`${down.urls[0]}/drained/x`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(JSON.parse(res.text)).toMatchObject({ statusCode: 503, code: 'GW_ERR_NO_HEALTHY_UPSTREAM' });
  });

  it("the operator's page for a status (errorPages) and retryAfterSeconds", async () => {
    const res = await get(`${custom.urls[0]}/drained/x`, { headers: { accept: 'text/html' } });
    expect([res.status, res.headers.get('retry-after'), res.text]).toEqual([503, '30', '<html><body>Down for maintenance</body></html>']);
  });
});
