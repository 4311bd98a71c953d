// The forwarder's upstream time limits (proxy/Deadlines.ts): one sweep for long limits, a timer each
// for short ones, progress that keeps an idle limit alive. First the Deadlines alone with real timers,
// then through a gateway in front of a raw upstream that stalls before its headers, stalls mid-body,
// or trickles a body slower than the route's timeout but never idle for as long.
import { request } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Deadlines, type Timed } from '../src/proxy/Deadlines.js';
import type { RunningGateway } from '../src/index.js';
import { gatewayFor } from './support/gateway.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Deadlines', () => {
  type Probe = Timed & { expiredAt: number | undefined };
  const probe = (): Probe => {
    const t: Probe = {
      limitMs: 0,
      sinceMs: 0,
      progress: 0,
      seenProgress: 0,
      timer: undefined,
      expiredAt: undefined,
      expire: () => void (t.expiredAt = performance.now()),
    };
    return t;
  };
  // Short limits (< 50 ms here) on their own timer, long ones on a 10 ms sweep. Lower bounds are
  // exact; upper bounds leave room for a busy machine.
  it.each([
    { what: 'a short limit expires on its own timer', limit: 30, progressForMs: 0, disarmAtMs: undefined, min: 30, max: 150 },
    { what: 'a long limit expires at a sweep', limit: 80, progressForMs: 0, disarmAtMs: undefined, min: 80, max: 220 },
    { what: 'progress keeps a short limit alive; it runs from the last progress', limit: 30, progressForMs: 200, disarmAtMs: undefined, min: 200 + 30 - 10, max: 200 + 30 + 150 },
    { what: 'progress keeps a long limit alive; it runs from the sweep that saw the last progress', limit: 80, progressForMs: 250, disarmAtMs: undefined, min: 250 + 80 - 30, max: 250 + 80 + 200 },
    { what: 'a disarmed long limit never expires', limit: 80, progressForMs: 0, disarmAtMs: 40, min: undefined, max: undefined },
    { what: 'a disarmed short limit never expires', limit: 30, progressForMs: 0, disarmAtMs: 10, min: undefined, max: undefined },
  ])('$what', async ({ limit, progressForMs, disarmAtMs, min, max }) => {
    const d = new Deadlines({ sweepMs: 10, shortLimitMs: 50 });
    const t = probe();
    const start = performance.now();
    d.arm(t, limit);
    expect(d.size).toBe(1);
    if (disarmAtMs !== undefined) {
      await sleep(disarmAtMs);
      d.disarm(t);
      expect(d.size).toBe(0);
    }
    while (performance.now() - start < progressForMs) {
      d.progressed(t);
      await sleep(10);
    }
    await sleep((max ?? limit * 3) + 50 - (performance.now() - start));
    if (min === undefined) {
      expect(t.expiredAt).toBeUndefined();
    } else {
      expect(t.expiredAt, 'the limit should have expired').toBeDefined();
      const after = t.expiredAt! - start;
      expect(after).toBeGreaterThanOrEqual(min);
      expect(after).toBeLessThanOrEqual(max!);
    }
    expect(d.size).toBe(0);
    expect(t.limitMs).toBe(0);
  });

  it('re-arming restarts the limit from now and keeps one entry', async () => {
    const d = new Deadlines({ sweepMs: 10, shortLimitMs: 50 });
    const t = probe();
    const start = performance.now();
    d.arm(t, 80);
    await sleep(60);
    d.arm(t, 80);
    expect(d.size).toBe(1);
    await sleep(250);
    expect(t.expiredAt).toBeDefined();
    expect(t.expiredAt! - start).toBeGreaterThanOrEqual(140);
  });
});

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
        // 1200 ms: the sweep path; 300 ms: a timer of its own.
        { match: { prefix: '/long/' }, cluster: 'up', timeoutMs: 1200 },
        { match: { prefix: '/short/' }, cluster: 'up', timeoutMs: 300 },
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
    { what: 'no headers within a long timeout: 504 at the timeout', path: '/long/stall-headers', status: 504, complete: true, bytes: undefined, min: 1200, max: 2200, code: 'GW_ERR_UPSTREAM_TIMEOUT' },
    { what: 'no headers within a short timeout: 504 at the timeout', path: '/short/stall-headers', status: 504, complete: true, bytes: undefined, min: 300, max: 1000, code: 'GW_ERR_UPSTREAM_TIMEOUT' },
    { what: 'a body idle for a long timeout: the client connection is cut after the bytes that came', path: '/long/stall-body', status: 200, complete: false, bytes: 100, min: 1200, max: 2200, code: undefined },
    { what: 'a body idle for a short timeout: cut after the bytes that came', path: '/short/stall-body', status: 200, complete: false, bytes: 100, min: 300, max: 1000, code: undefined },
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
