import { once, type EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import { memcachedCommand, type MemcachedCluster } from '@webtier/testkit';
import { decodeValue, type ReplicatedMemcachedStore, type StoredValue } from '../src/index.js';

/** Options that make failover fast enough for tests on a loaded 2-core box. */
export const FAST = { opTimeoutMs: 400, failureThreshold: 2, retryIntervalMs: 150, maxRetryIntervalMs: 1000, healthCheckIntervalMs: 250, resyncRatePerSec: 5000 } as const;

/** Resolves with the first event `name` whose payload satisfies `match`, or rejects after `timeoutMs`. */
export function waitForEvent<T>(emitter: EventEmitter, name: string, match: (x: T) => boolean = () => true, timeoutMs = 15_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(name, on);
      reject(new Error(`no "${name}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (x: T) => {
      if (!match(x)) return;
      clearTimeout(timer);
      emitter.off(name, on);
      resolve(x);
    };
    emitter.on(name, on);
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The raw value one node holds for `key` (text protocol `get`), decoded; undefined when absent. */
export async function rawGet(cluster: MemcachedCluster, node: string, key: string): Promise<StoredValue | undefined> {
  const bytes = await rawGetBytes(cluster, node, key);
  return bytes === undefined ? undefined : decodeValue(bytes);
}

/** Stores a raw value on one node with the text protocol (for foreign and corrupt keys). */
export async function rawSet(cluster: MemcachedCluster, node: string, key: string, value: string, ttl = 300): Promise<void> {
  const n = cluster.byAddress(node);
  const reply = await memcachedCommand(n.host, n.port, `set ${key} 0 ${ttl} ${Buffer.byteLength(value)}\r\n${value}`);
  if (!reply.startsWith('STORED')) throw new Error(`rawSet ${key} on ${node}: ${reply}`);
}

/** A minimal cookie jar client for one user. */
export class Browser {
  cookie = '';
  constructor(readonly base: string) {}
  async get(path: string): Promise<{ status: number; body: any; ms: number }> {
    const started = Date.now();
    const res = await fetch(this.base + path, { headers: this.cookie ? { cookie: this.cookie } : {} });
    for (const c of res.headers.getSetCookie()) this.cookie = c.split(';')[0]!;
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON (an error page)
    }
    return { status: res.status, body, ms: Date.now() - started };
  }
}

/**
 * A real express 5 app with express-session over `store`:
 * /login?user=u, /me (counts visits: a write per request), /peek (read only: touch), /logout.
 */
export async function startExpressApp(store: ReplicatedMemcachedStore, maxAgeMs = 3_600_000): Promise<{ base: string; close: () => Promise<void> }> {
  const app = express();
  app.use(session({ store, secret: 'test-secret', resave: false, saveUninitialized: false, cookie: { maxAge: maxAgeMs } }));
  app.get('/login', (req, res) => {
    (req.session as any).user = String(req.query['user']);
    (req.session as any).visits = 0;
    res.json({ ok: true });
  });
  app.get('/me', (req, res) => {
    const s = req.session as any;
    if (!s.user) return void res.json({ user: null });
    s.visits += 1;
    res.json({ user: s.user, visits: s.visits });
  });
  app.get('/peek', (req, res) => res.json({ user: (req.session as any)?.user ?? null, visits: (req.session as any)?.visits ?? null }));
  app.get('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.json({ ok: true }))));
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: err.message, code: (err as { code?: string }).code });
  });
  const server: Server = app.listen(0, '127.0.0.1');
  // Node closes idle keep-alive sockets after 5 s; on a loaded machine a client may reuse one in the
  // same instant ("other side closed", seen once in a full run at load 13). Tests are not about that.
  server.keepAliveTimeout = 60_000;
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

/** Stores raw bytes on one node with the text protocol, as an attacker on the memcached network would. */
export async function rawSetBytes(cluster: MemcachedCluster, node: string, key: string, value: Buffer, ttl = 300): Promise<void> {
  const n = cluster.byAddress(node);
  const { connect } = await import('node:net');
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: n.host, port: n.port });
    const timer = setTimeout(() => (socket.destroy(), reject(new Error(`rawSetBytes ${node} timed out`))), 3000);
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from(`set ${key} 0 ${ttl} ${value.length}\r\n`), value, Buffer.from('\r\n')])));
    socket.on('data', (d: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      if (d.toString().startsWith('STORED')) resolve();
      else reject(new Error(`rawSetBytes ${key} on ${node}: ${d.toString()}`));
    });
    socket.on('error', (e) => (clearTimeout(timer), reject(e)));
  });
}

/** The raw bytes one node holds for `key`, or undefined. */
export async function rawGetBytes(cluster: MemcachedCluster, node: string, key: string): Promise<Buffer | undefined> {
  const n = cluster.byAddress(node);
  const { connect } = await import('node:net');
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ host: n.host, port: n.port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => (socket.destroy(), reject(new Error(`rawGetBytes ${node} timed out`))), 3000);
    socket.on('connect', () => socket.write(`get ${key}\r\n`));
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      if (all.subarray(-5).toString() === 'END\r\n') {
        clearTimeout(timer);
        socket.destroy();
        resolve(all);
      }
    });
    socket.on('error', (e) => (clearTimeout(timer), reject(e)));
  });
  if (reply.toString('latin1').startsWith('END')) return undefined;
  const headerEnd = reply.indexOf('\r\n');
  const bytes = Number(reply.toString('latin1', 0, headerEnd).split(' ')[3]);
  return reply.subarray(headerEnd + 2, headerEnd + 2 + bytes);
}

/**
 * A value in the stored format of the first release (20-byte header, still read), forged by hand:
 * kind 1 session / 2 tombstone, HLC ms and counter, expiry in Unix seconds, then the JSON body.
 */
export function forgeValue(o: { ms: number; counter?: number; kind?: 1 | 2; expiresUnix?: number; json?: string }): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0xa7;
  h[1] = 1;
  h[2] = o.kind ?? 1;
  h.writeUIntBE(o.ms, 4, 6);
  h.writeUInt16BE(o.counter ?? 0, 10);
  h.writeUInt32BE(0x41414141, 12);
  h.writeUInt32BE(o.expiresUnix ?? Math.floor(Date.now() / 1000) + 3600, 16);
  return Buffer.concat([h, Buffer.from(o.json ?? '', 'utf8')]);
}

/** The session id inside an express-session (`connect.sid=s%3A<id>.<sig>`) or @fastify/session cookie. */
export function sidOf(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  return (value.startsWith('s:') ? value.slice(2) : value).split('.')[0]!;
}
