import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_STORE_OPTIONS,
  HEADER_BYTES,
  HybridClock,
  MEMCACHED_MAX_RELATIVE_TTL_SECONDS,
  ReplicatedMemcachedStore,
  SessionStoreErrorCodes,
  compareVersions,
  decodeValue,
  encodeValue,
  memcachedExpiration,
  sessionTtlSeconds,
} from '../src/index.js';
import { parseLine } from '../src/MetaDump.js';

describe('options are validated at construction', () => {
  const cases: Array<{ name: string; options: unknown; message: RegExp }> = [
    { name: 'not an object', options: 'x', message: /options: expected an object/ },
    { name: 'no servers', options: {}, message: /servers: expected a non-empty array/ },
    { name: 'bad port', options: { servers: ['a:11211', 'b:11211', 'c:11a11'] }, message: /^servers\[2\]: port "11a11" is not a number$/ },
    { name: 'port out of range', options: { servers: ['a:70000'] }, message: /servers\[0\]: port 70000 is out of range/ },
    { name: 'duplicate', options: { servers: ['a:1', 'b:1', 'a:1'] }, message: /servers\[2\]: "a:1" is listed twice/ },
    { name: 'both servers and pairs', options: { servers: ['a:1'], pairs: [['a:1', 'b:1']] }, message: /give one of them/ },
    { name: 'pair of three', options: { pairs: [['a:1', 'b:1', 'c:1']] }, message: /pairs\[0\]: expected exactly two/ },
    { name: 'replicas above nodes', options: { servers: ['a:1', 'b:1'], replicas: 3 }, message: /replicas: 3 is out of range 1-2/ },
    { name: 'replicas in pairs mode', options: { pairs: [['a:1', 'b:1']], replicas: 3 }, message: /cannot be set in pairs mode/ },
    { name: 'fractional timeout', options: { servers: ['a:1'], opTimeoutMs: 1.5 }, message: /opTimeoutMs: 1.5 is not an integer/ },
    { name: 'unknown option', options: { servers: ['a:1'], timeout: 5 }, message: /timeout: unknown option/ },
    { name: 'bad readMode', options: { servers: ['a:1'], readMode: 'quorum' }, message: /readMode: "quorum" is not "all" or "primary"/ },
    { name: 'prefix with space', options: { servers: ['a:1'], prefix: 'a b' }, message: /prefix: "a b" must be a string without whitespace/ },
    { name: 'username without password', options: { servers: ['a:1'], username: 'u' }, message: /username and password: give both/ },
    { name: 'ttl and ttlSeconds', options: { servers: ['a:1'], ttl: 5, ttlSeconds: 6 }, message: /ttl is an alias/ },
  ];
  it.each(cases)('$name', ({ options, message }) => {
    let caught: any;
    try {
      new ReplicatedMemcachedStore(options as never);
    } catch (err) {
      caught = err;
    }
    expect(caught?.code).toBe(SessionStoreErrorCodes.BAD_OPTION);
    expect(caught.message).toMatch(message);
  });

  it('exports its defaults and applies them', async () => {
    expect(DEFAULT_STORE_OPTIONS).toMatchObject({ replicas: 2, ttlSeconds: 86_400, prefix: 'sess:', readMode: 'all', itemSizeLimitBytes: 1_048_576 });
    const store = new ReplicatedMemcachedStore({ servers: ['127.0.0.1:1', '127.0.0.1:2'], ttl: 60 });
    expect(store.options).toMatchObject({ mode: 'ring', replicas: 2, ttlSeconds: 60, nodes: ['127.0.0.1:1', '127.0.0.1:2'] });
    expect(Object.isFrozen(store.options)).toBe(true);
    await store.close();
  });

  it('is loadable with require() (CommonJS build)', async () => {
    const require = createRequire(import.meta.url);
    const cjs = require('@webtier/session-store');
    expect(typeof cjs.ReplicatedMemcachedStore).toBe('function');
    const store = new cjs.ReplicatedMemcachedStore({ servers: ['127.0.0.1:1'] });
    expect(typeof store.get).toBe('function');
    await store.close();
  });
});

