import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import memjs from 'memjs';
import { MemcachedCluster } from '@webtier/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicatedMemcachedStore, SessionStoreErrorCodes, type CorruptEvent, type RepairEvent } from '../src/index.js';
import { Browser, FAST, forgeValue, rawGetBytes, rawSetBytes, sidOf, sleep, startExpressApp, waitForEvent } from './helpers.js';

/**
 * Issue 11: memcached has no authentication, so everything the store reads may be crafted. Each
 * attack here was probed against the store before the fix (4 real memcached nodes, values written
 * with a raw memcached client) and broke it as its test name says.
 */
let cluster: MemcachedCluster;
beforeAll(async () => {
  cluster = await MemcachedCluster.start(4);
});
afterAll(async () => {
  await cluster?.stop();
});

const cookie = () => ({ originalMaxAge: 600_000, expires: new Date(Date.now() + 600_000).toISOString(), httpOnly: true, path: '/' });
const K1 = randomBytes(32);
const K2 = randomBytes(32);

/** Writes `value` under `key` on every node (whichever two own it). */
async function forgeEverywhere(key: string, value: Buffer): Promise<void> {
  for (const n of cluster.servers) await rawSetBytes(cluster, n, key, value);
}

async function startFastifyApp(store: ReplicatedMemcachedStore): Promise<{ app: FastifyInstance; base: string }> {
  const app = Fastify();
  await app.register(fastifyCookie);
  await app.register(fastifySession, { secret: 'a-secret-with-at-least-32-characters!!', store, saveUninitialized: false, cookie: { secure: false, maxAge: 600_000 } });
  app.get('/login', async (req) => {
    (req.session as any).set('user', 'mallory');
    return { ok: true };
  });
  app.get('/me', async (req) => ({ user: (req.session as any).get('user') ?? null }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

describe('clock poisoning: a version at the end of the clock range', () => {
  it.each(['get', 'all', 'ids', 'length'] as const)('read once by %s, it leaves every later set and destroy working', async (via) => {
    const store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: `clk-${via}:`, ...FAST });
    try {
      // 22 bytes: header with ms = 2^48-1 and counter 0xffff, body "{}".
      await forgeEverywhere(`clk-${via}:attacker`, forgeValue({ ms: 2 ** 48 - 1, counter: 0xffff, json: '{}' }));
      const corrupt = waitForEvent<CorruptEvent>(store, 'corrupt', (e) => e.code === 'clock-skew');
      if (via === 'get') expect(await store.get('attacker')).toBeNull();
      else if (via === 'all') expect(await store.all()).toEqual([]);
      else if (via === 'ids') expect(await store.ids()).toEqual([]);
      else expect(await store.length()).toBe(0);
      await corrupt;
      await store.set('victim', { cookie: cookie(), user: 'alice' } as any);
      expect(await store.get('victim')).toMatchObject({ user: 'alice' });
      await store.destroy('victim');
      expect(await store.get('victim')).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('a version a little ahead (within maxClockSkewMs) is still newer: clocks of web nodes drift', async () => {
    const store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'clk-ok:', ...FAST });
    try {
      await forgeEverywhere('clk-ok:s', forgeValue({ ms: Date.now() + 5_000, json: JSON.stringify({ cookie: cookie(), from: 'ahead' }) }));
      expect(await store.get('s')).toMatchObject({ from: 'ahead' });
      await store.set('s', { cookie: cookie(), from: 'me' } as any);
      expect(await store.get('s')).toMatchObject({ from: 'me' }); // the clock moved past it
    } finally {
      await store.close();
    }
  });
});

describe('crash payloads read as no session; the apps keep serving', () => {
  const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
  const payloads: Array<{ name: string; json: () => string }> = [
    { name: 'nested 5,000 levels deep (~10 KB)', json: () => `{"cookie":${JSON.stringify(cookie())},"x":${deep(5000)}}` },
    { name: '{"__proto__":{}}', json: () => `{"cookie":${JSON.stringify(cookie())},"__proto__":{}}` },
    { name: 'a value without cookie', json: () => '{"user":"mallory"}' },
    { name: 'constructor.prototype deep inside', json: () => `{"cookie":${JSON.stringify(cookie())},"a":{"constructor":{"prototype":{"x":1}}}}` },
    { name: 'cookie.expires that is not a date', json: () => '{"cookie":{"expires":"tomorrow-ish","originalMaxAge":1}}' },
  ];

  describe('express + express-session', () => {
    let store: ReplicatedMemcachedStore;
    let app: Awaited<ReturnType<typeof startExpressApp>>;
    beforeAll(async () => {
      store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'crx:', ...FAST });
      app = await startExpressApp(store, 600_000);
    });
    afterAll(async () => {
      await app?.close();
      await store?.close();
    });
    it.each(payloads)('$name', async ({ json }) => {
      const b = new Browser(app.base);
      await b.get('/login?user=mallory');
      const sid = sidOf(b.cookie);
      await forgeEverywhere(`crx:${sid}`, forgeValue({ ms: Date.now() + 1000, json: json() }));
      const r = await b.get('/me');
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ user: null });
      expect((await new Browser(app.base).get('/peek')).status).toBe(200); // still alive
    });
  });

  describe('fastify + @fastify/session', () => {
    let store: ReplicatedMemcachedStore;
    let f: Awaited<ReturnType<typeof startFastifyApp>>;
    beforeAll(async () => {
      store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'crf:', ...FAST });
      f = await startFastifyApp(store);
    });
    afterAll(async () => {
      await f?.app.close();
      await store?.close();
    });
    it.each(payloads)('$name', async ({ json }) => {
      const b = new Browser(f.base);
      await b.get('/login');
      const sid = sidOf(b.cookie);
      expect((await b.get('/me')).body).toEqual({ user: 'mallory' });
      await forgeEverywhere(`crf:${sid}`, forgeValue({ ms: Date.now() + 1000, json: json() }));
      const r = await b.get('/me');
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ user: null });
      expect((await new Browser(f.base).get('/me')).status).toBe(200);
    });
  });
});

