import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Endpoint } from '../src/cluster/Endpoint.js';
import { EndpointSchema, HealthCheckSchema } from '../src/config/schema.js';
import { HealthChecker } from '../src/health/HealthChecker.js';
import { spawnUpstream, type ChildUpstream } from './support/upstreams.js';

// Holds this process's event loop like a GC pause or a starved CPU does: nothing runs meanwhile.
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('active health checks across an event-loop stall', () => {
  let up: ChildUpstream;
  beforeAll(async () => {
    // Another process, so that it answers while this one is stalled.
    up = await spawnUpstream('stall');
  });
  afterAll(async () => {
    await up?.kill();
  });

  const config = HealthCheckSchema.parse({ path: '/sleep/50', intervalMs: 200, timeoutMs: 200, healthyThreshold: 1, unhealthyThreshold: 1 });
  const endpoint = () => new Endpoint('c', EndpointSchema.parse({ url: up.url }), { connectTimeoutMs: 1000, connections: 4, keepAliveTimeoutMs: 4000, maxLongPolls: 4 });

  it.each([
    { what: 'an answer that arrived during a stall longer than the timeout passes', stallMs: 400, passes: true },
    { what: 'an answer that arrived in time passes', stallMs: 0, passes: true },
  ])('$what', async ({ stallMs, passes }) => {
    const e = endpoint();
    const changes: boolean[] = [];
    const checker = new HealthChecker([e], config, (_e, healthy) => changes.push(healthy));
    try {
      // A first check opens the connection. The second is on the wire (the upstream answers after
      // 50 ms) when this process stalls; its answer arrives during the stall.
      expect(await checker.check(e)).toBe(true);
      const pending = checker.check(e);
      await new Promise((r) => setTimeout(r, 20));
      // Stalled in the check phase: the next loop turn starts with the timers, then reads sockets.
      await new Promise((r) => setImmediate(r));
      stall(stallMs);
      expect(await pending).toBe(passes);
      expect(e.activeHealthy).toBe(passes);
      expect(changes).toEqual([]);
    } finally {
      checker.stop();
      await e.closePool(true);
    }
  });

  it('a real timeout still fails (the upstream is frozen)', async () => {
    const e = endpoint();
    const checker = new HealthChecker([e], config, () => {});
    try {
      expect(await checker.check(e)).toBe(true);
      process.kill(up.child.pid!, 'SIGSTOP');
      const started = performance.now();
      expect(await checker.check(e)).toBe(false);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(e.lastCheck?.ok).toBe(false);
      expect(e.activeHealthy).toBe(false);
    } finally {
      process.kill(up.child.pid!, 'SIGCONT');
      checker.stop();
      await e.closePool(true);
    }
  });
});
