import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { GatewayConfigInput, RunningGateway } from '../src/index.js';
import { gatewayFor, testScope } from './support/gateway.js';
import { makeCert, type TestCert } from './support/tls.js';
import type { Echo, TestUpstream } from './support/upstreams.js';

// HTTPS listeners on real sockets, certificates made by openssl at test time; undici, node:tls
// and curl as clients.

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gw-tls-'));
const scope = testScope();
let up: TestUpstream;
let main: TestCert;
let sni: TestCert;
let other: TestCert;
let expired: TestCert;
/** The files the listener is configured with; tests swap their contents. */
const live = { certFile: join(dir, 'live.crt'), keyFile: join(dir, 'live.key') };
let gw: RunningGateway;
let httpsUrl: string;
let redirectUrl: string;

function install(c: TestCert): void {
  copyFileSync(c.certFile, live.certFile);
  copyFileSync(c.keyFile, live.keyFile);
}

function config(): GatewayConfigInput {
  return {
    logLevel: 'silent',
    listeners: [
      { host: '127.0.0.1', port: 0, tls: { ...live, sni: [{ serverNames: ['autodiscover.example.org'], certFile: sni.certFile, keyFile: sni.keyFile }] }, http2: true, hsts: { maxAgeSeconds: 31536000 } },
      { host: '127.0.0.1', port: 0, redirectToHttps: true, redirectPort: 8443 },
    ],
    routes: [{ match: { prefix: '/' }, cluster: 'web' }],
    clusters: { web: { endpoints: [{ url: up.url }] } },
  };
}

/** The certificate the listener presents for a server name. */
function peerCert(servername: string): Promise<PeerCertificate> {
  const port = Number(new URL(httpsUrl).port);
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      resolve(s.getPeerCertificate());
      s.end();
    });
    s.once('error', reject);
  });
}

