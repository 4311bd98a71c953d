import { createServer as createNetServer } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../src/index.js';
import { spawnUpstream, waitFor } from './support/upstreams.js';
import { get, testScope } from './support/gateway.js';

// Regressions found by the failover benchmark (issue 6), one describe per fix.

const { defer, upstreams, gateway } = testScope();

async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

const endpointOf = (g: RunningGateway, url: string) => g.runtime.state.clusters.get('c')!.cluster.endpoints.find((e) => e.url === url)!;
const who = async (g: RunningGateway) => {
  const res = await get(`${g.urls[0]}/x`);
  return res.headers.get('x-upstream') ?? `status ${res.status}`;
};

describe('panic routing at 0% healthy', () => {
  it('one endpoint dead (active check), the other outlier-ejected for 500s: the ejected one still gets the traffic, not 503', async () => {
    const [b] = await upstreams('b');
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const g = await gateway({
      routes: [{ match: { prefix: '/' }, cluster: 'c' }],
      clusters: {
        c: {
          endpoints: [{ url: dead }, { url: b!.url }],
          healthCheck: { intervalMs: 250, timeoutMs: 250, healthyThreshold: 1, unhealthyThreshold: 1 },
          outlierDetection: { consecutive5xx: 3, consecutiveGatewayFailures: 0, baseEjectionTimeMs: 60_000, maxEjectionPercent: 50 },
        },
      },
    });
    await waitFor(() => !endpointOf(g, dead).activeHealthy, 3000, 'dead endpoint fails its checks');
    b!.forceStatus = 500;
    for (let i = 0; i < 10 && !endpointOf(g, b!.url).ejected; i++) await who(g);
    // The dead one is not ejected (no traffic reached it), so ejecting b is allowed: 0% healthy.
    expect(endpointOf(g, b!.url).ejected).toBe(true);
    b!.forceStatus = undefined;
    for (let i = 0; i < 10; i++) expect(await who(g)).toBe('b');
    expect(g.runtime.status().clusters[0]).toMatchObject({ panic: true, healthyEndpoints: 0 });
  });

  it('outlier detection never ejects the last endpoint in rotation, even at maxEjectionPercent 100', async () => {
    const [a, b] = await upstreams('a', 'b');
    const g = await gateway({
      routes: [{ match: { prefix: '/' }, cluster: 'c' }],
      clusters: { c: { endpoints: [{ url: a!.url }, { url: b!.url }], outlierDetection: { consecutive5xx: 2, baseEjectionTimeMs: 60_000, maxEjectionPercent: 100 } } },
    });
    a!.forceStatus = 500;
    b!.forceStatus = 500;
    for (let i = 0; i < 12; i++) await who(g);
    const ejected = [endpointOf(g, a!.url), endpointOf(g, b!.url)].filter((e) => e.ejected);
    expect(ejected).toHaveLength(1);
    // A single-endpoint cluster is never ejected either.
    const [solo] = await upstreams('solo');
    solo!.forceStatus = 500;
    const g1 = await gateway({ routes: [{ match: { prefix: '/' }, cluster: 'c' }], clusters: { c: { endpoints: [{ url: solo!.url }], outlierDetection: { consecutive5xx: 2 } } } });
    for (let i = 0; i < 6; i++) expect((await get(`${g1.urls[0]}/x`)).status).toBe(500);
    expect(endpointOf(g1, solo!.url).ejected).toBe(false);
  });

  it('still 503 GW_ERR_NO_HEALTHY_UPSTREAM when no endpoint passes its active check, or all are drained', async () => {
    const [a, b] = await upstreams('a', 'b');
    const g = await gateway({
      routes: [{ match: { prefix: '/' }, cluster: 'c' }],
      clusters: { c: { endpoints: [{ url: a!.url }, { url: b!.url }], healthCheck: { intervalMs: 250, timeoutMs: 250, healthyThreshold: 1, unhealthyThreshold: 1 } } },
    });
    g.runtime.setDrained('c', a!.url, true);
    g.runtime.setDrained('c', b!.url, true);
    let res = await get(`${g.urls[0]}/x`);
    expect([res.status, JSON.parse(res.text).code]).toEqual([503, 'GW_ERR_NO_HEALTHY_UPSTREAM']);
    g.runtime.setDrained('c', a!.url, false);
    g.runtime.setDrained('c', b!.url, false);
    a!.healthy = false;
    b!.healthy = false;
    await waitFor(() => !endpointOf(g, a!.url).activeHealthy && !endpointOf(g, b!.url).activeHealthy, 3000, 'both fail their checks');
    res = await get(`${g.urls[0]}/x`);
    expect([res.status, JSON.parse(res.text).code]).toEqual([503, 'GW_ERR_NO_HEALTHY_UPSTREAM']);
    expect(a!.hits + b!.hits).toBe(0);
  });
});