describe('TTL from the cookie', () => {
  const now = Date.UTC(2030, 0, 1);
  const cases: Array<{ name: string; sess: unknown; fallback: number; ttl: number }> = [
    { name: 'no cookie: fallback', sess: {}, fallback: 86_400, ttl: 86_400 },
    { name: 'maxAge in ms', sess: { cookie: { maxAge: 90_000 } }, fallback: 10, ttl: 90 },
    { name: 'maxAge rounds up', sess: { cookie: { maxAge: 1_500 } }, fallback: 10, ttl: 2 },
    { name: 'expires wins over maxAge', sess: { cookie: { expires: new Date(now + 30_000), maxAge: 90_000 } }, fallback: 10, ttl: 30 },
    { name: 'expires as an ISO string (stored JSON)', sess: { cookie: { expires: new Date(now + 120_000).toISOString() } }, fallback: 10, ttl: 120 },
    { name: 'expired cookie: at least 1 s', sess: { cookie: { expires: new Date(now - 5_000) } }, fallback: 10, ttl: 1 },
    { name: 'zero maxAge: at least 1 s', sess: { cookie: { maxAge: 0 } }, fallback: 10, ttl: 1 },
    { name: 'null expires, originalMaxAge', sess: { cookie: { expires: null, originalMaxAge: 60_000 } }, fallback: 10, ttl: 60 },
  ];
  it.each(cases)('$name', ({ sess, fallback, ttl }) => {
    expect(sessionTtlSeconds(sess, fallback, now)).toBe(ttl);
  });

  it('converts TTLs over 30 days to absolute Unix time, as memcached requires', () => {
    expect(memcachedExpiration(60, now)).toBe(60);
    expect(memcachedExpiration(MEMCACHED_MAX_RELATIVE_TTL_SECONDS, now)).toBe(MEMCACHED_MAX_RELATIVE_TTL_SECONDS);
    const fortyDays = 40 * 86_400;
    expect(memcachedExpiration(fortyDays, now)).toBe(now / 1000 + fortyDays);
    expect(memcachedExpiration(0.2, now)).toBe(1);
  });
});

describe('versioned values', () => {
  it('orders versions by ms, counter, then writer; the clock never goes back', () => {
    let t = 1000;
    const clock = new HybridClock(7, () => t);
    const a = clock.next();
    const b = clock.next(); // same ms: counter
    t = 900; // the wall clock jumps back
    const c = clock.next();
    expect(compareVersions(b, a)).toBeGreaterThan(0);
    expect(compareVersions(c, b)).toBeGreaterThan(0);
    clock.observe({ ms: 5000, counter: 3, writer: 1 }); // a newer version from another web node
    expect(compareVersions(clock.next(), { ms: 5000, counter: 3, writer: 1 })).toBeGreaterThan(0);
  });

  it('round-trips sessions and tombstones', () => {
    const v = { ms: 1_767_225_600_123, counter: 5, writer: 0xdeadbeef };
    const s = decodeValue(encodeValue('session', v, 1_767_225_700, JSON.stringify({ user: 'ünï', n: 1 })));
    expect(s).toEqual({ kind: 'session', version: v, expiresAt: 1_767_225_700, session: { user: 'ünï', n: 1 } });
    expect(decodeValue(encodeValue('tombstone', v, 9))).toMatchObject({ kind: 'tombstone', session: undefined });
  });

  it.each([
    ['plain JSON from another client', Buffer.from('{"cookie":{}}'), /bad magic/],
    ['truncated header', Buffer.from([0xa7, 1]), /shorter than the 20-byte header/],
    ['broken JSON', Buffer.concat([encodeValue('session', { ms: 1, counter: 0, writer: 0 }, 0, '{}').subarray(0, HEADER_BYTES), Buffer.from('{"a":')]), /does not parse/],
  ])('rejects %s', (_name, buf, message) => {
    expect(() => decodeValue(buf)).toThrow(message);
  });

  it('parses lru_crawler metadump lines', () => {
    expect(parseLine('key=sess%3Aab%20c exp=1767225600 la=1767139200 cas=42 fetch=no cls=1 size=96')).toEqual({ key: 'sess:ab c', exp: 1767225600, size: 96 });
    expect(parseLine('END')).toBeNull();
  });
});

describe('what a session may look like (SessionShape)', () => {
  const deep = (n: number): unknown => (n === 0 ? 1 : { d: deep(n - 1) });
  const cases: Array<{ name: string; sess: unknown; problem: RegExp | undefined }> = [
    { name: 'a normal session', sess: { cookie: { expires: null, originalMaxAge: null }, user: 'a', list: [1, { b: 2 }] }, problem: undefined },
    { name: '64 levels', sess: { cookie: {}, x: deep(62) }, problem: undefined },
    { name: '65 levels', sess: { cookie: {}, x: deep(64) }, problem: /nested deeper than 64 levels/ },
    { name: '__proto__ parsed from JSON', sess: JSON.parse('{"cookie":{},"__proto__":{}}'), problem: /^session\.__proto__: the key "__proto__" is refused/ },
    { name: 'prototype in an array', sess: { cookie: {}, a: [{ prototype: 1 }] }, problem: /^session\.a\[0\]\.prototype/ },
    { name: 'no cookie', sess: {}, problem: /^session\.cookie: missing/ },
    { name: 'cookie is a string', sess: { cookie: 'x' }, problem: /^session\.cookie: missing or not an object/ },
    { name: 'expires not a date', sess: { cookie: { expires: 'soon' } }, problem: /^session\.cookie\.expires: "soon" is not a valid date/ },
    { name: 'Date objects are fine (checked by toJSON)', sess: { cookie: { expires: new Date() }, at: new Date() }, problem: undefined },
  ];
  it.each(cases)('$name', async ({ sess, problem }) => {
    const { sessionProblem } = await import('../src/SessionShape.js');
    const p = sessionProblem(sess);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toMatch(problem);
  });
});