beforeAll(async () => {
  main = makeCert(dir, 'main', ['localhost', 'mail.example.org']);
  sni = makeCert(dir, 'sni', ['autodiscover.example.org']);
  other = makeCert(dir, 'other', ['localhost']);
  expired = makeCert(dir, 'expired', ['localhost'], { expired: true });
  install(main);
  [up] = (await scope.upstreams('web-1')) as [TestUpstream];
  gw = await gatewayFor(config());
  scope.defer(() => gw.close(500));
  [httpsUrl, redirectUrl] = gw.urls as [string, string];
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TLS listener', () => {
  it('serves HTTPS with the default certificate (undici, verified against it), X-Forwarded-Proto https, HSTS', async () => {
    expect(httpsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const agent = new Agent({ connect: { ca: main.cert, servername: 'localhost' } });
    try {
      const res = await request(`${httpsUrl}/hello`, { dispatcher: agent });
      const echo = (await res.body.json()) as Echo;
      expect(res.statusCode).toBe(200);
      expect(echo.headers['x-forwarded-proto']).toBe('https');
      expect(res.headers['strict-transport-security']).toBe('max-age=31536000');
    } finally {
      await agent.close();
    }
  });

  it('picks the certificate by SNI name, the default one for other names', async () => {
    expect((await peerCert('autodiscover.example.org')).fingerprint256).toBe(sni.fingerprint256);
    expect((await peerCert('mail.example.org')).fingerprint256).toBe(main.fingerprint256);
  });

  it('negotiates h2 through ALPN with curl --http2, and HTTP/1.1 on the same port', async () => {
    const port = new URL(httpsUrl).port;
    const curl = async (...args: string[]) => (await run('curl', ['-sS', '--max-time', '10', '--cacert', main.certFile, '--resolve', `mail.example.org:${port}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', ...args, `https://mail.example.org:${port}/x`])).stdout;
    expect(await curl('--http2')).toBe('2 200');
    expect(await curl('--http1.1')).toBe('1.1 200');
  });

  it('h2 requests reach the upstream with Host and without pseudo-headers; the body comes back', async () => {
    const port = new URL(httpsUrl).port;
    const { stdout } = await run('curl', ['-sS', '--http2', '--max-time', '10', '--cacert', main.certFile, '--resolve', `mail.example.org:${port}:127.0.0.1`, '-d', 'ping', `https://mail.example.org:${port}/post?q=1`]);
    const echo = JSON.parse(stdout) as Echo;
    expect(echo).toMatchObject({ method: 'POST', url: '/post?q=1', body: 'ping' });
    expect(echo.headers['host']).toBe(`mail.example.org:${port}`);
    expect(Object.keys(echo.headers).filter((k) => k.startsWith(':'))).toEqual([]);
  });

  it('WebSocket upgrades keep working over HTTP/1.1 on the h2 listener (wss)', async () => {
    const wss = new WebSocketServer({ server: up.server });
    try {
      const ws = new WebSocket(`${httpsUrl.replace('https', 'wss')}/socket?x=1`, { ca: main.cert });
      const reply = await new Promise<string>((resolve, reject) => {
        wss.once('connection', (sock, req) => sock.on('message', (m) => sock.send(`echo:${m.toString()}:${req.headers['x-forwarded-proto']}`)));
        ws.once('open', () => ws.send('hi'));
        ws.once('message', (m) => resolve(m.toString()));
        ws.once('error', reject);
      });
      expect(reply).toBe('echo:hi:https');
      ws.close();
    } finally {
      wss.close();
    }
  });

  it('a long poll over h2 outlives the client timers (keep-alive and header timeouts at 500 ms): the wait is the upstream\'s', async () => {
    const g = await gatewayFor({ ...config(), listeners: [{ ...config().listeners[0]!, keepAliveTimeoutMs: 500, clientHeaderTimeoutMs: 500 }] });
    scope.defer(() => g.close(500));
    const p = new URL(g.urls[0]!).port;
    const { stdout } = await run('curl', ['-sS', '--http2', '--max-time', '15', '--cacert', main.certFile, '--resolve', `mail.example.org:${p}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://mail.example.org:${p}/sleep/2500`]);
    expect(stdout).toBe('2 200');
  });

  it('a plain listener with redirectToHttps answers 308 to https://host/path?query', async () => {
    const res = await request(`${redirectUrl}/mail/?_task=login&x=1`, { headers: { host: 'mail.example.org' } });
    await res.body.dump();
    expect(res.statusCode).toBe(308);
    expect(res.headers['location']).toBe('https://mail.example.org:8443/mail/?_task=login&x=1');
  });
});

describe('certificate reload', () => {
  it('swaps the certificate without closing an open connection (a long poll in flight completes), new connections see the new one', async () => {
    const agent = new Agent({ connect: { rejectUnauthorized: false }, connections: 1 });
    try {
      const ping = request(`${httpsUrl}/sleep/1500`, { dispatcher: agent }).then(async (r) => ({ status: r.statusCode, body: (await r.body.json()) as Echo }));
      await new Promise((r) => setTimeout(r, 300));
      install(other);
      gw.reload(config());
      expect((await peerCert('localhost')).fingerprint256).toBe(other.fingerprint256);
      const done = await ping;
      expect(done.status).toBe(200);
      expect(done.body.url).toBe('/sleep/1500');
    } finally {
      await agent.close();
      install(main);
      gw.reload(config());
    }
    expect((await peerCert('localhost')).fingerprint256).toBe(main.fingerprint256);
  });

  it.each([
    { name: 'a key that does not match the certificate', files: () => [other.certFile, main.keyFile], error: /not the key of/ },
    { name: 'an expired certificate', files: () => [expired.certFile, expired.keyFile], error: /expired on 2020-02-01/ },
    { name: 'an unreadable file', files: () => [join(dir, 'missing.crt'), main.keyFile], error: /cannot read the certificate/ },
  ])('refuses $name with GW_ERR_TLS and keeps the old certificate', async ({ files, error }) => {
    const [certFile, keyFile] = files() as [string, string];
    copyFileSync(main.certFile, live.certFile);
    const bad = config();
    bad.listeners[0]!.tls = { certFile, keyFile };
    expect(() => gw.reload(bad)).toThrow(expect.objectContaining({ code: 'GW_ERR_TLS', message: expect.stringMatching(error) }));
    expect((await peerCert('localhost')).fingerprint256).toBe(main.fingerprint256);
  });

  it('refuses to start with a bad pair (GW_ERR_TLS naming the file)', async () => {
    const bad = config();
    bad.listeners[0]!.tls = { certFile: other.certFile, keyFile: main.keyFile };
    await expect(gatewayFor(bad)).rejects.toMatchObject({ code: 'GW_ERR_TLS', message: expect.stringContaining(main.keyFile) });
  });
});
