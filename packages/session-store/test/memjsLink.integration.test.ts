import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { MemcachedCluster } from '@webtier/testkit';
import memjs from 'memjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMJS_VERSION } from '../src/MemjsLink.js';
import { NodeConnection } from '../src/NodeConnection.js';

/**
 * MemjsLink (src/MemjsLink.ts) relies on memjs internals. These tests fail, naming what changed, when
 * another memjs is installed or its internals no longer look the way MemjsLink uses them; then
 * re-read MemjsLink against the new memjs, adjust it, and update MEMJS_VERSION and the exact pin in
 * package.json together.
 */
const require = createRequire(import.meta.url);
const WHAT_TO_DO = 'MemjsLink (src/MemjsLink.ts) uses memjs internals written against memjs ' + MEMJS_VERSION + ': re-check each one it lists, then update MEMJS_VERSION and the exact "memjs" pin in package.json together';

let cluster: MemcachedCluster;
beforeAll(async () => {
  cluster = await MemcachedCluster.start(1);
});
afterAll(async () => {
  await cluster?.stop();
});

interface MemjsServerShape {
  _socket?: Socket;
  connected: boolean;
  timeoutSet: boolean;
  responseBuffer: unknown;
  connectCallbacks: unknown;
  sock(sasl: boolean, go: (s: Socket) => void): void;
  responseHandler(chunk: Buffer): void;
  error(err: unknown): void;
  close(): void;
}

describe('memjs internals used by MemjsLink', () => {
  it('the installed memjs is the exact version package.json pins and MemjsLink was written against', () => {
    const installed = (require('memjs/package.json') as { version: string }).version;
    const pinned = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }).dependencies['memjs'];
    expect(pinned, `package.json must pin memjs exactly (no ^ or ~): ${WHAT_TO_DO}`).toBe(MEMJS_VERSION);
    expect(installed, `memjs ${installed} is installed: ${WHAT_TO_DO}`).toBe(MEMJS_VERSION);
  });

  it('a memjs Server has the methods and fields MemjsLink uses, and its socket behaves as MemjsLink expects', async () => {
    const n = cluster.node(0);
    const server = new memjs.Server(n.host, n.port, undefined, undefined, { conntimeout: 1, keepAlive: true, keepAliveDelay: 30 }) as unknown as MemjsServerShape;
    const problems: string[] = [];
    const check = (ok: boolean, what: string) => {
      if (!ok) problems.push(what);
    };
    for (const m of ['sock', 'responseHandler', 'error', 'close'] as const) check(typeof server[m] === 'function', `server.${m}() is a method`);
    check(server.connected === false, 'a new server has `connected === false`');
    check(server.timeoutSet === false, 'a new server has `timeoutSet === false`');
    check(Buffer.isBuffer(server.responseBuffer), 'a new server has a `responseBuffer` Buffer');
    check(Array.isArray(server.connectCallbacks), 'a new server has a `connectCallbacks` array (requests waiting for the connection)');
    check(!('_socket' in server) || server._socket === undefined, 'a new server has no `_socket`');
    if (problems.length === 0) {
      let goCalls = 0;
      let handled = 0;
      const read = server.responseHandler.bind(server);
      server.responseHandler = (chunk) => {
        handled++;
        read(chunk);
      };
      const socket = await new Promise<Socket>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('memjs did not call go() within 2 s')), 2000);
        server.sock(false, (s) => {
          goCalls++;
          clearTimeout(timer);
          resolve(s);
        });
        const s = server._socket;
        check(s instanceof Socket, 'sock() sets `server._socket` to a net.Socket synchronously (MemjsLink adopts it right after the call)');
        check(s?.listenerCount('close') === 1, `memjs puts exactly one 'close' listener on its socket (MemjsLink replaces it); found ${s?.listenerCount('close')}`);
        check(s?.listenerCount('data') === 0, "memjs adds its 'data' listener only once connected (MemjsLink's must come first)");
      });
      check(goCalls === 1 && socket === server._socket, 'go() is called once with `server._socket`');
      check(server.connected === true, '`server.connected` is true once go() runs');
      check(socket.listenerCount('data') === 1, "memjs reads with exactly one 'data' listener");
      // A version request: memjs must hand the reply to server.responseHandler.
      const version = Buffer.alloc(24);
      version[0] = 0x80;
      version[1] = 0x0b;
      socket.write(version);
      const deadline = Date.now() + 2000;
      while (handled === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      check(handled > 0, "memjs's 'data' listener calls `server.responseHandler(chunk)` (MemjsLink routes the SASL exchange through it)");
      const closed = new Promise((r) => socket.once('close', r));
      server.error(new Error('test done'));
      await closed;
      check(server._socket === undefined, 'server.error() destroys the socket and clears `server._socket`');
    }
    expect(problems, `memjs ${MEMJS_VERSION} internals changed: ${WHAT_TO_DO}`).toEqual([]);
  });
});

