import { request } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { startUpstream, type Echo, type TestUpstream } from './support/upstreams.js';
import { gatewayFor, get } from './support/gateway.js';
import type { RunningGateway } from '../src/index.js';

let webmail: TestUpstream;
let activesync: TestUpstream;
let assets: TestUpstream;
let slow: TestUpstream;
let garbage: NetServer;
let resetter: NetServer;
let midReset: NetServer;
let gw: RunningGateway;
let base: string;
let closedPort: number;

function rawServer(onSocket: (s: import('node:net').Socket) => void): Promise<NetServer> {
  return new Promise((resolve) => {
    const s = createNetServer(onSocket);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}
const portOf = (s: NetServer) => (s.address() as { port: number }).port;

beforeAll(async () => {
  webmail = await startUpstream('webmail');
  activesync = await startUpstream('activesync');
  assets = await startUpstream('assets');
  slow = await startUpstream('slow');
  // Upstream faults: garbage instead of HTTP, a reset before any answer, a reset mid-body.
  garbage = await rawServer((s) => s.once('data', () => s.end('NOT HTTP AT ALL\r\n\r\n')));
  resetter = await rawServer((s) => s.once('data', () => s.resetAndDestroy()));
  midReset = await rawServer((s) =>
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\npartial');
      setTimeout(() => s.resetAndDestroy(), 50);
    }),
  );
  const tmp = await rawServer(() => undefined);
  closedPort = portOf(tmp);
  await new Promise((r) => tmp.close(r));
  gw = await gatewayFor({
    trustedProxies: ['10.0.0.0/8'],
    routes: [
      { match: { prefix: '/Microsoft-Server-ActiveSync', caseInsensitive: true }, cluster: 'activesync' },
      { match: { prefix: '/autodiscover/', caseInsensitive: true }, cluster: 'activesync' },
      { match: { prefix: ['/assets/', '/skins/', '/program/js/', '/static.php'] }, cluster: 'assets' },
      { match: { prefix: '/short/' }, cluster: 'slow', timeoutMs: 300 },
      { match: { prefix: '/fault/garbage' }, cluster: 'garbage' },
      { match: { prefix: '/fault/reset' }, cluster: 'resetter' },
      { match: { prefix: '/fault/midreset' }, cluster: 'midreset' },
      { match: { prefix: '/fault/refused' }, cluster: 'refused' },
      { match: { prefix: '/fault/nohealthy' }, cluster: 'nohealthy' },
      { match: { prefix: '/small/' }, cluster: 'webmail', bodyLimitBytes: 1000 },
      { match: { prefix: '/' }, cluster: 'webmail' },
    ],
    clusters: {
      webmail: { endpoints: [{ url: webmail.url }] },
      activesync: { lbPolicy: 'ring_hash', hashOn: { query: 'DeviceId' }, endpoints: [{ url: activesync.url }] },
      assets: { endpoints: [{ url: assets.url }] },
      slow: { endpoints: [{ url: slow.url }] },
      garbage: { endpoints: [{ url: `http://127.0.0.1:${portOf(garbage)}` }] },
      resetter: { endpoints: [{ url: `http://127.0.0.1:${portOf(resetter)}` }] },
      midreset: { endpoints: [{ url: `http://127.0.0.1:${portOf(midReset)}` }] },
      refused: { endpoints: [{ url: `http://127.0.0.1:${closedPort}` }] },
      nohealthy: { endpoints: [{ url: slow.url }], healthCheck: { path: '/nope', intervalMs: 200, timeoutMs: 100, healthyThreshold: 1, unhealthyThreshold: 1, expectedStatuses: [299] } },
    },
  });
  base = gw.urls[0]!;
});

afterAll(async () => {
  await gw?.close(1000);
  await Promise.all([webmail, activesync, assets, slow].map((u) => u?.close()));
  for (const s of [garbage, resetter, midReset]) s?.close();
});

