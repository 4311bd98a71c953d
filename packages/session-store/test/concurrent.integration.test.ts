import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import Fastify from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { MemcachedCluster } from '@webtier/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicatedMemcachedStore, type ConflictEvent, type ReplicatedMemcachedStoreOptions } from '../src/index.js';
import { Browser, FAST, sidOf, sleep } from './helpers.js';

/**
 * Issue 12: two requests of one user overlap (an autosave and a list refresh, on two web nodes
 * behind a round-robin gateway). Request A reads the session, works for 100 ms and saves; request B
 * starts during A, saves first. Every store we know loses B's change; merge mode must not.
 */
let cluster: MemcachedCluster;
beforeAll(async () => {
  cluster = await MemcachedCluster.start(4);
});
afterAll(async () => {
  await cluster?.stop();
});

/** /login, /write?k=&v=&delay=, /unset?k=&delay=, /show, /logout on a real express + express-session app. */
async function expressNode(store: ReplicatedMemcachedStore): Promise<{ base: string; close(): Promise<void> }> {
  const app = express();
  app.use(session({ store, secret: 'merge-secret', resave: false, saveUninitialized: false, cookie: { maxAge: 600_000 } }));
  const s = (req: express.Request) => req.session as unknown as Record<string, unknown>;
  app.get('/login', (req, res) => {
    s(req)['user'] = 'u';
    s(req)['x'] = 'present';
    res.json({ ok: true });
  });
  app.get('/write', async (req, res) => {
    await sleep(Number(req.query['delay'] ?? 0));
    s(req)[String(req.query['k'])] = String(req.query['v']);
    res.json({ ok: true });
  });
  app.get('/unset', async (req, res) => {
    await sleep(Number(req.query['delay'] ?? 0));
    delete s(req)[String(req.query['k'])];
    res.json({ ok: true });
  });
  app.get('/show', (req, res) => res.json(Object.fromEntries(Object.entries(s(req)).filter(([k]) => k !== 'cookie'))));
  app.get('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.json({ ok: true }))));
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: err.message, code: (err as { code?: string }).code });
  });
  const server: Server = app.listen(0, '127.0.0.1');
  server.keepAliveTimeout = 60_000; // see startExpressApp in helpers.ts
  await once(server, 'listening');
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

interface Race {
  name: string;
  options?: Partial<ReplicatedMemcachedStoreOptions>;
  /** Slow request on web node 1 (starts first, saves last). */
  a: string;
  /** Fast request on web node 2 (starts 30 ms into A, saves first). */
  b: string;
  /** Run while A sleeps; returns the memcached node it killed, if any. */
  during?: (owners: string[]) => Promise<string | undefined>;
  expected: Record<string, unknown> | null;
  conflict?: string[];
}

const races: Race[] = [
  { name: 'disjoint keys: both kept', a: '/write?k=a&v=1&delay=100', b: '/write?k=b&v=2', expected: { user: 'u', x: 'present', a: '1', b: '2' } },
  { name: 'the same key: the later write wins, reported as a conflict', a: '/write?k=k&v=A&delay=100', b: '/write?k=k&v=B', expected: { user: 'u', x: 'present', k: 'A' }, conflict: ['k'] },
  { name: 'one unsets a key the other does not touch: it stays unset', a: '/unset?k=x&delay=100', b: '/write?k=b&v=2', expected: { user: 'u', b: '2' } },
  { name: 'the other unsets a key: it stays unset', a: '/write?k=a&v=1&delay=100', b: '/unset?k=x', expected: { user: 'u', a: '1' } },
  { name: 'destroy racing a write: stays destroyed', a: '/write?k=a&v=1&delay=100', b: '/logout', expected: null },
  {
    name: 'a memcached node killed during the race: no change lost',
    a: '/write?k=a&v=1&delay=150',
    b: '/write?k=b&v=2',
    during: async (owners) => {
      await sleep(20);
      await cluster.byAddress(owners[0]!).kill(); // the session's first replica
      return owners[0];
    },
    expected: { user: 'u', x: 'present', a: '1', b: '2' },
  },
  // The contrast: what every other store does.
  { name: "last-write-wins loses B's change (what the peers do)", options: { concurrentWrites: 'last-write-wins' }, a: '/write?k=a&v=1&delay=100', b: '/write?k=b&v=2', expected: { user: 'u', x: 'present', a: '1' } },
];

