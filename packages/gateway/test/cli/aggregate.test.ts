// How the primary adds workers' metrics up: pure logic over real GatewayMetrics registries.
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../../src/cluster/Endpoint.js';
import { GatewayMetrics } from '../../src/admin/metrics.js';
import { aggregateMetrics } from '../../src/cli/aggregate.js';
import { restartDelayMs } from '../../src/cli/primary.js';

function worker(requests: number, state: { healthy: boolean; drained: boolean; inFlight: number }) {
  const e = new Endpoint('web', { url: 'http://10.0.0.1:8000', weight: 1, priority: 100, backup: false } as never, { connectTimeoutMs: 1000, connections: 1, keepAliveTimeoutMs: 1000, maxLongPolls: 1 });
  e.activeHealthy = state.healthy;
  e.drained = state.drained;
  e.inFlight = state.inFlight;
  const m = new GatewayMetrics(() => [e]);
  for (let i = 0; i < requests; i++) m.request('/', 'web', 200, 0.001);
  void e.pool.close();
  return m.registry.getMetricsAsJSON();
}

const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);

describe('aggregateMetrics', () => {
  interface Case {
    name: string;
    workers: Array<{ requests?: number; healthy?: boolean; drained?: boolean; inFlight?: number }>;
    series: string;
    expected: number;
  }
  const cases: Case[] = [
    { name: 'requests add up', workers: [{ requests: 3 }, { requests: 4 }], series: 'gateway_requests_total{route="/",cluster="web",status="200"}', expected: 7 },
    { name: 'in flight adds up', workers: [{ inFlight: 2 }, { inFlight: 5 }], series: 'gateway_endpoint_in_flight{cluster="web",endpoint="10.0.0.1:8000"}', expected: 7 },
    { name: 'healthy only when every worker sees it healthy', workers: [{ healthy: true }, { healthy: false }], series: 'gateway_endpoint_healthy{cluster="web",endpoint="10.0.0.1:8000"}', expected: 0 },
    { name: 'healthy in both: 1, not 2', workers: [{ healthy: true }, { healthy: true }], series: 'gateway_endpoint_healthy{cluster="web",endpoint="10.0.0.1:8000"}', expected: 1 },
    { name: 'drained: 1, not 2', workers: [{ drained: true }, { drained: true }], series: 'gateway_endpoint_drained{cluster="web",endpoint="10.0.0.1:8000"}', expected: 1 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const workers = await Promise.all(c.workers.map((w) => worker(w.requests ?? 0, { healthy: w.healthy ?? true, drained: w.drained ?? false, inFlight: w.inFlight ?? 0 })));
      const text = await aggregateMetrics([], [], workers).metrics();
      expect(value(text, c.series)).toBe(c.expected);
    });
  }
});

describe('restartDelayMs', () => {
  const cases = [
    { crashes: 1, ms: 100 },
    { crashes: 2, ms: 200 },
    { crashes: 5, ms: 1600 },
    { crashes: 8, ms: 10_000 },
    { crashes: 50, ms: 10_000 },
  ];
  for (const c of cases) it(`crash ${c.crashes} in a row → ${c.ms} ms`, () => expect(restartDelayMs(c.crashes)).toBe(c.ms));
});
