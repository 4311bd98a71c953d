import { MemcachedCluster } from '@webtier/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReplicatedMemcachedStore, type ResyncResult } from '../src/index.js';
import { Browser, FAST, forEachLimited, sleep, startExpressApp, waitForEvent } from './helpers.js';

/**
 * 200 users of a real express app hit /me concurrently (a read and a write of their session per
 * request) while memcached nodes are frozen, killed and restarted. Every user's visit counter must
 * go up by exactly one per request: no session lost, no older version read, no error. Each test
 * starts from its own healthy cluster, store and logged-in users: none depends on another's kills.
 */
const USERS = 200;
const CONCURRENCY = 40;

let cluster: MemcachedCluster;
let store: ReplicatedMemcachedStore;
let app: Awaited<ReturnType<typeof startExpressApp>>;
let browsers: Browser[];
let expected: number[];

interface RoundStats {
  requests: number;
  errors: string[];
  lost: number;
  stale: string[];
  maxMs: number;
}

async function round(during?: () => Promise<void>): Promise<RoundStats> {
  const s: RoundStats = { requests: 0, errors: [], lost: 0, stale: [], maxMs: 0 };
  const load = forEachLimited(browsers, CONCURRENCY, async (b, i) => {
    const r = await b.get('/me');
    s.requests++;
    s.maxMs = Math.max(s.maxMs, r.ms);
    if (r.status !== 200) return void s.errors.push(`${r.status} ${JSON.stringify(r.body)}`);
    if (r.body.user !== `u${i}`) return void s.lost++;
    if (r.body.visits !== expected[i]! + 1) s.stale.push(`u${i}: visits ${r.body.visits}, expected ${expected[i]! + 1}`);
    expected[i] = r.body.visits;
  });
  await Promise.all([load, during?.()]);
  return s;
}

/** One round of load with `node` SIGKILLed 30 ms into it. */
function roundKilling(node: number): Promise<RoundStats> {
  return round(async () => {
    await sleep(30);
    await cluster.node(node).kill();
  });
}

function expectClean(s: RoundStats): void {
  expect(s.requests).toBe(USERS);
  expect(s.errors).toEqual([]);
  expect(s.lost).toBe(0);
  expect(s.stale).toEqual([]);
}

beforeEach(async () => {
  cluster = await MemcachedCluster.start(4);
  store = new ReplicatedMemcachedStore({ servers: cluster.servers, ...FAST });
  app = await startExpressApp(store);
  browsers = Array.from({ length: USERS }, () => new Browser(app.base));
  expected = new Array(USERS).fill(0);
  await forEachLimited(browsers, CONCURRENCY, async (b, i) => {
    const r = await b.get(`/login?user=u${i}`);
    if (r.status !== 200) throw new Error(`login u${i}: ${r.status}`);
  });
  expectClean(await round());
});

afterEach(async () => {
  await app?.close();
  await store?.close();
  await cluster?.stop();
});

describe('concurrent load through express-session', () => {
  it('SIGSTOP one node: every request completes within the timeout bound, nothing lost or stale', async () => {
    const frozen = cluster.node(0);
    const down = waitForEvent(store, 'node:down', (e: { node: string }) => e.node === frozen.address);
    const s = await round(async () => {
      await sleep(30);
      frozen.freeze();
    });
    expectClean(s);
    // One request does a get and a set; each waits at most opTimeoutMs for the frozen node.
    expect(s.maxMs).toBeLessThan(2 * FAST.opTimeoutMs + 1500);
    await down;
    const s2 = await round();
    expectClean(s2);
    expect(s2.maxMs).toBeLessThan(2 * FAST.opTimeoutMs + 1500);
    // Thawed, the node holds old copies of every session written meanwhile: reads still see the newest.
    const up = waitForEvent(store, 'node:up', (e: { node: string }) => e.node === frozen.address);
    frozen.thaw();
    await up;
    expectClean(await round());
    expectClean(await round());
  });

  it('SIGKILL one node: 0 sessions lost, 0 errors reach express-session', async () => {
    const victim = cluster.node(1);
    const s = await roundKilling(1);
    expectClean(s);
    expectClean(await round());
    expect(store.health().find((h) => h.node === victim.address)?.state).not.toBe('up');
  });

  it('restart a killed node empty, let the re-sync run, kill a different node: 0 lost', async () => {
    const restarted = cluster.node(1);
    // This test's own kill (not the previous test's): node 1 down under load, sessions written meanwhile.
    expectClean(await roundKilling(1));
    expectClean(await round());
    const resynced = waitForEvent<ResyncResult>(store, 'resync', (r) => r.node === restarted.address && r.aborted === undefined, 20_000);
    const detected = waitForEvent(store, 'node:restarted', (e: { node: string }) => e.node === restarted.address, 20_000);
    await restarted.restart();
    await detected;
    const r = await resynced;
    expect(r.failed).toBe(0);
    expect(r.owned).toBeGreaterThan(USERS / 4); // ~half of the sessions have this node in their preference list
    expect(r.copied).toBeGreaterThan(0);
    expect(store.health().find((h) => h.node === restarted.address)).toMatchObject({ state: 'up', needsResync: false });
    const s = await roundKilling(2);
    expectClean(s);
    expectClean(await round());
  });
});