describe('express + express-session, two web nodes, one memcached cluster', () => {
  it.each(races)('$name', async ({ options, a, b, during, expected, conflict }) => {
    const prefix = `mg${Math.random().toString(36).slice(2, 8)}:`;
    const stores = [0, 1].map(() => new ReplicatedMemcachedStore({ servers: cluster.servers, prefix, ...FAST, ...options }));
    const nodes = await Promise.all(stores.map(expressNode));
    const conflicts: ConflictEvent[] = [];
    let killed: string | undefined;
    for (const s of stores) s.on('conflict', (e: ConflictEvent) => conflicts.push(e));
    try {
      const login = new Browser(nodes[0]!.base);
      await login.get('/login');
      const onA = Object.assign(new Browser(nodes[0]!.base), { cookie: login.cookie });
      const onB = Object.assign(new Browser(nodes[1]!.base), { cookie: login.cookie });
      const ra = onA.get(a);
      await sleep(30);
      const rb = await onB.get(b);
      expect(rb.status).toBe(200);
      killed = await during?.(stores[0]!.placement(sidOf(login.cookie)).owners);
      expect((await ra).status).toBe(200);
      const shown = await Object.assign(new Browser(nodes[1]!.base), { cookie: login.cookie }).get('/show');
      if (expected === null) expect(shown.body).toEqual({});
      else expect(shown.body).toEqual(expected);
      if (conflict) expect(conflicts.map((c) => c.keys)).toEqual([conflict]);
      else expect(conflicts).toEqual([]);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
      await Promise.all(stores.map((s) => s.close()));
      if (killed) await cluster.byAddress(killed).start();
    }
  });

  it('a session read by nothing (new login, regenerate) is written as is; the marker never reaches memcached or JSON', async () => {
    const store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'mk:', ...FAST });
    try {
      await store.set('s', { cookie: { maxAge: 60_000 }, a: 1 } as any);
      const got = (await store.get('s')) as any;
      expect(JSON.parse(JSON.stringify(got))).toEqual({ cookie: { maxAge: 60_000 }, a: 1 });
      expect(Object.keys(got).filter((k) => k.includes('webtier'))).toHaveLength(1); // the marker: a key whose value is undefined
      got.b = 2;
      await store.set('s', got);
      const again = (await store.get('s')) as any;
      expect(JSON.parse(JSON.stringify(again))).toEqual({ cookie: { maxAge: 60_000 }, a: 1, b: 2 });
    } finally {
      await store.close();
    }
  });

  it('mergeNestedKeys: two requests change different fields of one compose_data object; both kept', async () => {
    const opts = { servers: cluster.servers, prefix: 'nest:', mergeNestedKeys: ['compose'], ...FAST };
    const [s1, s2] = [new ReplicatedMemcachedStore(opts), new ReplicatedMemcachedStore(opts)];
    try {
      await s1.set('n', { cookie: { maxAge: 60_000 }, compose: { to: 'a@x', body: '' } } as any);
      const r1 = (await s1.get('n')) as any;
      const r2 = (await s2.get('n')) as any;
      r2.compose = { ...r2.compose, to: 'b@x' };
      await s2.set('n', r2);
      r1.compose = { ...r1.compose, body: 'hello' };
      await s1.set('n', r1);
      expect(((await s1.get('n')) as any).compose).toEqual({ to: 'b@x', body: 'hello' });
    } finally {
      await s1.close();
      await s2.close();
    }
  });
});