describe('the version clock stays in range', () => {
  it('ignores a version further ahead than maxSkewMs and keeps issuing versions', () => {
    const clock = new HybridClock(1, () => 1_000_000, 60_000);
    expect(clock.observe({ ms: 2 ** 48 - 1, counter: 0xffff, writer: 9 })).toBe(false);
    expect(clock.observe({ ms: 1_050_000, counter: 3, writer: 9 })).toBe(true);
    expect(clock.next()).toEqual({ ms: 1_050_000, counter: 4, writer: 1 });
  });
});

describe('sealed values (AES-256-GCM, the header is authenticated)', () => {
  it('round-trips, refuses altered headers and bodies, opens values of older keys', async () => {
    const { resolveEncryption } = await import('../src/Encryption.js');
    const { ValueCodec } = await import('../src/ValueCodec.js');
    const key1 = Buffer.alloc(32, 1);
    const key2 = Buffer.alloc(32, 2);
    const clock = new HybridClock(1);
    const old = new ValueCodec(resolveEncryption({ keys: [{ id: 'k1', key: key1 }] }), clock);
    const cur = new ValueCodec(resolveEncryption({ keys: [{ id: 'k2', key: key2.toString('base64') }, { id: 'k1', key: key1 }] }), clock);
    const v = clock.next();
    const buf = old.encode('session', v, Date.now() + 1000, '{"cookie":{},"u":1}');
    const h = cur.header(buf);
    expect(h.keyId).toBe('k1');
    expect(cur.open(buf, h).session).toEqual({ cookie: {}, u: 1 });
    const rekeyed = cur.rewrite(buf, h, Date.now() + 5000);
    expect(cur.header(rekeyed).keyId).toBe('k2');
    const altered = Buffer.from(buf);
    altered[17] = altered[17]! ^ 1; // the expiry
    expect(() => cur.open(altered, cur.header(altered))).toThrow(/fails authentication/);
    expect(() => old.header(rekeyed) && old.open(rekeyed, old.header(rekeyed))).toThrow(/not in encryption.keys/);
  });

  it('refuses a value larger than the item size limit before parsing it', async () => {
    const { ValueCodec } = await import('../src/ValueCodec.js');
    const codec = new ValueCodec(undefined, new HybridClock(1), 1024);
    const big = encodeValue('session', { ms: 1, counter: 0, writer: 0 }, Date.now() + 1000, JSON.stringify({ cookie: {}, x: 'y'.repeat(2000) }));
    expect(() => codec.header(big)).toThrow(/larger than itemSizeLimitBytes \(1024\)/);
  });

  it.each([
    [{ keys: [] }, /at least one key/],
    [{ keys: [{ id: 'k 1', key: Buffer.alloc(32) }] }, /encryption\.keys\[0\]\.id/],
    [{ keys: [{ id: 'k1', key: Buffer.alloc(16) }] }, /encryption\.keys\[0\]\.key: 16 bytes; AES-256 needs exactly 32/],
    [{ keys: [{ id: 'k1', key: Buffer.alloc(32) }, { id: 'k1', key: Buffer.alloc(32) }] }, /listed twice/],
  ])('refuses encryption option %j', (encryption, message) => {
    expect(() => new ReplicatedMemcachedStore({ servers: ['a:1'], encryption } as never)).toThrow(message);
  });
});