describe('set refuses what the store would refuse to read (SESS_ERR_BAD_SESSION names the path)', () => {
  let deep: any = {};
  const root = deep;
  for (let i = 0; i < 70; i++) deep = deep.n = {};
  const cases: Array<{ name: string; sess: unknown; path: RegExp }> = [
    { name: 'too deep', sess: { cookie: {}, root }, path: /session\.root(\.n)+: nested deeper than 64 levels/ },
    { name: '__proto__ own key', sess: JSON.parse('{"cookie":{},"a":{"__proto__":{"x":1}}}'), path: /session\.a\.__proto__: the key "__proto__" is refused/ },
    { name: 'constructor key', sess: { cookie: {}, list: [{ constructor: 1 }] }, path: /session\.list\[0\]\.constructor/ },
    { name: 'no cookie', sess: { user: 'x' }, path: /session\.cookie: missing/ },
    { name: 'cookie.maxAge not a number', sess: { cookie: { maxAge: 'soon' } }, path: /session\.cookie\.maxAge/ },
  ];
  let store: ReplicatedMemcachedStore;
  beforeAll(() => {
    store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'bads:', ...FAST });
  });
  afterAll(() => store?.close());
  it.each(cases)('$name', async ({ sess, path }) => {
    const err: any = await store.set('x', sess as any).catch((e: unknown) => e);
    expect(err?.code).toBe(SessionStoreErrorCodes.BAD_SESSION);
    expect(err.message).toMatch(path);
    expect(await store.get('x')).toBeNull();
  });
});

