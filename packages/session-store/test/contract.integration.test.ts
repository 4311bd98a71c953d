import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { MemcachedCluster, memcachedCommand } from '@webtier/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicatedMemcachedStore, SessionStoreErrorCodes, type CorruptEvent } from '../src/index.js';
import { metaDump } from '../src/MetaDump.js';
import { Browser, FAST, rawGet, rawSet, startExpressApp, waitForEvent } from './helpers.js';

let cluster: MemcachedCluster;
beforeAll(async () => {
  cluster = await MemcachedCluster.start(4);
});
afterAll(async () => {
  await cluster?.stop();
});

describe('express-session contract through a real express app', () => {
  let store: ReplicatedMemcachedStore;
  let other: ReplicatedMemcachedStore;
  let app: Awaited<ReturnType<typeof startExpressApp>>;
  let app2: Awaited<ReturnType<typeof startExpressApp>>;
  beforeAll(async () => {
    store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'ex:', ...FAST });
    // A second web node with its own store object: any node serves any request.
    other = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'ex:', ...FAST });
    app = await startExpressApp(store, 120_000);
    app2 = await startExpressApp(other, 120_000);
  });
  afterAll(async () => {
    await app?.close();
    await app2?.close();
    await store?.close();
    await other?.close();
  });

  it('logs in, keeps state across requests and web nodes, logs out for good', async () => {
    const b = new Browser(app.base);
    expect((await b.get('/me')).body).toEqual({ user: null });
    expect(b.cookie).toBe(''); // saveUninitialized: false
    await b.get('/login?user=alice');
    expect(b.cookie).toMatch(/^connect\.sid=/);
    expect((await b.get('/me')).body).toEqual({ user: 'alice', visits: 1 });
    const onNode2 = new Browser(app2.base);
    onNode2.cookie = b.cookie;
    expect((await onNode2.get('/me')).body).toEqual({ user: 'alice', visits: 2 });
    expect((await b.get('/me')).body).toEqual({ user: 'alice', visits: 3 });

    const sid = decodeURIComponent(b.cookie.split('=')[1]!).slice(2).split('.')[0]!;
    const owners = cluster.servers.filter(() => true);
    const copies = (await Promise.all(owners.map((n) => rawGet(cluster, n, `ex:${sid}`)))).filter((v) => v !== undefined);
    expect(copies).toHaveLength(2); // two replicas
    expect(copies.every((c) => c!.kind === 'session' && (c!.session as any).visits === 3)).toBe(true);

    expect(await store.length()).toBe(1);
    expect(await store.ids()).toEqual([sid]);
    await b.get('/logout');
    expect((await b.get('/me')).body).toEqual({ user: null });
    expect((await onNode2.get('/me')).body).toEqual({ user: null });
    const after = (await Promise.all(owners.map((n) => rawGet(cluster, n, `ex:${sid}`)))).filter((v) => v !== undefined);
    expect(after.map((c) => c!.kind)).toEqual(['tombstone', 'tombstone']);
    expect(await store.length()).toBe(0);
  });

  it('stores with the TTL of the cookie and resets it with touch', async () => {
    const b = new Browser(app.base);
    await b.get('/login?user=ttl');
    const sid = decodeURIComponent(b.cookie.split('=')[1]!).slice(2).split('.')[0]!;
    const expOf = async () => {
      const dumps = await Promise.all(cluster.nodes.map((n) => metaDump({ host: n.host, port: n.port, prefix: `ex:${sid}`, idleTimeoutMs: 3000, sockets: new Set() })));
      return dumps.flat().map((k) => k.exp);
    };
    const now = Math.floor(Date.now() / 1000);
    const exps = await expOf();
    expect(exps).toHaveLength(2);
    for (const e of exps) expect(e - now).toBeGreaterThanOrEqual(110), expect(e - now).toBeLessThanOrEqual(122);
    // Shorten the TTL behind the store's back; /peek does not modify the session, so express-session
    // calls store.touch, which must set the cookie's TTL again on both replicas.
    for (const n of cluster.nodes) await memcachedCommand(n.host, n.port, `touch ex:${sid} 5`);
    for (const e of await expOf()) expect(e - now).toBeLessThanOrEqual(10);
    const touched = new Promise<void>((resolve) => {
      const orig = store.touch.bind(store);
      store.touch = ((sid2: string, sess: any, cb: any) => {
        store.touch = orig;
        return orig(sid2, sess, (err: unknown) => (cb?.(err), resolve()));
      }) as typeof store.touch;
    });
    expect((await b.get('/peek')).body).toEqual({ user: 'ttl', visits: 0 });
    await touched;
    const after = await expOf();
    expect(after).toHaveLength(2);
    for (const e of after) expect(e - now).toBeGreaterThanOrEqual(110);
  });

  it('all/length/clear touch only this store\'s prefix, never other keys (no flush_all)', async () => {
    const s = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'own:', ...FAST });
    try {
      for (let i = 0; i < 20; i++) await s.set(`id${i}`, { cookie: { maxAge: 60_000 }, i } as any);
      await s.destroy('id0');
      for (const n of cluster.servers) await rawSet(cluster, n, 'foreign:key', 'keep me');
      await rawSet(cluster, cluster.servers[0]!, 'own-ish:key', 'also mine? no'); // prefix own- is not own:
      expect(await s.length()).toBe(19); // tombstones are not sessions
      const all = (await s.all()) as any[];
      expect(all.map((x) => x.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
      expect((await s.ids())!.sort()).toEqual(Array.from({ length: 19 }, (_, i) => `id${i + 1}`).sort());
      await s.clear();
      expect(await s.length()).toBe(0);
      expect(await s.get('id5')).toBeNull();
      for (const n of cluster.nodes) expect(await memcachedCommand(n.host, n.port, 'get foreign:key')).toContain('keep me');
      const n0 = cluster.node(0);
      expect(await memcachedCommand(n0.host, n0.port, 'get own-ish:key')).toContain('also mine? no');
    } finally {
      await s.close();
    }
  });

  it('rejects a session over the item size limit with SESS_ERR_TOO_LARGE and writes nothing', async () => {
    const s = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'big:', ...FAST });
    try {
      await s.set('big', { cookie: {}, v: 'old' } as any);
      const err: any = await s.set('big', { cookie: {}, blob: 'x'.repeat(1_100_000) } as any).catch((e: unknown) => e);
      expect(err.code).toBe(SessionStoreErrorCodes.TOO_LARGE);
      expect(err.details.sizeBytes).toBeGreaterThan(1_100_000);
      expect(err.message).toMatch(/over the item size limit of 1048576 bytes/);
      expect(await s.get('big')).toMatchObject({ v: 'old' }); // the old version is intact everywhere
      // The same through the callback API express-session uses.
      const cbErr = await new Promise<any>((r) => s.set('big', { cookie: {}, blob: 'y'.repeat(2_000_000) } as any, r));
      expect(cbErr.code).toBe(SessionStoreErrorCodes.TOO_LARGE);
    } finally {
      await s.close();
    }
  });

  it('treats a value that does not parse as missing, reports it, and repairs it', async () => {
    const s = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'bad:', ...FAST });
    try {
      await s.set('c1', { cookie: {}, good: true } as any);
      const holders: string[] = [];
      for (const n of cluster.servers) if (await rawGet(cluster, n, 'bad:c1')) holders.push(n);
      expect(holders).toHaveLength(2);
      await rawSet(cluster, holders[0]!, 'bad:c1', '{"not":"ours"');
      const corrupt = waitForEvent<CorruptEvent>(s, 'corrupt');
      const repaired = waitForEvent(s, 'repair');
      expect(await s.get('c1')).toMatchObject({ good: true });
      expect(await corrupt).toMatchObject({ id: 'c1', node: holders[0], reason: expect.stringMatching(/bad magic/) });
      await repaired;
      expect((await rawGet(cluster, holders[0]!, 'bad:c1'))?.session).toMatchObject({ good: true });
      // Corrupt on every replica: no session, no error.
      for (const n of holders) await rawSet(cluster, n, 'bad:c1', 'garbage');
      expect(await s.get('c1')).toBeNull();
    } finally {
      await s.close();
    }
  });
});

