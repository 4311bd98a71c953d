// retry.perTryTimeoutMs: an idempotent request stuck on an endpoint that never answers (a host that
// vanished without a RST, as in the multi-host lab's blackhole) is retried on another endpoint
// after the per-try timeout instead of waiting out the route's timeout; a POST is never retried.
import { describe, expect, it } from 'vitest';
import { startUpstream } from './support/upstreams.js';
import { testScope } from './support/gateway.js';

const { defer, gateway } = testScope();

interface Case {
  name: string;
  method: 'GET' | 'POST';
  perTryTimeoutMs: number;
  routeTimeoutMs: number;
  /** Status → count over 6 requests (round robin: 3 start on the stuck endpoint). */
  expected: Record<number, number>;
  /** Every 200 came within this. */
  maxOkMs: number;
}

const cases: Case[] = [
  { name: 'GET with a per-try timeout: retried on the live endpoint', method: 'GET', perTryTimeoutMs: 200, routeTimeoutMs: 3000, expected: { 200: 6 }, maxOkMs: 1500 },
  { name: 'GET without a per-try timeout: waits out the route timeout (504)', method: 'GET', perTryTimeoutMs: 0, routeTimeoutMs: 700, expected: { 200: 3, 504: 3 }, maxOkMs: 500 },
  { name: 'POST with a per-try timeout: not retried (may have been applied), 504 at the route timeout', method: 'POST', perTryTimeoutMs: 200, routeTimeoutMs: 700, expected: { 200: 3, 504: 3 }, maxOkMs: 500 },
];

describe('retry.perTryTimeoutMs', () => {
  it.each(cases)('$name', async (c) => {
    const stuck = await startUpstream('stuck', () => {}); // accepts, reads, never answers
    const live = await startUpstream('live');
    defer(() => stuck.close(), () => live.close());
    const gw = await gateway({
      routes: [{ match: { prefix: '/' }, cluster: 'c', timeoutMs: c.routeTimeoutMs, retry: { perTryTimeoutMs: c.perTryTimeoutMs } }],
      clusters: { c: { endpoints: [{ url: stuck.url }, { url: live.url }], outlierDetection: { consecutiveGatewayFailures: 0, consecutive5xx: 0 } } },
    });
    const results = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const t0 = performance.now();
        const res = await fetch(`${gw.urls[0]}/x`, { method: c.method, ...(c.method === 'POST' ? { body: 'b' } : {}), signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        return { status: res.status, ms: performance.now() - t0, upstream: res.headers.get('x-upstream') };
      }),
    );
    const counts: Record<number, number> = {};
    for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
    expect(counts).toEqual(c.expected);
    const ok = results.filter((r) => r.status === 200);
    expect(ok.every((r) => r.upstream === 'live')).toBe(true);
    expect(Math.max(...ok.map((r) => r.ms))).toBeLessThan(c.maxOkMs);
    expect(stuck.hits).toBe(3);
  });
});
