import { HashRing } from '@webtier/hash-ring';
import { MemcachedCluster } from '@webtier/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicatedMemcachedStore, SessionStoreErrorCodes, type ReadMode, type ResyncResult } from '../src/index.js';
import { FAST, rawGet, sleep, waitForEvent } from './helpers.js';

let cluster: MemcachedCluster;
beforeAll(async () => {
  cluster = await MemcachedCluster.start(4);
});
afterAll(async () => {
  await cluster?.stop();
});

/** Brings every node back to running (empty if it was killed) between cases. */
async function healCluster(): Promise<void> {
  for (const n of cluster.nodes) {
    if (n.state === 'frozen') n.thaw();
    if (n.state === 'killed' || n.state === 'stopped') await n.restart();
  }
}

const sess = (v: number) => ({ cookie: { maxAge: 600_000 }, v }) as any;

describe.each<{ readMode: ReadMode }>([{ readMode: 'all' }, { readMode: 'primary' }])('readMode $readMode', ({ readMode }) => {
  it('write while a node is frozen, thaw it (old data) -> reads return the newest version', async () => {
    await healCluster();
    const store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: `fz-${readMode}:`, readMode, ...FAST, autoResync: false });
    try {
      const id = 'frozen-write';
      const [primary, secondary] = new HashRing(cluster.servers).nodesFor(`fz-${readMode}:${id}`, 2) as [string, string];
      await store.set(id, sess(1));
      await freezeUntilEjected(store, primary);
      const started = Date.now();
      await store.set(id, sess(2)); // goes to the secondary and the next live node
      await store.set(id, sess(3));
      expect(Date.now() - started).toBeLessThan(2 * FAST.opTimeoutMs + 1500);
      await thawUntilUp(store, primary);
      expect((await rawGet(cluster, primary, `fz-${readMode}:${id}`))?.session).toMatchObject({ v: 1 }); // old data
      expect(await store.get(id)).toMatchObject({ v: 3 });
      await waitUntil(async () => (await rawGet(cluster, primary, `fz-${readMode}:${id}`))?.session?.['v'] === 3, 'the primary is repaired to v3');
      // Then the copy that took every write dies: the repaired primary still has the newest.
      await cluster.byAddress(secondary).kill();
      expect(await store.get(id)).toMatchObject({ v: 3 });
    } finally {
      await store.close();
    }
  });

  it('destroy while a node is frozen, thaw it -> the session stays destroyed', async () => {
    await healCluster();
    const store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: `fd-${readMode}:`, readMode, ...FAST, autoResync: false });
    try {
      const id = 'frozen-destroy';
      const key = `fd-${readMode}:${id}`;
      const [primary, secondary] = new HashRing(cluster.servers).nodesFor(key, 2) as [string, string];
      await store.set(id, sess(1));
      await freezeUntilEjected(store, primary);
      await store.destroy(id);
      await thawUntilUp(store, primary);
      expect((await rawGet(cluster, primary, key))?.kind).toBe('session'); // the old copy is back
      expect(await store.get(id)).toBeNull();
      await waitUntil(async () => (await rawGet(cluster, primary, key))?.kind === 'tombstone', 'the primary gets the tombstone');
      await cluster.byAddress(secondary).kill();
      expect(await store.get(id)).toBeNull();
      expect(await store.length()).toBe(0);
    } finally {
      await store.close();
    }
  });
});

describe('pairs mode', () => {
  it('either member of any pair can die (one at a time, re-synced in between) with 0 lost', async () => {
    await healCluster();
    const s = cluster.servers;
    const store = new ReplicatedMemcachedStore({ pairs: [[s[0]!, s[1]!], [s[2]!, s[3]!]], prefix: 'pair:', ...FAST });
    try {
      const N = 120;
      const ids = Array.from({ length: N }, (_, i) => `p${i}`);
      let version = 1;
      await Promise.all(ids.map((id) => store.set(id, sess(version))));
      // Every session is on exactly the two members of one pair.
      for (const id of ids.slice(0, 10)) {
        const holders = (await Promise.all(s.map((n) => rawGet(cluster, n, `pair:${id}`)))).map((v) => v !== undefined);
        expect([holders[0] && holders[1] && !holders[2] && !holders[3], !holders[0] && !holders[1] && holders[2] && holders[3]]).toContain(true);
      }
      for (const victim of [0, 1, 2, 3]) {
        const node = cluster.node(victim);
        await node.kill();
        const read = await Promise.all(ids.map((id) => store.get(id).then((x: any) => x?.v, (e: Error) => e.message)));
        expect(read.filter((v) => v !== version)).toEqual([]);
        version++;
        const writes = await Promise.allSettled(ids.map((id) => store.set(id, sess(version))));
        expect(writes.filter((w) => w.status === 'rejected')).toEqual([]);
        const resynced = waitForEvent<ResyncResult>(store, 'resync', (r) => r.node === node.address && r.aborted === undefined, 20_000);
        await node.restart();
        const r = await resynced;
        expect(r.failed).toBe(0);
        expect(r.copied).toBeGreaterThan(0);
      }
      const final = await Promise.all(ids.map((id) => store.get(id).then((x: any) => x?.v)));
      expect(final.every((v) => v === version)).toBe(true);
    } finally {
      await store.close();
    }
  });
});

describe('no node reachable', () => {
  it('emits disconnect, fails with errors that name every node, and connect when one is back', async () => {
    const two = await MemcachedCluster.start(2);
    const store = new ReplicatedMemcachedStore({ servers: two.servers, ...FAST });
    try {
      await store.set('a', sess(1));
      const disconnected = waitForEvent(store, 'disconnect');
      await two.node(0).kill();
      await two.node(1).kill();
      // Requests fail fast (refused) until both nodes are ejected.
      for (let i = 0; i < 10 && store.health().some((h) => h.state === 'up'); i++) await store.get('a')!.catch(() => {});
      await disconnected;
      const readErr: any = await store.get('a')!.catch((e: unknown) => e);
      expect(readErr.code).toBe(SessionStoreErrorCodes.UNAVAILABLE);
      const writeErr: any = await store.set('a', sess(2))!.catch((e: unknown) => e);
      expect(writeErr.code).toBe(SessionStoreErrorCodes.NO_REPLICA);
      for (const n of two.servers) expect(writeErr.message).toContain(n);
      expect(writeErr.message).toMatch(/ECONNREFUSED/);
      expect(store.health().map((h) => h.state)).not.toContain('up');
      const connected = waitForEvent(store, 'connect');
      await two.node(1).restart();
      await connected;
      await store.set('a', sess(3));
      expect(await store.get('a')).toMatchObject({ v: 3 });
    } finally {
      await store.close();
      await two.stop();
    }
  });
});

/**
 * SIGSTOP, then wait until the store ejects the node (its connection is dropped), so that the writes
 * that follow can no longer reach it, not even late from a socket buffer: on thaw it holds old data.
 * (Re-sync is off in these cases so that only the read path can fix the node.)
 */
async function freezeUntilEjected(store: ReplicatedMemcachedStore, node: string): Promise<void> {
  const down = waitForEvent(store, 'node:down', (e: { node: string }) => e.node === node);
  cluster.byAddress(node).freeze();
  await down;
}

async function thawUntilUp(store: ReplicatedMemcachedStore, node: string): Promise<void> {
  const up = waitForEvent(store, 'node:up', (e: { node: string }) => e.node === node);
  cluster.byAddress(node).thaw();
  await up;
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}
