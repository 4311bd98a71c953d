import { describe, expect, it } from 'vitest';
import type { RunningGateway } from '../src/index.js';
import { waitFor, type TestUpstream } from './support/upstreams.js';
import { get, testScope } from './support/gateway.js';

const { upstreams, gateway } = testScope();

async function who(g: RunningGateway, path = '/x'): Promise<string> {
  const res = await get(`${g.urls[0]}${path}`);
  return res.headers.get('x-upstream') ?? `status ${res.status}`;
}

const endpointOf = (g: RunningGateway, url: string) => g.runtime.state.clusters.get('c')!.cluster.endpoints.find((e) => e.url === url)!;

describe('active health checks', () => {
  it('fall after unhealthyThreshold failed checks and rise after healthyThreshold passes, within interval bounds', async () => {
    const [a, b] = await upstreams('a', 'b');
    const intervalMs = 200;
    const g = await gateway({
      routes: [{ match: { prefix: '/' }, cluster: 'c' }],
      clusters: { c: { endpoints: [{ url: a!.url }, { url: b!.url }], healthCheck: { intervalMs, timeoutMs: 150, healthyThreshold: 3, unhealthyThreshold: 2, jitterMs: 20 } } },
    });
    const ea = endpointOf(g, a!.url);
    await waitFor(() => a!.healthChecks >= 1, 3000, 'first check');
    a!.healthy = false;
    const fall = await waitFor(() => !ea.activeHealthy, 5000, 'a unhealthy');
    // Two failed checks: at least one interval, at most three intervals plus slack for a busy machine.
    expect(fall).toBeGreaterThanOrEqual(intervalMs - 50);
    expect(fall).toBeLessThan(3 * (intervalMs + 20) + 1000);
    for (let i = 0; i < 10; i++) expect(await who(g)).toBe('b');
    a!.healthy = true;
    const rise = await waitFor(() => ea.activeHealthy, 5000, 'a healthy again');
    expect(rise).toBeGreaterThanOrEqual(2 * intervalMs - 50);
    expect(rise).toBeLessThan(4 * (intervalMs + 20) + 1000);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(await who(g));
    expect(seen).toEqual(new Set(['a', 'b']));
    const metrics = await get(`${g.adminUrl}/metrics`);
    expect(metrics.text).toMatch(/gateway_health_changes_total\{cluster="c",endpoint="[^"]+",healthy="0"\} 1/);
  });

  it('expectedStatuses decides what passes', async () => {
    const [a] = await upstreams('a');
    const g = await gateway({ routes: [{ match: { prefix: '/' }, cluster: 'c' }], clusters: { c: { endpoints: [{ url: a!.url }], healthCheck: { intervalMs: 250, timeoutMs: 250, unhealthyThreshold: 1, expectedStatuses: [204] } } } });
    await waitFor(() => !endpointOf(g, a!.url).activeHealthy, 3000, 'a unhealthy (200 is not 204)');
    expect((await get(`${g.urls[0]}/x`)).status).toBe(503);
  });
});

describe('outlier detection', () => {
  it('ejects after consecutive 5xx for baseEjectionTimeMs, then returns; ejection time grows with the count', async () => {
    const [a, b] = await upstreams('a', 'b');
    const g = await gateway({
      routes: [{ match: { prefix: '/' }, cluster: 'c' }],
      clusters: { c: { lbPolicy: 'round_robin', endpoints: [{ url: a!.url }, { url: b!.url }], outlierDetection: { consecutive5xx: 3, baseEjectionTimeMs: 600, maxEjectionPercent: 50 } } },
    });
    const ea = endpointOf(g, a!.url);
    a!.forceStatus = 500;
    for (let i = 0; i < 6; i++) await who(g);
    expect(ea.ejected).toBe(true);
    expect(ea.ejections).toBe(1);
    for (let i = 0; i < 10; i++) expect(await who(g)).toBe('b');
    a!.forceStatus = undefined;
    const back = await waitFor(() => !ea.ejected, 3000, 'ejection over');
    expect(back).toBeLessThan(600 + 500);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add(await who(g));
    expect(seen.has('a')).toBe(true);
    // Second ejection: 2 × base.
    a!.forceStatus = 503;
    for (let i = 0; i < 8 && !ea.ejected; i++) await who(g);
    expect(ea.ejections).toBe(2);
    expect(ea.ejectedUntil - Date.now()).toBeGreaterThan(700);
    const status = await get(`${g.adminUrl}/status`, { headers: { accept: 'application/json' } });
    const ep = (JSON.parse(status.text) as { clusters: Array<{ endpoints: Array<{ url: string; ejected: boolean; ejections: number }> }> }).clusters[0]!.endpoints.find((e) => e.url === a!.url)!;
    expect([ep.ejected, ep.ejections]).toEqual([true, 2]);
    expect((await get(`${g.adminUrl}/metrics`)).text).toMatch(/gateway_ejections_total\{cluster="c",endpoint="[^"]+"\} 2/);
  });

  it('maxEjectionPercent keeps the last endpoint in; consecutive gateway failures eject', async () => {
    const [b] = await upstreams('b');
    const g = await gateway({
      routes: [{ match: { prefix: '/' }, cluster: 'c' }],
      clusters: { c: { endpoints: [{ url: 'http://127.0.0.1:1' }, { url: b!.url }], outlierDetection: { consecutiveGatewayFailures: 2, baseEjectionTimeMs: 5000, maxEjectionPercent: 50 } } },
    });
    for (let i = 0; i < 6; i++) expect(await who(g)).toBe('b');
    expect(g.runtime.state.clusters.get('c')!.cluster.endpoints[0]!.ejected).toBe(true);
    b!.forceStatus = 500;
    for (let i = 0; i < 10; i++) await who(g);
    // b answers 500s but is the last one standing: 50% of 2 endpoints = 1 may be ejected.
    expect(endpointOf(g, b!.url).ejected).toBe(false);
    b!.forceStatus = undefined;
  });
});

describe('priorities (keepalived-style), backup and panic', () => {
  const priorityConfig = (a: TestUpstream, b: TestUpstream, preempt: boolean) => ({
    routes: [{ match: { prefix: '/' }, cluster: 'c' }],
    clusters: { c: { preempt, endpoints: [{ url: a.url, priority: 200 }, { url: b.url, priority: 100 }], healthCheck: { intervalMs: 250, timeoutMs: 250, healthyThreshold: 1, unhealthyThreshold: 1 } } },
  });

  it('failover to the lower priority and failback with preempt', async () => {
    const [a, b] = await upstreams('a', 'b');
    const g = await gateway(priorityConfig(a!, b!, true));
    for (let i = 0; i < 5; i++) expect(await who(g)).toBe('a');
    a!.healthy = false;
    await waitFor(() => !endpointOf(g, a!.url).activeHealthy, 3000, 'a down');
    for (let i = 0; i < 5; i++) expect(await who(g)).toBe('b');
    a!.healthy = true;
    await waitFor(() => endpointOf(g, a!.url).activeHealthy, 3000, 'a up');
    for (let i = 0; i < 5; i++) expect(await who(g)).toBe('a');
  });

  it('without preempt traffic stays on the lower priority after recovery, until that one fails', async () => {
    const [a, b] = await upstreams('a', 'b');
    const g = await gateway(priorityConfig(a!, b!, false));
    expect(await who(g)).toBe('a');
    a!.healthy = false;
    await waitFor(() => !endpointOf(g, a!.url).activeHealthy, 3000, 'a down');
    expect(await who(g)).toBe('b');
    a!.healthy = true;
    await waitFor(() => endpointOf(g, a!.url).activeHealthy, 3000, 'a up');
    for (let i = 0; i < 5; i++) expect(await who(g)).toBe('b');
    b!.healthy = false;
    await waitFor(() => !endpointOf(g, b!.url).activeHealthy, 3000, 'b down');
    for (let i = 0; i < 3; i++) expect(await who(g)).toBe('a');
    const status = JSON.parse((await get(`${g.adminUrl}/status?format=json`)).text) as { clusters: Array<{ activePriority: number; preempt: boolean }> };
    expect(status.clusters[0]).toMatchObject({ activePriority: 200, preempt: false });
  });

  it('backup endpoints only when no other is healthy; panic sends to all below the threshold', async () => {
    const [a, b, c] = await upstreams('a', 'b', 'c');
    const g = await gateway({
      routes: [{ match: { prefix: '/' }, cluster: 'c' }],
      clusters: { c: { healthyPanicThreshold: 60, endpoints: [{ url: a!.url }, { url: b!.url }, { url: c!.url, backup: true }], healthCheck: { intervalMs: 250, timeoutMs: 250, healthyThreshold: 1, unhealthyThreshold: 1 } } },
    });
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add(await who(g));
    expect(seen).toEqual(new Set(['a', 'b']));
    // a down: 1 of 2 primaries healthy = 50% < 60% → panic: a and b both get traffic (a still answers).
    a!.healthy = false;
    await waitFor(() => !endpointOf(g, a!.url).activeHealthy, 3000, 'a down');
    const panic = new Set<string>();
    for (let i = 0; i < 10; i++) panic.add(await who(g));
    expect(panic).toEqual(new Set(['a', 'b']));
    expect(g.runtime.status().clusters[0]!.panic).toBe(true);
    // Both primaries down: the backup takes over.
    b!.healthy = false;
    await waitFor(() => !endpointOf(g, b!.url).activeHealthy, 3000, 'b down');
    for (let i = 0; i < 5; i++) expect(await who(g)).toBe('c');
    c!.healthy = false;
    await waitFor(() => !endpointOf(g, c!.url).activeHealthy, 3000, 'c down');
    expect(await who(g)).toBe('status 503');
  });
});

describe('admin API', () => {
  it('drain/undrain by POST, /status as JSON and HTML, /healthz, /readyz, never on the public listener', async () => {
    const [a, b] = await upstreams('a', 'b');
    const g = await gateway({ routes: [{ match: { prefix: '/' }, cluster: 'c' }], clusters: { c: { endpoints: [{ url: a!.url }, { url: b!.url, weight: 3, priority: 100 }] } } });
    const post = (path: string, body: unknown) => get(`${g.adminUrl}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const drained = await post('/endpoints/drain', { cluster: 'c', url: a!.url });
    expect(drained.status).toBe(200);
    expect(JSON.parse(drained.text)).toMatchObject({ drained: true, url: a!.url });
    for (let i = 0; i < 6; i++) expect(await who(g)).toBe('b');
    expect((await post('/endpoints/undrain', { cluster: 'c', url: a!.url })).status).toBe(200);
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add(await who(g));
    expect(seen.has('a')).toBe(true);
    const unknown = await post('/endpoints/drain', { cluster: 'c', url: 'http://127.0.0.1:2' });
    expect([unknown.status, JSON.parse(unknown.text).code]).toEqual([404, 'GW_ERR_UNKNOWN_ENDPOINT']);
    expect((await post('/endpoints/drain', { cluster: 'c' })).status).toBe(400);

    const json = JSON.parse((await get(`${g.adminUrl}/status`)).text);
    expect(json.clusters[0].endpoints[1]).toMatchObject({ url: b!.url, healthy: true, weight: 3, priority: 100, drained: false, ejections: 0 });
    const html = await get(`${g.adminUrl}/status`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    expect(html.text).toContain('<table>');
    expect(html.text).toContain(a!.url);
    expect((await get(`${g.adminUrl}/status.html`)).text).toContain(`127.0.0.1:${b!.port}`);
    expect((await get(`${g.adminUrl}/healthz`)).status).toBe(200);
    expect((await get(`${g.adminUrl}/readyz`)).status).toBe(200);
    const metrics = await get(`${g.adminUrl}/metrics`);
    expect(metrics.text).toMatch(/gateway_requests_total\{route="\/",cluster="c",status="200"\} \d+/);
    expect(metrics.text).toMatch(/gateway_request_duration_seconds_bucket/);
    // The public listener proxies /status and /metrics to the upstream like any other path.
    expect(await who(g, '/metrics')).not.toMatch(/status/);
    g.runtime.draining = true;
    expect((await get(`${g.adminUrl}/readyz`)).status).toBe(503);
    g.runtime.draining = false;
  });
});