describe('merging concurrent writes (SessionMerge, TrackedRead)', () => {
  const j = (o: Record<string, unknown>) => new Map(Object.entries(o).map(([k, v]) => [k, JSON.stringify(v)]));
  const cases: Array<{ name: string; base: Record<string, unknown>; mine: Record<string, unknown>; stored: Record<string, unknown>; nested?: string[]; merged: Record<string, unknown>; conflicts: string[]; contained?: boolean }> = [
    { name: 'disjoint additions', base: { u: 1 }, mine: { u: 1, a: 1 }, stored: { u: 1, b: 2 }, merged: { u: 1, a: 1, b: 2 }, conflicts: [] },
    { name: 'both change one key: mine wins', base: { k: 0 }, mine: { k: 'A' }, stored: { k: 'B' }, merged: { k: 'A' }, conflicts: ['k'] },
    { name: 'both set the same value: no conflict', base: { k: 0 }, mine: { k: 1 }, stored: { k: 1 }, merged: { k: 1 }, conflicts: [], contained: true },
    { name: 'I remove, they add another', base: { x: 1 }, mine: {}, stored: { x: 1, b: 2 }, merged: { b: 2 }, conflicts: [] },
    { name: 'I remove what they changed: removed, conflict', base: { x: 1 }, mine: {}, stored: { x: 2 }, merged: {}, conflicts: ['x'] },
    { name: 'they remove, I do not touch: stays removed', base: { x: 1, u: 1 }, mine: { x: 1, u: 2 }, stored: { u: 1 }, merged: { u: 2 }, conflicts: [] },
    { name: 'nested key: fields merge', base: { c: { to: '', body: '' } }, mine: { c: { to: '', body: 'hi' } }, stored: { c: { to: 'b', body: '' } }, nested: ['c'], merged: { c: { to: 'b', body: 'hi' } }, conflicts: [] },
    { name: 'not nested: whole value wins', base: { c: { to: '', body: '' } }, mine: { c: { to: '', body: 'hi' } }, stored: { c: { to: 'b', body: '' } }, merged: { c: { to: '', body: 'hi' } }, conflicts: ['c'] },
    // What a save that lost a split finds after the other writer merged it in: nothing left to write.
    { name: 'they already merged my addition in', base: { u: 1 }, mine: { u: 1, a: 1 }, stored: { u: 1, a: 1, b: 2 }, merged: { u: 1, a: 1, b: 2 }, conflicts: [], contained: true },
    { name: 'they already removed what I removed', base: { x: 1 }, mine: {}, stored: { b: 2 }, merged: { b: 2 }, conflicts: [], contained: true },
    { name: 'nested key: they already hold my field', base: { c: { to: '', body: '' } }, mine: { c: { to: '', body: 'hi' } }, stored: { c: { to: 'b', body: 'hi' } }, nested: ['c'], merged: { c: { to: 'b', body: 'hi' } }, conflicts: [], contained: true },
    { name: 'nested key: they replaced the object with a string', base: { c: { body: '' } }, mine: { c: { body: 'hi' } }, stored: { c: 'x' }, nested: ['c'], merged: { c: { body: 'hi' } }, conflicts: ['c.body'] },
  ];
  it.each(cases)('$name', async ({ base, mine, stored, nested, merged, conflicts, contained }) => {
    const { applyChanges, containsChanges, diffSession } = await import('../src/SessionMerge.js');
    const changes = diffSession(j(base), j(mine), new Set(nested ?? []));
    const out = applyChanges(stored, j(base), changes);
    expect(out.merged).toEqual(merged);
    expect(out.conflicts).toEqual(conflicts);
    // Whether the stored session already holds every change (then a save has nothing to write).
    expect(containsChanges(stored, changes)).toBe(contained ?? false);
  });

  it('a read rides on its session under one key: found only for its own id and age, never serialized, never forged from JSON', async () => {
    const { READ_MARKER, TrackedRead } = await import('../src/ReadTracker.js');
    const v = { ms: 1, counter: 0, writer: 0 };
    const session: Record<string, unknown> = { cookie: {}, user: 'alice' };
    new TrackedRead('a', v, '{"user":"alice"}', new Map()).attach(session);
    expect(TrackedRead.of('a', session, 60_000)?.base).toBe('{"user":"alice"}');
    expect(TrackedRead.of('b', session, 60_000)).toBeUndefined(); // another id's session
    // What is stored, and what express-session hashes for "modified", is the session without it.
    expect(JSON.stringify(session)).toBe('{"cookie":{},"user":"alice"}');
    // Copied the way express-session builds its Session from what get returned: it comes along.
    const copy: Record<string, unknown> = {};
    for (const k in session) copy[k] = session[k];
    expect(TrackedRead.of('a', copy, 60_000)).toBe(session[READ_MARKER]);
    // A value read from memcached cannot carry one: JSON gives a plain object, which is not a read.
    const parsed = JSON.parse(`{"cookie":{},${JSON.stringify(READ_MARKER)}:{"id":"a","version":{"ms":1},"base":"{}","at":${Date.now()}}}`) as Record<string, unknown>;
    expect(TrackedRead.of('a', parsed, 60_000)).toBeUndefined();
    // Too old: written whole, as without tracking.
    const old: Record<string, unknown> = {};
    new TrackedRead('a', v, '{}', new Map(), Date.now() - 120_000).attach(old);
    expect(TrackedRead.of('a', old, 60_000)).toBeUndefined();
    // A write of the request moves its read forward.
    const read = TrackedRead.of('a', session, 60_000)!;
    read.moveTo({ ms: 2, counter: 0, writer: 0 }, '{"user":"bob"}', new Map());
    expect(TrackedRead.of('a', session, 60_000)).toMatchObject({ version: { ms: 2 }, base: '{"user":"bob"}' });
  });
});
