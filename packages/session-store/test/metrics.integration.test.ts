import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { MemcachedCluster } from '@webtier/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ReplicatedMemcachedStore } from '../src/index.js';
import { collectStoreMetrics } from '../src/StoreMetrics.js';
import { FAST, rawGetBytes, rawSetBytes, waitForEvent } from './helpers.js';

let cluster: MemcachedCluster;
beforeAll(async () => {
  cluster = await MemcachedCluster.start(3);
});
afterAll(async () => {
  await cluster?.stop();
});

it('counts operations, tombstones, corrupt values and repairs by reason, copies per key, node state', async () => {
  const store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'met:', encryption: { keys: [{ id: 'k1', key: randomBytes(32) }] }, ...FAST });
  const registry = new Registry();
  const handle = collectStoreMetrics(store, registry);
  try {
    const cookie = { expires: new Date(Date.now() + 60_000).toISOString(), originalMaxAge: 60_000 };
    await store.set('a', { cookie, u: 1 } as any);
    await store.set('b', { cookie, u: 2 } as any);
    await store.destroy('b');
    const holders: string[] = [];
    for (const n of cluster.servers) if (await rawGetBytes(cluster, n, 'met:a')) holders.push(n);
    await rawSetBytes(cluster, holders[0]!, 'met:a', Buffer.from('garbage'));
    const repaired = waitForEvent(store, 'repair');
    expect(await store.get('a')).toMatchObject({ u: 1 });
    await repaired;
    await store.keyUsage();
    const text = await registry.metrics();
    const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"[\]().]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('webtier_session_store_operations_total{op="set",result="ok"}')).toBe(2);
    expect(value('webtier_session_store_operations_total{op="get",result="ok"}')).toBe(1);
    expect(value('webtier_session_store_tombstones_written_total')).toBe(1);
    expect(value('webtier_session_store_corrupt_values_total{code="format"}')).toBe(1);
    expect(value('webtier_session_store_repairs_total{source="read",reason="corrupt"}')).toBe(1);
    expect(value('webtier_session_store_stored_copies{key="k1"}')).toBe(4); // a and b's tombstone, 2 copies each
    expect(value(`webtier_session_store_node_up{node="${cluster.servers[0]}"}`)).toBe(1);
    expect(value('webtier_session_store_operation_duration_seconds_count{op="get"}')).toBe(1);
  } finally {
    handle.close();
    await store.close();
  }
});