describe('routing table', () => {
  const table: Array<[string, string]> = [
    ['/Microsoft-Server-ActiveSync?Cmd=Ping&DeviceId=a', 'activesync'],
    ['/microsoft-server-activesync', 'activesync'],
    ['/AutoDiscover/autodiscover.xml', 'activesync'],
    ['/assets/app.js', 'assets'],
    ['/skins/elastic/styles.css', 'assets'],
    ['/program/js/app.min.js', 'assets'],
    ['/static.php/x', 'assets'],
    ['/Skins/elastic/styles.css', 'webmail'], // assets route is case-sensitive
    ['/', 'webmail'],
    ['/?_task=mail&_action=show', 'webmail'],
    ['/assetsx', 'webmail'],
  ];
  it.each(table)('%s → %s', async (path, cluster) => {
    const res = await get(base + path);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-upstream')).toBe(cluster);
    expect((JSON.parse(res.text) as Echo).url).toBe(path);
  });
});

describe('request forwarding', () => {
  it('streams POST bodies and keeps method, path and query', async () => {
    const body = 'x'.repeat(200_000);
    const res = await get(`${base}/upload?a=1`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
    const echo = JSON.parse(res.text) as Echo;
    expect([echo.method, echo.url, echo.body.length]).toEqual(['POST', '/upload?a=1', 200_000]);
  });

  it('passes WebDAV methods through', async () => {
    const res = await get(`${base}/dav/calendars/`, { method: 'PROPFIND', body: '<propfind/>' });
    expect((JSON.parse(res.text) as Echo).method).toBe('PROPFIND');
  });

  it('answers 413 above the route body limit', async () => {
    const res = await get(`${base}/small/x`, { method: 'POST', body: 'y'.repeat(5000) });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text).code).toBe('GW_ERR_BODY_TOO_LARGE');
  });

  it('strips hop-by-hop headers, also those named in Connection', async () => {
    // node:http, because fetch refuses to send connection headers.
    const echo = await new Promise<Echo>((resolve, reject) => {
      const req = request(`${base}/h`, { headers: { 'x-drop-me': '1', connection: 'keep-alive, x-drop-me', 'keep-alive': 'timeout=5', 'x-keep': 'yes', te: 'trailers' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(JSON.parse(text) as Echo));
      });
      req.on('error', reject);
      req.end();
    });
    expect(echo.headers['x-drop-me']).toBeUndefined();
    expect(echo.headers['keep-alive']).toBeUndefined();
    expect(echo.headers['te']).toBeUndefined();
    expect(echo.headers['x-keep']).toBe('yes');
  });
});

