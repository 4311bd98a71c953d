import { describe, expect, it } from 'vitest';
import { spawnUpstream, startUpstream, type ChildUpstream } from './support/upstreams.js';
import { gatewayFor, testScope } from './support/gateway.js';
import type { RunningGateway } from '../src/index.js';

const { defer } = testScope();

interface Outcome {
  method: string;
  status: number;
  code?: string | undefined;
  upstream?: string | null;
}

async function send(url: string, method: 'GET' | 'POST', i: number): Promise<Outcome> {
  try {
    const res = await fetch(url, { method, ...(method === 'POST' ? { body: `payload-${i}`, headers: { 'content-type': 'text/plain' } } : {}), signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    const out: Outcome = { method, status: res.status, upstream: res.headers.get('x-upstream') };
    if (res.status >= 400) out.code = (JSON.parse(text) as { code?: string }).code;
    return out;
  } catch (err) {
    return { method, status: 0, code: (err as Error).message };
  }
}

describe('failover', () => {
  it('a refused POST is retried on a different endpoint (never 502)', async () => {
    const live = await startUpstream('live');
    defer(() => live.close());
    const gw = await gatewayFor({ admin: undefined, routes: [{ match: { prefix: '/' }, cluster: 'c' }], clusters: { c: { endpoints: [{ url: 'http://127.0.0.1:1' }, { url: live.url }], outlierDetection: { consecutiveGatewayFailures: 0, consecutive5xx: 0 } } } });
    defer(() => gw.close(500));
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => send(`${gw.urls[0]}/form`, 'POST', i)));
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    expect(outcomes.every((o) => o.upstream === 'live')).toBe(true);
    const metrics = await gw.runtime.metrics.registry.getSingleMetricAsString('gateway_retries_total');
    expect(metrics).toMatch(/gateway_retries_total\{cluster="c",reason="connect"\} (\d+)/);
    expect(Number(/reason="connect"\} (\d+)/.exec(metrics)![1])).toBeGreaterThanOrEqual(5);
  });

  it('kill one of two endpoints under concurrent load: 0 failed GETs, 0 failed POSTs whose connection was refused', async () => {
    const a: ChildUpstream = await spawnUpstream('a');
    const b: ChildUpstream = await spawnUpstream('b');
    defer(() => a.kill(), () => b.kill());
    const gw: RunningGateway = await gatewayFor({
      admin: undefined,
      routes: [{ match: { prefix: '/' }, cluster: 'web' }],
      clusters: { web: { endpoints: [{ url: a.url }, { url: b.url }], healthCheck: { intervalMs: 250, timeoutMs: 200, healthyThreshold: 1, unhealthyThreshold: 2 } } },
    });
    defer(() => gw.close(1000));
    const url = `${gw.urls[0]}/load`;
    const total = 1200;
    const concurrency = 8;
    const deadline = Date.now() + 30_000;
    const outcomes: Outcome[] = [];
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (next < total && Date.now() < deadline) {
        const i = next++;
        if (i === 300 && !killed) {
          killed = true;
          void b.kill();
        }
        outcomes.push(await send(url, i % 2 === 0 ? 'GET' : 'POST', i));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    expect(killed).toBe(true);
    const gets = outcomes.filter((o) => o.method === 'GET');
    const posts = outcomes.filter((o) => o.method === 'POST');
    expect(gets.length + posts.length).toBeGreaterThan(600);
    expect(gets.filter((o) => o.status !== 200)).toEqual([]);
    // A POST already written to b when it died may fail (reset, ambiguous); a refused one never.
    const failedPosts = posts.filter((o) => o.status !== 200);
    expect(failedPosts.filter((o) => o.code !== 'GW_ERR_UPSTREAM_RESET')).toEqual([]);
    expect(failedPosts.length).toBeLessThanOrEqual(concurrency);
    // Traffic went to both before the kill and only to a at the end.
    expect(outcomes.slice(0, 200).some((o) => o.upstream === 'b')).toBe(true);
    expect(outcomes.slice(-100).every((o) => o.upstream === 'a')).toBe(true);
    const status = gw.runtime.status().clusters[0]!.endpoints;
    expect(status.find((e) => e.url === b.url)!.healthy).toBe(false);
  });
});