describe('forgery and alteration', () => {
  it('without encryption a forged value for an id that never existed reads as a session (documented), but a hostile one never does', async () => {
    const store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'plainf:', ...FAST });
    try {
      await forgeEverywhere('plainf:never', forgeValue({ ms: Date.now(), json: JSON.stringify({ cookie: cookie(), isAdmin: true }) }));
      expect(await store.get('never')).toMatchObject({ isAdmin: true }); // the threat model: no encryption, no authenticity
    } finally {
      await store.close();
    }
  });

  describe('with encryption: never returned, repaired from the good copy', () => {
    let store: ReplicatedMemcachedStore;
    const owners = async (key: string) => {
      const out: string[] = [];
      for (const n of cluster.servers) if (await rawGetBytes(cluster, n, key)) out.push(n);
      return out;
    };
    beforeAll(() => {
      store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'enc:', encryption: { keys: [{ id: 'k1', key: K1 }] }, ...FAST });
    });
    afterAll(() => store?.close());

    const alterations: Array<{ name: string; code: CorruptEvent['code']; alter: (good: Buffer) => Buffer }> = [
      { name: 'plain forgery with a newer version (isAdmin: true)', code: 'plain', alter: () => forgeValue({ ms: Date.now() + 1000, json: JSON.stringify({ cookie: cookie(), user: 'alice', isAdmin: true }) }) },
      { name: 'one ciphertext byte flipped', code: 'auth', alter: (g) => Buffer.from(g.map((b, i) => (i === g.length - 20 ? b ^ 1 : b))) },
      { name: 'expiry in the header pushed out by a year', code: 'auth', alter: (g) => (g.writeUIntBE(Date.now() + 365 * 86_400_000, 16, 6), g) },
      { name: 'version in the header raised', code: 'auth', alter: (g) => (g.writeUInt16BE(0xfff0, 10), g) },
      { name: 'unknown key id', code: 'unknown-key', alter: (g) => (g.write('k9', 23, 'latin1'), g) },
      { name: 'kind changed to tombstone', code: 'auth', alter: (g) => ((g[2] = 2), g) },
    ];
    it.each(alterations)('$name', async ({ alter, code }) => {
      const id = `a${randomBytes(6).toString('hex')}`;
      await store.set(id, { cookie: cookie(), user: 'alice' } as any);
      const [victim, good] = await owners(`enc:${id}`);
      const goodBytes = (await rawGetBytes(cluster, good!, `enc:${id}`))!;
      await rawSetBytes(cluster, victim!, `enc:${id}`, alter(Buffer.from(goodBytes)));
      const corrupt = waitForEvent<CorruptEvent>(store, 'corrupt', (e) => e.id === id);
      const repaired = waitForEvent<RepairEvent>(store, 'repair', (e) => e.id === id);
      const s: any = await store.get(id);
      expect(s.user).toBe('alice');
      expect(s.isAdmin).toBeUndefined();
      expect(await corrupt).toMatchObject({ node: victim, code });
      expect((await repaired).repaired).toEqual([{ node: victim, reason: 'corrupt' }]);
      expect(await rawGetBytes(cluster, victim!, `enc:${id}`)).toEqual(goodBytes);
    });

    it('a forged value on every replica (an id that never existed) is no session', async () => {
      await forgeEverywhere('enc:forged', forgeValue({ ms: Date.now(), json: JSON.stringify({ cookie: cookie(), isAdmin: true }) }));
      expect(await store.get('forged')).toBeNull();
      expect(await store.all()).not.toContainEqual(expect.objectContaining({ isAdmin: true }));
    });

    it('a sealed value is not readable on the wire and a store with another key cannot open it', async () => {
      await store.set('secret', { cookie: cookie(), password: 'hunter2' } as any);
      const [holder] = await owners('enc:secret');
      expect((await rawGetBytes(cluster, holder!, 'enc:secret'))!.toString('latin1')).not.toContain('hunter2');
      const other = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'enc:', encryption: { keys: [{ id: 'k1', key: K2 }] }, ...FAST });
      try {
        expect(await other.get('secret')).toBeNull();
      } finally {
        await other.close();
      }
    });
  });
});