describe('X-Forwarded-* and X-Request-Id', () => {
  it('untrusted client: spoofed X-Forwarded-* and X-Request-Id are replaced', async () => {
    const res = await get(`${base}/xff`, { headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil', 'x-request-id': 'spoofed', forwarded: 'for=6.6.6.6' } });
    const h = (JSON.parse(res.text) as Echo).headers;
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe(new URL(base).host);
    expect(h['x-forwarded-port']).toBe(new URL(base).port);
    expect(h['forwarded']).toBeUndefined();
    expect(h['x-request-id']).not.toBe('spoofed');
    expect(h['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-request-id')).toBe(h['x-request-id']);
  });

  it('trusted proxy (127.0.0.0/8 on a second gateway): the list is appended and the request id kept', async () => {
    const trusted = await gatewayFor({ trustedProxies: ['127.0.0.0/8'], admin: undefined, routes: [{ match: { prefix: '/' }, cluster: 'w' }], clusters: { w: { endpoints: [{ url: webmail.url }] } } });
    try {
      const res = await get(`${trusted.urls[0]}/xff`, { headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'mail.example.com', 'x-forwarded-port': '443', 'x-request-id': 'abc-123' } });
      const h = (JSON.parse(res.text) as Echo).headers;
      expect(h['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
      expect(h['x-forwarded-proto']).toBe('https');
      expect(h['x-forwarded-host']).toBe('mail.example.com');
      expect(h['x-forwarded-port']).toBe('443');
      expect(h['x-request-id']).toBe('abc-123');
    } finally {
      await trusted.close(500);
    }
  });
});

describe('status mapping: upstream faults are 502/503/504, never 500', () => {
  it('connection refused on every endpoint → 502 GW_ERR_UPSTREAM_CONNECT', async () => {
    const res = await get(`${base}/fault/refused`);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.text).code).toBe('GW_ERR_UPSTREAM_CONNECT');
  });

  it('no healthy endpoint → 503 GW_ERR_NO_HEALTHY_UPSTREAM', async () => {
    const deadline = Date.now() + 5000;
    let res = await get(`${base}/fault/nohealthy`);
    while (res.status !== 503 && Date.now() < deadline) res = await get(`${base}/fault/nohealthy`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text).code).toBe('GW_ERR_NO_HEALTHY_UPSTREAM');
  });

  it('a route with a short timeout → 504 on time', async () => {
    const start = Date.now();
    const res = await get(`${base}/short/sleep/3000`);
    const took = Date.now() - start;
    expect(res.status).toBe(504);
    expect(JSON.parse(res.text).code).toBe('GW_ERR_UPSTREAM_TIMEOUT');
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(300 + 1500);
  });

  it('garbage instead of HTTP → 502', async () => {
    const res = await get(`${base}/fault/garbage`);
    expect(res.status).toBe(502);
  });

  it('reset before any answer → 502 (POST too)', async () => {
    expect((await get(`${base}/fault/reset`)).status).toBe(502);
    expect((await get(`${base}/fault/reset`, { method: 'POST', body: 'x' })).status).toBe(502);
  });

  it('reset mid-body: the client connection ends, the gateway keeps serving', async () => {
    await expect(get(`${base}/fault/midreset`)).rejects.toThrow();
    const after = await get(`${base}/still-alive`);
    expect(after.status).toBe(200);
  });

  it('counts upstream errors in /metrics, by kind', async () => {
    const metrics = await get(`${gw.adminUrl}/metrics`);
    expect(metrics.text).toMatch(/gateway_upstream_errors_total\{cluster="refused",endpoint="127\.0\.0\.1:\d+",kind="connect"\} \d/);
    expect(metrics.text).toMatch(/gateway_upstream_errors_total\{cluster="slow",endpoint="[^"]+",kind="timeout"\} 1/);
    expect(metrics.text).not.toMatch(/status="500"/);
  });
});

describe('long poll', () => {
  it('an ActiveSync Ping held 3 s by the upstream completes (route timeout 3,660,000 ms)', async () => {
    const route = gw.runtime.state.routes.match('/Microsoft-Server-ActiveSync?Cmd=Ping')!;
    expect(route.timeoutMs).toBeGreaterThanOrEqual(3_660_000);
    const res = await get(`${base}/Microsoft-Server-ActiveSync/sleep/3000?Cmd=Ping&DeviceId=x`, { method: 'POST', body: 'ping', timeoutMs: 15_000 });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-upstream')).toBe('activesync');
  });
});

describe('WebSocket', () => {
  it('echoes through the gateway', async () => {
    const up = await startUpstream('ws');
    const wss = new WebSocketServer({ server: up.server });
    wss.on('connection', (sock, req) => sock.on('message', (m) => sock.send(`echo:${m.toString()}:${req.url}:${req.headers['x-forwarded-for']}`)));
    const g = await gatewayFor({ admin: undefined, routes: [{ match: { prefix: '/' }, cluster: 'ws' }], clusters: { ws: { endpoints: [{ url: up.url }] } } });
    try {
      const ws = new WebSocket(`${g.urls[0]!.replace('http', 'ws')}/socket?x=1`);
      const reply = await new Promise<string>((resolve, reject) => {
        ws.once('open', () => ws.send('hello'));
        ws.once('message', (m) => resolve(m.toString()));
        ws.once('error', reject);
      });
      expect(reply).toBe('echo:hello:/socket?x=1:127.0.0.1');
      ws.close();
    } finally {
      await g.close(500);
      wss.close();
      await up.close();
    }
  });
});
