// An endpoint that active checks saw go unhealthy and come back is back in rotation at once, even if
// outlier detection ejected it meanwhile (Envoy's successful_active_health_check_uneject_host). Found
// with the multi-host lab: an unplugged webmail host, plugged back in, stayed out for the whole
// ejection time, and when the other webmail node was killed meanwhile every request got a 502.
// An endpoint ejected for its answers while its checks kept passing stays ejected.
import { describe, expect, it } from 'vitest';
import { sleep, waitFor } from './support/upstreams.js';
import { get, testScope } from './support/gateway.js';

const { upstreams, gateway } = testScope();

const cases = [
  { name: 'checks failed, then passed again: the ejection ends with the recovery', checksFail: true, ejectedAfterRecovery: false },
  { name: 'checks kept passing (only the answers failed): the ejection holds', checksFail: false, ejectedAfterRecovery: true },
];

describe('outlier ejection and active health checks', () => {
  it.each(cases)('$name', async (c) => {
    const [a, b] = await upstreams('a', 'b');
    const g = await gateway({
      routes: [{ match: { prefix: '/' }, cluster: 'c' }],
      clusters: {
        c: {
          endpoints: [{ url: a!.url }, { url: b!.url }],
          healthCheck: { intervalMs: 100, timeoutMs: 100, healthyThreshold: 2, unhealthyThreshold: 2 },
          outlierDetection: { consecutive5xx: 3, consecutiveGatewayFailures: 0, baseEjectionTimeMs: 60_000 },
        },
      },
    });
    const ea = g.runtime.state.clusters.get('c')!.cluster.endpoints.find((e) => e.url === a!.url)!;
    await waitFor(() => ea.activeHealthy && a!.healthChecks >= 2, 3000, 'a checked');
    a!.forceStatus = 500;
    for (let i = 0; i < 20 && !ea.ejected; i++) await get(`${g.urls[0]}/x`);
    expect(ea.ejected).toBe(true);
    // Its checks fail only now: failing first, they took it out of rotation before 3 answers reached it.
    if (c.checksFail) a!.healthy = false;
    if (c.checksFail) await waitFor(() => !ea.activeHealthy, 3000, 'a unhealthy');
    a!.forceStatus = undefined;
    a!.healthy = true;
    if (c.checksFail) await waitFor(() => ea.activeHealthy, 3000, 'a healthy again');
    else await sleep(500);
    expect(ea.ejected).toBe(c.ejectedAfterRecovery);
    const served = new Set<string | null>();
    for (let i = 0; i < 6; i++) served.add((await get(`${g.urls[0]}/x`)).headers.get('x-upstream'));
    expect(served.has('a')).toBe(!c.ejectedAfterRecovery);
  });
});