describe('NodeConnection over MemjsLink (real memcached)', () => {
  const opts = { opTimeoutMs: 300, connectTimeoutMs: 1000, username: undefined, password: undefined };

  it('requests queued while the connection opens are sent once it is open and all answered, in order; CAS, add, touch, delete and stats work', async () => {
    const n = cluster.node(0);
    const c = new NodeConnection(n.address, n.host, n.port, opts);
    try {
      const keys = Array.from({ length: 300 }, (_, i) => `link:${i}`);
      expect(await Promise.all(keys.map((k, i) => c.set(k, Buffer.from(`v${i}`), 60)))).toEqual(keys.map(() => 'stored'));
      const hits = await Promise.all([...keys.map((k) => c.get(k)), c.get('link:absent')]);
      expect(hits.map((h) => h?.value.toString() ?? null)).toEqual([...keys.map((_, i) => `v${i}`), null]);
      const first = hits[0]!;
      expect(await c.set('link:0', Buffer.from('changed'), 60, first.cas)).toBe('stored');
      expect(await c.set('link:0', Buffer.from('stale cas'), 60, first.cas)).toBe('exists');
      expect(await c.add('link:0', Buffer.from('x'), 60)).toBe(false);
      expect(await c.touch('link:0', 60)).toBe(true);
      expect(await c.delete('link:0')).toBe(true);
      expect(await c.delete('link:0')).toBe(false);
      expect(Number((await c.stats())['pid'])).toBe(n.pid);
    } finally {
      c.close();
    }
  });

  it('a frozen node: every request fails with SESS_ERR_TIMEOUT after opTimeoutMs counted from its call, not earlier; the thawed node answers again after reset', async () => {
    const n = cluster.node(0);
    const c = new NodeConnection(n.address, n.host, n.port, opts);
    let frozen = false;
    try {
      await c.set('link:frozen', Buffer.from('v'), 60);
      n.freeze();
      frozen = true;
      await new Promise((r) => setTimeout(r, 50)); // SIGSTOP takes effect asynchronously
      const started = performance.now();
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          c.get(`link:${i}`).then(
            () => ({ code: 'answered', ms: performance.now() - started }),
            (e: { code?: string }) => ({ code: e.code, ms: performance.now() - started }),
          ),
        ),
      );
      n.thaw();
      frozen = false;
      for (const o of outcomes) {
        expect(o.code).toBe('SESS_ERR_TIMEOUT');
        expect(o.ms).toBeGreaterThanOrEqual(opts.opTimeoutMs - 1);
        expect(o.ms).toBeLessThan(opts.opTimeoutMs + 1500);
      }
      c.reset('test: drop the connection that holds the late replies');
      expect((await c.get('link:frozen'))?.value.toString()).toBe('v');
    } finally {
      if (frozen) n.thaw();
      c.close();
    }
  });

  it('a killed node fails the requests written on its connection at once, and a restarted one is reconnected', async () => {
    const n = cluster.node(0);
    const c = new NodeConnection(n.address, n.host, n.port, { ...opts, opTimeoutMs: 5000 });
    try {
      await c.set('link:k', Buffer.from('v'), 60);
      n.freeze();
      await new Promise((r) => setTimeout(r, 50)); // SIGSTOP takes effect asynchronously
      const pending = Promise.allSettled(Array.from({ length: 10 }, () => c.get('link:k')));
      await new Promise((r) => setTimeout(r, 50));
      const started = performance.now();
      process.kill(n.pid!, 'SIGKILL'); // not n.kill(): it lets a frozen node run (and answer) before it dies
      const settled = await pending;
      expect(settled.map((s) => s.status)).toEqual(settled.map(() => 'rejected'));
      expect(performance.now() - started).toBeLessThan(2000); // not the 5 s opTimeoutMs
      await n.restart(); // a new, empty memcached on the same port
      let answered = false;
      for (let i = 0; i < 20 && !answered; i++) answered = await c.get('link:k').then((hit) => hit === null, () => false);
      expect(answered).toBe(true);
    } finally {
      c.close();
      if (n.state !== 'running') await n.restart();
    }
  });

  it('a reply that arrived while this process was stalled past opTimeoutMs is delivered, not timed out', async () => {
    const n = cluster.node(0);
    const c = new NodeConnection(n.address, n.host, n.port, opts);
    try {
      expect(await c.set('link:stall', Buffer.from('kept'), 60)).toBe('stored');
      // The get is written in this turn's check phase (the link's batch flush, queued first); the
      // stall comes right after it, so memcached's reply lands in the socket during the stall. After a
      // stall Node runs due timers before it reads sockets: a timer that failed the request at once
      // made a healthy node look dead (the demo's flakes under load).
      const hit = c.get('link:stall');
      await new Promise<void>((resolve) =>
        setImmediate(() => {
          const end = performance.now() + opts.opTimeoutMs + 400;
          while (performance.now() < end);
          resolve();
        }),
      );
      expect((await hit)?.value.toString()).toBe('kept');
    } finally {
      c.close();
    }
  });

  it('after close(), requests fail with SESS_ERR_CLOSED', async () => {
    const n = cluster.node(0);
    const c = new NodeConnection(n.address, n.host, n.port, opts);
    await c.get('link:x');
    c.close();
    await expect(c.get('link:x')).rejects.toMatchObject({ code: 'SESS_ERR_CLOSED' });
  });
});