describe('@fastify/session contract', () => {
  it('works unchanged as the store of @fastify/session', async () => {
    const store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'fy:', ...FAST });
    const app = Fastify();
    await app.register(fastifyCookie);
    await app.register(fastifySession, { secret: 'a-secret-with-at-least-32-characters!!', store, saveUninitialized: false, cookie: { secure: false, maxAge: 60_000 } });
    app.get('/login', async (req) => {
      const s = req.session as any;
      s.set('user', 'bob');
      s.set('visits', 0);
      return { ok: true };
    });
    app.get('/me', async (req) => {
      const s = req.session as any;
      const user = s.get('user');
      if (!user) return { user: null };
      const visits = (s.get('visits') as number) + 1;
      s.set('visits', visits);
      return { user, visits };
    });
    app.get('/logout', async (req) => {
      await req.session.destroy();
      return { ok: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      const b = new Browser(`http://127.0.0.1:${port}`);
      await b.get('/login');
      expect(b.cookie).toMatch(/^sessionId=/);
      expect((await b.get('/me')).body).toEqual({ user: 'bob', visits: 1 });
      expect((await b.get('/me')).body).toEqual({ user: 'bob', visits: 2 });
      expect(await store.length()).toBe(1);
      await b.get('/logout');
      expect((await b.get('/me')).body).toEqual({ user: null });
      expect(await store.length()).toBe(0);
    } finally {
      await app.close();
      await store.close();
    }
  });
});

it('closes every socket and timer: close() resolves, later calls fail with SESS_ERR_CLOSED', async () => {
  const store = new ReplicatedMemcachedStore({ servers: cluster.servers, ...FAST });
  await store.set('x', { cookie: {} } as any);
  const closed = new Promise<void>((r) => store.close(() => r()));
  await closed;
  const err: any = await store.get('x')!.catch((e: unknown) => e);
  expect(err.code).toBe(SessionStoreErrorCodes.CLOSED);
  await once(setImmediateEmitter(), 'tick');
  const handles = (process as any)._getActiveHandles().filter((h: any) => h?.constructor?.name === 'Socket' && h.remotePort && cluster.nodes.some((n) => n.port === h.remotePort));
  expect(handles.filter((h: any) => !h.destroyed)).toHaveLength(0);
});

function setImmediateEmitter() {
  const { EventEmitter } = require('node:events') as typeof import('node:events');
  const e = new EventEmitter();
  setImmediate(() => e.emit('tick'));
  return e;
}