describe('two stores saving one session at the same instant', () => {
  // Each pair of saves races for both replicas: often each writer wins one (a split) and both must
  // merge. Before the primary's winner went first, both retried at once, split again, and under
  // this load some saves failed with SESS_ERR_CONFLICT after mergeMaxAttempts.
  it('40 sessions x 60 rounds of simultaneous get/change/set on two stores: no change lost, no save failed', async () => {
    const prefix = `split${Math.random().toString(36).slice(2, 8)}:`;
    const stores = [0, 1].map(() => new ReplicatedMemcachedStore({ servers: cluster.servers, prefix, ...FAST }));
    const conflicts: ConflictEvent[] = [];
    for (const s of stores) s.on('conflict', (e: ConflictEvent) => conflicts.push(e));
    const SESSIONS = 40;
    const ROUNDS = 60;
    const cookie = () => ({ originalMaxAge: 600_000, expires: new Date(Date.now() + 600_000).toISOString(), httpOnly: true, path: '/' });
    const bump = async (store: ReplicatedMemcachedStore, id: string, k: 'a' | 'b') => {
      const got = (await store.get(id)) as unknown as Record<string, unknown>;
      got[k] = (got[k] as number) + 1;
      got['cookie'] = cookie();
      await store.set(id, got as never);
    };
    try {
      for (let i = 0; i < SESSIONS; i++) await stores[0]!.set(`s${i}`, { cookie: cookie(), a: 0, b: 0 } as never);
      const failures: unknown[] = [];
      await Promise.all(
        Array.from({ length: SESSIONS }, async (_, i) => {
          for (let r = 0; r < ROUNDS; r++) {
            const out = await Promise.allSettled([bump(stores[0]!, `s${i}`, 'a'), bump(stores[1]!, `s${i}`, 'b')]);
            for (const o of out) if (o.status === 'rejected') failures.push((o.reason as { code?: string }).code ?? o.reason);
          }
        }),
      );
      expect(failures).toEqual([]);
      for (let i = 0; i < SESSIONS; i++) {
        const shown = (await stores[1]!.get(`s${i}`)) as unknown as Record<string, unknown>;
        expect({ id: i, a: shown['a'], b: shown['b'] }).toEqual({ id: i, a: ROUNDS, b: ROUNDS });
      }
      expect(conflicts).toEqual([]); // disjoint keys never conflict
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});

describe('fastify + @fastify/session', () => {
  it('request A reads, sleeps 100 ms and sets a; B sets b and finishes first: both kept', async () => {
    const store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'mgf:', ...FAST });
    const app = Fastify();
    await app.register(fastifyCookie);
    await app.register(fastifySession, { secret: 'a-secret-with-at-least-32-characters!!', store, saveUninitialized: false, cookie: { secure: false, maxAge: 600_000 } });
    app.get('/login', async (req) => ((req.session as any).set('user', 'u'), { ok: true }));
    app.get('/write', async (req) => {
      const q = req.query as Record<string, string>;
      await sleep(Number(q['delay'] ?? 0));
      (req.session as any).set(q['k'], q['v']);
      return { ok: true };
    });
    app.get('/show', async (req) => ({ user: (req.session as any).get('user'), a: (req.session as any).get('a'), b: (req.session as any).get('b') }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const login = new Browser(base);
      await login.get('/login');
      const a = Object.assign(new Browser(base), { cookie: login.cookie }).get('/write?k=a&v=1&delay=100');
      await sleep(30);
      expect((await Object.assign(new Browser(base), { cookie: login.cookie }).get('/write?k=b&v=2')).status).toBe(200);
      expect((await a).status).toBe(200);
      expect((await Object.assign(new Browser(base), { cookie: login.cookie }).get('/show')).body).toEqual({ user: 'u', a: '1', b: '2' });
    } finally {
      await app.close();
      await store.close();
    }
  });
});
