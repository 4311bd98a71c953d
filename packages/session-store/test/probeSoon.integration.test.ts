// A node whose probes have backed off is probed at once when an operation finds no live replica for
// a key (at most once per retryIntervalMs): the multi-host lab showed memcached-1, back for seconds,
// kept out by its probe backoff while its pair member was frozen, so every session of the pair failed.
import { MemcachedCluster } from '@webtier/testkit';
import { describe, expect, it } from 'vitest';
import { ReplicatedMemcachedStore } from '../src/index.js';
import { sleep, waitForEvent } from './helpers.js';

describe('probe backoff and a needed node', () => {
  it('a node back after a long outage serves within about retryIntervalMs of the first request that needs it', async () => {
    const two = await MemcachedCluster.start(2);
    const store = new ReplicatedMemcachedStore({ servers: two.servers, replicas: 2, opTimeoutMs: 300, failureThreshold: 1, retryIntervalMs: 200, maxRetryIntervalMs: 60_000, healthCheckIntervalMs: 60_000 });
    try {
      await two.node(0).kill();
      await two.node(1).kill();
      for (let i = 0; i < 5 && store.health().some((h) => h.state === 'up'); i++) await store.get('a')!.catch(() => {});
      expect(store.health().map((h) => h.state)).not.toContain('up');
      // Probes at +0.2, +0.6, +1.4, +3.0 s fail; the next one is due at +6.2 s.
      await sleep(3500);
      await two.node(1).restart();
      const t0 = Date.now();
      let ok = false;
      while (!ok && Date.now() - t0 < 5000) {
        ok = await store.get('a')!.then(() => true, () => false);
        if (!ok) await sleep(50);
      }
      expect(ok).toBe(true);
      expect(Date.now() - t0).toBeLessThan(1200);
    } finally {
      await store.close();
      await two.stop();
    }
  }, 30_000);

  it('a store with no node reachable reconnects within about healthCheckIntervalMs of a node coming back, with no request to trigger it', async () => {
    const two = await MemcachedCluster.start(2);
    const store = new ReplicatedMemcachedStore({ servers: two.servers, replicas: 2, opTimeoutMs: 300, failureThreshold: 1, retryIntervalMs: 200, maxRetryIntervalMs: 60_000, healthCheckIntervalMs: 400 });
    try {
      const disconnected = waitForEvent(store, 'disconnect');
      await two.node(0).kill();
      await two.node(1).kill();
      for (let i = 0; i < 5 && store.health().some((h) => h.state === 'up'); i++) await store.get('a')!.catch(() => {});
      await disconnected;
      await sleep(3500);
      const connected = waitForEvent(store, 'connect', () => true, 10_000);
      await two.node(0).restart();
      const t0 = Date.now();
      await connected;
      expect(Date.now() - t0).toBeLessThan(1500);
    } finally {
      await store.close();
      await two.stop();
    }
  }, 30_000);
});
