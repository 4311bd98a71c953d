// The benchmarks' session load (benchmarks/failover/SessionLoad.ts) against a real local HTTP server
// that misbehaves the way a draining or failing-over front door does: autocannon as it is against the
// browser-like client (honours Connection: close, sends a GET again once when its reused connection
// closed before any response byte, counts that retry on its own). bench:gateway-ha's numbers rest on it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runSessionLoad, type LoadResult } from '../benchmarks/failover/SessionLoad.js';

type Misbehaviour = 'connection-close' | 'reset-reused';

/** Answers {} to everything; 'connection-close': every 3rd response says Connection: close (and closes); 'reset-reused': every 5th request on a reused connection is reset before any byte. */
function server(kind: Misbehaviour): Promise<{ srv: Server; url: string }> {
  let n = 0;
  const srv = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      const reused = (req.socket as { served?: number }).served ?? 0;
      (req.socket as { served?: number }).served = reused + 1;
      if (kind === 'reset-reused' && reused > 0 && n % 5 === 0) return req.socket.resetAndDestroy();
      res.writeHead(200, { 'content-type': 'application/json', ...(kind === 'connection-close' && n % 3 === 0 ? { connection: 'close' } : {}) }).end('{}');
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}` })));
}

const sum = (r: LoadResult, k: 'ok' | 'errors' | 'retries' | 'closeReconnects') => r.seconds.reduce((a, s) => a + s[k], 0);
const failures = (r: LoadResult, match: RegExp) => Object.entries(r.statuses).filter(([k]) => match.test(k)).reduce((a, [, v]) => a + v, 0);

let running: Server | undefined;
afterEach(() => {
  running?.closeAllConnections();
  running?.close();
  running = undefined;
});

describe('SessionLoad: autocannon as it is vs a browser-like client', () => {
  it.each([
    { kind: 'connection-close' as const, browserLike: false, expectFailures: /after Connection: close/, expectRetries: false },
    { kind: 'connection-close' as const, browserLike: true, expectFailures: null, expectRetries: false },
    { kind: 'reset-reused' as const, browserLike: false, expectFailures: /^socket: .*\(reused connection\)$/, expectRetries: false },
    { kind: 'reset-reused' as const, browserLike: true, expectFailures: /^socket: .*\(reused connection\)$/, expectRetries: true },
  ])('$kind, browser-like $browserLike', async ({ kind, browserLike, expectFailures, expectRetries }) => {
    const { srv, url } = await server(kind);
    running = srv;
    const r = await runSessionLoad({ url, cookies: ['roundcube_sessid=a', 'roundcube_sessid=b'], durationSec: 1, logins: [{ user: 'u', password: 'p' }], honourConnectionClose: browserLike, retryStale: browserLike });
    expect(sum(r, 'ok'), 'successful requests').toBeGreaterThan(50);
    const socketFailures = failures(r, /^socket: /);
    if (expectFailures) expect(failures(r, expectFailures), JSON.stringify(r.statuses)).toBeGreaterThan(0);
    else expect(socketFailures, JSON.stringify(r.statuses)).toBe(0);
    if (kind === 'connection-close' && browserLike) expect(sum(r, 'closeReconnects')).toBeGreaterThan(10);
    if (expectRetries) {
      // Only GETs are sent again: the failures left are POSTs (their kind does not say; every retry is a GET by its label).
      expect(sum(r, 'retries')).toBeGreaterThan(0);
      expect(Object.keys(Object.assign({}, ...r.secondRetries))).toEqual(expect.arrayContaining([expect.stringMatching(/^GET retried after .* on a reused connection$/)]));
    } else expect(sum(r, 'retries')).toBe(0);
    // A retry never counts as a failure: errors are the socket failures (and non-2xx, none here).
    expect(sum(r, 'errors')).toBe(socketFailures);
  }, 20_000);
});