describe('in-flight idempotent requests on a killed endpoint', () => {
  it('16 concurrent GET loops, one of two upstreams SIGKILLed mid-run: every reset GET is retried on the other (0 failed), past the retry budget', async () => {
    const a = await spawnUpstream('a');
    const b = await spawnUpstream('b');
    defer(() => a.kill(), () => b.kill());
    const g = await gateway({
      admin: undefined,
      routes: [{ match: { prefix: '/' }, cluster: 'c' }],
      clusters: { c: { endpoints: [{ url: a.url }, { url: b.url }], healthCheck: { intervalMs: 250, timeoutMs: 200, healthyThreshold: 1, unhealthyThreshold: 2 } } },
    });
    const loops = 16;
    const deadline = Date.now() + 20_000;
    const failed: string[] = [];
    const served = { a: 0, b: 0 };
    let done = 0;
    let killedAt = -1;
    const loop = async () => {
      // Bounded in count and time; the upstream holds each answer 50 ms so that requests are in flight on b when it dies.
      for (let i = 0; i < 40 && Date.now() < deadline; i++) {
        if (done === 160 && killedAt < 0) {
          killedAt = done;
          void b.kill();
        }
        try {
          const res = await fetch(`${g.urls[0]}/sleep/50`, { signal: AbortSignal.timeout(10_000) });
          const text = await res.text();
          if (res.status !== 200) failed.push(`${res.status} ${text}`);
          else served[(res.headers.get('x-upstream') ?? 'a') as 'a' | 'b']++;
        } catch (err) {
          failed.push((err as Error).message);
        }
        done++;
      }
    };
    await Promise.all(Array.from({ length: loops }, loop));
    expect(killedAt).toBe(160);
    expect(done).toBeGreaterThan(400);
    expect(served.b).toBeGreaterThan(0);
    expect(failed).toEqual([]);
    // The resets were retried (more than the budget's minimum of 3 concurrent retries would allow at once).
    const retries = await g.runtime.metrics.registry.getSingleMetricAsString('gateway_retries_total');
    expect(retries).toMatch(/reason="reset"\} [1-9]/);
  });
});

type LogLine = Record<string, unknown>;

/** A fastify logger that keeps every line (with its child bindings) in `lines`. */
function captureLogger(lines: LogLine[], bindings: LogLine = {}): FastifyBaseLogger {
  const at = (level: string) => (obj: unknown, msg?: string) => {
    lines.push({ level, ...bindings, ...(obj !== null && typeof obj === 'object' ? (obj as LogLine) : { msg: obj }), ...(msg !== undefined ? { msg } : {}) });
  };
  const noop = () => undefined;
  return { level: 'info', fatal: at('fatal'), error: at('error'), warn: at('warn'), info: at('info'), debug: noop, trace: noop, silent: noop, child: (b: LogLine) => captureLogger(lines, { ...bindings, ...b }) } as unknown as FastifyBaseLogger;
}

describe('access log when the upstream dies mid-response', () => {
  it('writes the access-log line (route, cluster, endpoint, status, durationMs, retries, error code), not only a warning', async () => {
    // Headers and part of a 100,000-byte body, then a reset.
    const midReset = createNetServer((s) =>
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\npartial');
        setTimeout(() => s.resetAndDestroy(), 50);
      }),
    );
    await new Promise<void>((r) => midReset.listen(0, '127.0.0.1', r));
    defer(() => new Promise((r) => midReset.close(r)));
    const endpoint = `127.0.0.1:${(midReset.address() as { port: number }).port}`;
    const lines: LogLine[] = [];
    const g = await startGateway(
      { listeners: [{ host: '127.0.0.1', port: 0 }], routes: [{ match: { prefix: '/mail/' }, cluster: 'c' }], clusters: { c: { endpoints: [{ url: `http://${endpoint}` }] } } },
      { loggerInstance: captureLogger(lines) },
    );
    defer(() => g.close(500));
    await expect(get(`${g.urls[0]}/mail/big`)).rejects.toThrow();
    await waitFor(() => lines.some((l) => l['msg'] === 'access'), 3000, 'the access-log line');
    const access = lines.filter((l) => l['msg'] === 'access');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ level: 'info', route: '/mail/', cluster: 'c', endpoint, status: 200, retries: 0, error: 'GW_ERR_UPSTREAM_RESET', url: '/mail/big' });
    expect(access[0]!['durationMs']).toBeGreaterThanOrEqual(40);
    expect(lines.some((l) => l['msg'] === 'upstream response body failed')).toBe(true);
    // Counted in the request metrics too, and the gateway keeps serving.
    expect(await g.runtime.metrics.registry.getSingleMetricAsString('gateway_requests_total')).toMatch(/cluster="c",status="200"\} 1/);
  });
});
