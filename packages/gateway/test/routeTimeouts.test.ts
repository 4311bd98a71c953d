// A route's timeoutMs through the gateway, in front of a raw upstream that stalls before its headers
// (504), stalls mid-body (the client connection is cut after the bytes that came), or trickles a body
// slower in total than the timeout but never idle for as long (complete): the timeout is the time to
// the headers and then the longest pause between body chunks, not a limit on the whole answer.
import { request } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../src/index.js';
import { gatewayFor } from './support/gateway.js';

describe('route timeouts through the gateway', () => {
  let upstream: NetServer;
  const sockets = new Set<Socket>();
  let gw: RunningGateway;
  let port: number;

  // GET /<route>/stall-headers: never answers. /stall-body: headers (1000 bytes promised), 100 bytes, then nothing.
  // /trickle/<everyMs>/<count>: 10 bytes every everyMs, count times, then done.
  const answer = (s: Socket, path: string) => {
    if (path === '/healthz') return void s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    const parts = path.split('/');
    const kind = parts[2];
    if (kind === 'stall-headers') return;
    if (kind === 'stall-body') return void s.write(`HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n${'x'.repeat(100)}`);
    if (kind === 'trickle') {
      const every = Number(parts[3]);
      const count = Number(parts[4]);
      s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${count * 10}\r\n\r\n`);
      let sent = 0;
      const timer = setInterval(() => {
        if (s.destroyed) return clearInterval(timer);
        s.write('0123456789');
        if (++sent === count) clearInterval(timer);
      }, every);
      return;
    }
    s.write('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
  };

  beforeAll(async () => {
    upstream = createNetServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString('latin1');
        for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
          const path = buf.slice(0, end).split(' ')[1] ?? '/';
          buf = buf.slice(end + 4);
          answer(s, path);
        }
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    gw = await gatewayFor({
      routes: [
        // Above and below a second: undici keeps the longer limits on its fast timers (a tick every
        // half second, so up to about a second late); the gateway keeps the shorter ones on timers of
        // its own (with undici's, 300 ms took 1000 ms).
        { match: { prefix: '/long/' }, cluster: 'up', timeoutMs: 1200 },
        { match: { prefix: '/short/' }, cluster: 'up', timeoutMs: 300 },
        // A per-try timeout under a second with a long route timeout: one endpoint, so no retry is possible.
        { match: { prefix: '/pertry/' }, cluster: 'up', timeoutMs: 5000, retry: { perTryTimeoutMs: 250 } },
      ],
      clusters: { up: { endpoints: [{ url }] } },
    });
    port = Number(new URL(gw.urls[0]!).port);
  });

  afterAll(async () => {
    await gw?.close(2000, 0);
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  /** A GET through the gateway: status, body bytes received, whether the response ended complete, and when it ended. */
  const fetchRaw = (path: string) =>
    new Promise<{ status: number; bytes: number; complete: boolean; ms: number; body: string }>((resolve, reject) => {
      const start = performance.now();
      const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let bytes = 0;
        let body = '';
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          body += c.toString('latin1');
        });
        res.on('end', () => resolve({ status: res.statusCode!, bytes, complete: res.complete, ms: performance.now() - start, body }));
        res.on('error', () => resolve({ status: res.statusCode!, bytes, complete: false, ms: performance.now() - start, body }));
        res.on('aborted', () => resolve({ status: res.statusCode!, bytes, complete: false, ms: performance.now() - start, body }));
      });
      req.on('error', reject);
      req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${path} in 10 s`)));
      req.end();
    });

  it.each([
    { what: 'no headers within a long timeout: 504 at the timeout', path: '/long/stall-headers', status: 504, complete: true, bytes: undefined, min: 1200, max: 2800, code: 'GW_ERR_UPSTREAM_TIMEOUT' },
    { what: 'no headers within a short timeout: 504 at the timeout', path: '/short/stall-headers', status: 504, complete: true, bytes: undefined, min: 300, max: 800, code: 'GW_ERR_UPSTREAM_TIMEOUT' },
    { what: 'no headers within a per-try timeout of 250 ms (route 5 s), no other endpoint: 504 at the per-try timeout', path: '/pertry/stall-headers', status: 504, complete: true, bytes: undefined, min: 250, max: 800, code: 'GW_ERR_UPSTREAM_TIMEOUT' },
    { what: 'a body idle for a long timeout: the client connection is cut after the bytes that came', path: '/long/stall-body', status: 200, complete: false, bytes: 100, min: 1200, max: 2800, code: undefined },
    { what: 'a body idle for a short timeout: cut after the bytes that came', path: '/short/stall-body', status: 200, complete: false, bytes: 100, min: 300, max: 800, code: undefined },
    { what: 'a body slower in total than a long timeout, never idle that long: complete', path: '/long/trickle/400/6', status: 200, complete: true, bytes: 60, min: 2400, max: 4500, code: undefined },
    { what: 'a body slower in total than a short timeout, never idle that long: complete', path: '/short/trickle/100/6', status: 200, complete: true, bytes: 60, min: 600, max: 2000, code: undefined },
  ])('$what', async ({ path, status, complete, bytes, min, max, code }) => {
    const r = await fetchRaw(path);
    expect(r.status).toBe(status);
    expect(r.complete).toBe(complete);
    if (bytes !== undefined) expect(r.bytes).toBe(bytes);
    if (code !== undefined) expect(JSON.parse(r.body).code).toBe(code);
    expect(r.ms).toBeGreaterThanOrEqual(min);
    expect(r.ms).toBeLessThanOrEqual(max);
  });
});