describe('key rotation from k1 to k2 under traffic loses no session', () => {
  it('k1 -> [k2, k1] (traffic on both) -> keyUsage shows k1 unused -> [k2] reads every session', async () => {
    const N = 120;
    const base = { servers: cluster.servers, prefix: 'rot:', ...FAST };
    const old = new ReplicatedMemcachedStore({ ...base, encryption: { keys: [{ id: 'k1', key: K1 }] } });
    const next = new ReplicatedMemcachedStore({ ...base, encryption: { keys: [{ id: 'k2', key: K2.toString('base64') }, { id: 'k1', key: K1 }] } });
    const ids = Array.from({ length: N }, (_, i) => `r${i}`);
    try {
      await Promise.all(ids.map((id, i) => old.set(id, { cookie: cookie(), n: i } as any)));
      expect((await next.keyUsage()).byKey).toEqual({ k2: 0, k1: 2 * N });
      // A rolling deploy: some web nodes still run with k1 only while the new ones read and write.
      const errors: unknown[] = [];
      await Promise.all(
        ids.map(async (id, i) => {
          const w = i % 3 === 0 ? old : next;
          const s: any = await w.get(id).catch((e: unknown) => void errors.push(e));
          if (!s || s.n !== i) return void errors.push(`${id}: ${JSON.stringify(s)}`);
          await w.set(id, { cookie: cookie(), n: i, seen: true } as any);
          await (i % 2 ? next.get(id) : next.touch(id, { cookie: cookie() } as any));
        }),
      );
      expect(errors).toEqual([]);
      await old.close();
      // Every web node runs [k2, k1] now: one re-sync pass re-seals what is left under k1.
      for (const n of cluster.servers) await next.resync(n);
      await Promise.all(ids.map((id) => next.get(id)));
      await sleep(200);
      const usage = await next.keyUsage();
      expect(usage.byKey['k1']).toBe(0);
      expect(usage.byKey['k2']).toBe(2 * N);
      const only = new ReplicatedMemcachedStore({ ...base, encryption: { keys: [{ id: 'k2', key: K2 }] } });
      try {
        const got = await Promise.all(ids.map((id) => only.get(id)));
        expect(got.map((s: any) => s?.n)).toEqual(ids.map((_, i) => i));
      } finally {
        await only.close();
      }
    } finally {
      await old.close();
      await next.close();
    }
  });
});

describe('redundancy for sessions kept alive by touch', () => {
  it('300 sessions written with a 3 s cookie, touched to 120 s, one node restarted empty and re-synced, past 3 s its partner killed: 0 lost', async () => {
    const pc = await MemcachedCluster.start(4);
    const [a, b, c, d] = pc.servers as [string, string, string, string];
    const store = new ReplicatedMemcachedStore({ pairs: [[a, b], [c, d]], prefix: 'tch:', ...FAST });
    try {
      const N = 300;
      const ids = Array.from({ length: N }, (_, i) => `t${i}`);
      const short = () => ({ originalMaxAge: 3000, expires: new Date(Date.now() + 3000).toISOString() });
      const long = () => ({ originalMaxAge: 120_000, expires: new Date(Date.now() + 120_000).toISOString() });
      await Promise.all(ids.map((id, i) => store.set(id, { cookie: short(), n: i } as any)));
      await Promise.all(ids.map((id) => store.touch(id, { cookie: long() } as any)));
      const resynced = waitForEvent(store, 'resync', (r: any) => r.node === a && r.aborted === undefined, 20_000);
      await pc.byAddress(a).restart();
      await resynced;
      await sleep(3500 - 0); // past the first cookie's 3 s
      await pc.byAddress(b).kill();
      await pc.byAddress(d).kill(); // the other pair loses a member too
      const got = await Promise.all(ids.map((id) => store.get(id)));
      const lost = got.filter((s) => s === null).length;
      expect(lost).toBe(0);
    } finally {
      await store.close();
      await pc.stop();
    }
  }, 60_000);

  it('get after touch shows the touched cookie.expires (as MemoryStore does)', async () => {
    const store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'tch2:', ...FAST });
    try {
      const first = new Date(Date.now() + 60_000).toISOString();
      await store.set('s', { cookie: { originalMaxAge: 60_000, expires: first }, u: 1 } as any);
      const later = new Date(Date.now() + 600_000).toISOString();
      await store.touch('s', { cookie: { originalMaxAge: 600_000, expires: later }, u: 1 } as any);
      expect(((await store.get('s')) as any).cookie.expires).toBe(later);
    } finally {
      await store.close();
    }
  });
});

describe('expiry is checked in ms, not by memcached\'s 1-s TTL', () => {
  it('a cookie of 1.5 s read at 1.8 s is not served; an already-expired cookie writes nothing', async () => {
    const store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'exp:', ...FAST });
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `e${i}`);
      await Promise.all(ids.map((id) => store.set(id, { cookie: { originalMaxAge: 1500, expires: new Date(Date.now() + 1500).toISOString() } } as any)));
      await sleep(1800);
      expect((await Promise.all(ids.map((id) => store.get(id)))).filter((s) => s !== null)).toEqual([]);
      expect(await store.length()).toBe(0);
      await store.set('gone', { cookie: { expires: new Date(Date.now() - 1000).toISOString() } } as any);
      for (const n of cluster.servers) expect(await rawGetBytes(cluster, n, 'exp:gone')).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe('contract gaps found by running express-session\'s and connect-redis\'s suites against the store', () => {
  let store: ReplicatedMemcachedStore;
  beforeAll(() => {
    store = new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'gap:', ...FAST });
  });
  afterAll(() => store?.close());

  it('all() returns each session with its id (as connect-redis)', async () => {
    await store.set('one', { cookie: cookie(), u: 1 } as any);
    await store.set('two', { cookie: cookie(), u: 2 } as any);
    const all = ((await store.all()) as any[]).sort((x, y) => x.u - y.u);
    expect(all.map((s) => [s.id, s.u])).toEqual([['one', 1], ['two', 2]]);
  });

  it('a cookie.maxAge of 81 years clamps the 32-bit expiration instead of wrapping (the session stays)', async () => {
    const maxAge = 81 * 365 * 86_400_000;
    await store.set('long', { cookie: { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge).toISOString() }, u: 'long' } as any);
    await sleep(1100);
    expect(await store.get('long')).toMatchObject({ u: 'long' });
  });

  it.each([
    ['a lone high surrogate', 'a\ud800'],
    ['a lone low surrogate', '\udc00b'],
  ])('ids must be well-formed UTF-16: %s is SESS_ERR_BAD_ID (it would share a key with U+FFFD)', async (_n, id) => {
    await store.set('a\ufffd', { cookie: cookie(), u: 'replacement' } as any);
    const err: any = await store.get(id).catch((e: unknown) => e);
    expect(err?.code).toBe(SessionStoreErrorCodes.BAD_ID);
    expect(err.message).toMatch(/not well-formed UTF-16/);
  });

  it('clear()/all()/ids() skip keys that are not this store\'s without failing', async () => {
    // memcached's binary protocol accepts keys with spaces; metadump lists them URL-encoded.
    const n0 = cluster.node(0);
    const client = memjs.Client.create(`${n0.host}:${n0.port}`, { logger: { log() {} } } as never);
    try {
      await client.set('gap:key=a exp=1 size=3', 'abc', { expires: 300 });
    } finally {
      client.close();
    }
    expect((await store.ids()).sort()).toEqual(expect.arrayContaining(['one', 'two']));
    await store.clear();
    expect(await store.length()).toBe(0);
  });

  it('servers: ["::1"] is refused with the bracketed form in the message', () => {
    let err: any;
    try {
      new ReplicatedMemcachedStore({ servers: ['::1'] });
    } catch (e) {
      err = e;
    }
    expect(err?.code).toBe(SessionStoreErrorCodes.BAD_OPTION);
    expect(err.message).toMatch(/servers\[0\]: "::1" has more than one ":"; write an IPv6 host in brackets, e\.g\. "\[::1\]:11211"/);
    const v6 = new ReplicatedMemcachedStore({ servers: ['[::1]:11211', '[::2]'] });
    expect(v6.options.nodes).toEqual(['[::1]:11211', '[::2]:11211']);
    void v6.close();
  });
});
