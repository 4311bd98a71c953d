import type { Socket } from 'node:net';
import session from 'express-session';
import type { SessionData } from 'express-session';
import { SessionStoreError, SessionStoreErrorCodes } from './errors.js';
import { memcachedExpiration, sessionExpiresAt } from './Expiry.js';
import { metaDump } from './MetaDump.js';
import { NodeConnection } from './NodeConnection.js';
import { NodeHealth, type NodeHealthReport } from './NodeHealth.js';
import { parseAddress, resolveOptions, splitAddress, type ReplicatedMemcachedStoreOptions, type ResolvedOptions } from './options.js';
import { createPlacement } from './Placement.js';
import { Replicator, type CorruptEvent, type RepairEvent } from './Replicator.js';
import { resyncNode, type ResyncResult } from './Resync.js';
import { MergeWriter, type ConflictEvent } from './MergeWriter.js';
import { TrackedRead } from './ReadTracker.js';
import { sessionProblem } from './SessionShape.js';
import { ValueCodec } from './ValueCodec.js';
import { scanKeyUsage, type KeyUsage } from './KeyUsage.js';
import { HybridClock, type StoredValue } from './Versioned.js';

type Callback<T> = (err: any, value?: T) => void;

/** memcached's per-item overhead (item header, CAS, suffix) counted against the item size limit. */
const ITEM_OVERHEAD_BYTES = 64;
const MAX_KEY_BYTES = 250;
const LIST_CONCURRENCY = 32;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Payload of `node:down`. */
export interface NodeDownEvent {
  readonly node: string;
  readonly error: Error;
  readonly retryInMs: number;
}
/** Payload of `node:up`. */
export interface NodeUpEvent {
  readonly node: string;
  readonly downForMs: number;
}
/** Payload of `node:restarted`. */
export interface NodeRestartedEvent {
  readonly node: string;
  readonly pid: number | undefined;
  readonly previousPid: number | undefined;
}

/** Payload of `op`: one store operation as seen by its caller. */
export interface OpEvent {
  readonly op: 'get' | 'set' | 'destroy' | 'touch' | 'all' | 'length' | 'clear' | 'ids';
  readonly durationMs: number;
  readonly ok: boolean;
}

export type { KeyUsage } from './KeyUsage.js';

/** The events of {@link ReplicatedMemcachedStore} and their payloads. */
export interface StoreEvents {
  'node:down': [NodeDownEvent];
  'node:up': [NodeUpEvent];
  'node:restarted': [NodeRestartedEvent];
  repair: [RepairEvent];
  resync: [ResyncResult];
  corrupt: [CorruptEvent];
  /** A merged write and a concurrent one changed the same keys (concurrentWrites: 'merge'). */
  conflict: [ConflictEvent];
  /** After each store operation (for metrics): what, how long, whether it succeeded. */
  op: [OpEvent];
  /** After each `keyUsage()` scan. */
  keyusage: [KeyUsage];
  /** express-session's: no node is reachable (express-session then serves requests without a session). */
  disconnect: [];
  /** express-session's: a node is reachable again. */
  connect: [];
}

/**
 * An express-session store (also usable unchanged by @fastify/session) that keeps every session on
 * `replicas` distinct memcached nodes, returns the newest version, repairs stale copies, re-syncs
 * restarted nodes and keeps destroyed sessions destroyed with tombstones.
 */
export class ReplicatedMemcachedStore extends session.Store {
  /** The validated options, defaults applied. */
  readonly options: ResolvedOptions;
  readonly #conns = new Map<string, NodeConnection>();
  readonly #health = new Map<string, NodeHealth>();
  readonly #replicator: Replicator;
  readonly #clock: HybridClock;
  readonly #codec: ValueCodec;
  readonly #merger: MergeWriter;
  readonly #dumpSockets = new Set<Socket>();
  readonly #resyncs = new Map<string, Promise<ResyncResult>>();
  readonly #timer: NodeJS.Timeout;
  #reachable = true;
  #closed: Promise<void> | undefined;

  constructor(options: ReplicatedMemcachedStoreOptions) {
    super();
    const o = resolveOptions(options);
    this.options = o;
    this.#clock = new HybridClock(o.writerId, Date.now, o.maxClockSkewMs);
    this.#codec = new ValueCodec(o.encryption, this.#clock, o.itemSizeLimitBytes);
    for (const address of o.nodes) {
      const { host, port } = splitAddress(address);
      const conn = new NodeConnection(address, host, port, { opTimeoutMs: o.opTimeoutMs, connectTimeoutMs: o.connectTimeoutMs, username: o.username, password: o.password });
      this.#conns.set(address, conn);
      this.#health.set(
        address,
        new NodeHealth(conn, o, {
          onDown: (node, error, retryInMs) => this.#onDown(node, error, retryInMs),
          onUp: (node, downForMs) => this.#onUp(node, downForMs),
          onRestarted: (node, pid, previousPid) => this.#onRestarted(node, pid, previousPid),
        }),
      );
    }
    this.#replicator = new Replicator(o, this.#conns, this.#health, createPlacement(o), this.#clock, this.#codec, {
      repair: (e) => this.emit('repair', e),
      corrupt: (e) => this.emit('corrupt', e),
    });
    this.#merger = new MergeWriter({
      replicator: this.#replicator,
      codec: this.#codec,
      clock: this.#clock,
      options: o,
      // From the key #set built: placement(sid) would build it again and hash it twice (owners, targets).
      targets: (key) => this.#replicator.placement.targets(key, this.#replicator.isUp),
      onConflict: (e) => this.emit('conflict', e),
    });
    this.#timer = setInterval(() => this.#checkNodes(), o.healthCheckIntervalMs);
    this.#timer.unref();
    this.#checkNodes();
  }

  // ---- express-session Store contract ----

  /**
   * The session, or null when there is none (never stored, expired, destroyed, or unreadable).
   * With a callback (express-session, @fastify/session) or, without one, as a promise.
   */
  override get(sid: string): Promise<SessionData | null>;
  override get(sid: string, callback: (err: any, session?: any) => void): void;
  override get(sid: string, callback?: Callback<any>): Promise<SessionData | null> | void {
    return settle(this.#timed('get', () => this.#get(sid)), callback);
  }

  /** Writes the session to every live replica; fails only when no replica accepted it. */
  override set(sid: string, session: SessionData): Promise<void>;
  override set(sid: string, session: SessionData, callback: (err?: any) => void): void;
  override set(sid: string, sess: SessionData, callback?: Callback<void>): Promise<void> | void {
    return settle(this.#timed('set', () => this.#set(sid, sess)), callback);
  }

  /** Writes a tombstone to every live replica, so that no old copy can bring the session back. */
  override destroy(sid: string): Promise<void>;
  override destroy(sid: string, callback: (err?: any) => void): void;
  override destroy(sid: string, callback?: Callback<void>): Promise<void> | void {
    return settle(this.#timed('destroy', () => this.#destroy(sid)), callback);
  }

  /** Resets the session's TTL on every live replica with memcached's `touch`. */
  override touch(sid: string, session: SessionData): Promise<void>;
  override touch(sid: string, session: SessionData, callback: (err?: any) => void): void;
  override touch(sid: string, sess: SessionData, callback?: Callback<void>): Promise<void> | void {
    return settle(this.#timed('touch', () => this.#touch(sid, sess)), callback);
  }

  /** Every live session of this store (prefix only, de-duplicated over all nodes), each with its `id`. */
  override all(): Promise<SessionData[]>;
  override all(callback: (err: any, sessions?: any) => void): void;
  override all(callback?: Callback<SessionData[]>): Promise<SessionData[]> | void {
    return settle(
      this.#timed('all', () => this.#live().then((l) => l.map((x) => ({ ...x.session, id: x.id }) as SessionData))),
      callback,
    );
  }

  /** Number of live sessions of this store. */
  override length(): Promise<number>;
  override length(callback: (err: any, length?: number) => void): void;
  override length(callback?: Callback<number>): Promise<number> | void {
    return settle(
      this.#timed('length', () => this.#live().then((l) => l.length)),
      callback,
    );
  }

  /** Destroys every session of this store (tombstones); other keys on the nodes are left alone, no flush_all. */
  override clear(): Promise<void>;
  override clear(callback: (err?: any) => void): void;
  override clear(callback?: Callback<void>): Promise<void> | void {
    return settle(this.#timed('clear', () => this.#clear()), callback);
  }

  /** Ids of every live session of this store. */
  ids(): Promise<string[]>;
  ids(callback: (err: any, ids?: string[]) => void): void;
  ids(callback?: Callback<string[]>): Promise<string[]> | void {
    return settle(
      this.#timed('ids', () => this.#live().then((l) => l.map((x) => x.id))),
      callback,
    );
  }

  // ---- webtier additions ----

  /** Each node's state, failures, last error, last sighting and re-sync status. */
  health(): NodeHealthReport[] {
    return [...this.#health.values()].map((h) => h.report());
  }

  /**
   * Where session `sid` lives: `owners`, the nodes its copies belong on (the preference list, or
   * both members of its pair), and `targets`, where reads and writes go now (the live owners and,
   * in ring mode, the live nodes standing in for down ones).
   */
  placement(sid: string): { owners: string[]; targets: string[] } {
    const key = this.#key(sid);
    const p = this.#replicator.placement;
    return { owners: p.owners(key), targets: p.targets(key, this.#replicator.isUp) };
  }

  /**
   * Copies to `node` every session it should hold and lacks (or holds an older version of), reading
   * the keys from its peers with `lru_crawler metadump`. Runs at most `resyncRatePerSec` keys per second.
   */
  resync(node: string): Promise<ResyncResult> {
    const address = parseAddress(node, 'resync(node)');
    if (!this.#health.has(address)) {
      return Promise.reject(new SessionStoreError(SessionStoreErrorCodes.UNKNOWN_NODE, `resync(node): "${node}" is not one of this store's nodes (${this.options.nodes.join(', ')})`));
    }
    return this.#resync(address, 'requested');
  }

  /**
   * How many stored copies each encryption key seals, scanning every live node (`lru_crawler
   * metadump`, then one `get` per copy). Remove a key from `encryption.keys` once it shows 0.
   */
  keyUsage(): Promise<KeyUsage> {
    return this.#keyUsage();
  }

  /** Closes every socket and timer. Resolves when done; also takes a callback. */
  close(callback?: (err?: Error) => void): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#timer);
      for (const h of this.#health.values()) h.close();
      for (const c of this.#conns.values()) c.close();
      for (const s of this.#dumpSockets) s.destroy();
      this.#dumpSockets.clear();
      await Promise.allSettled([...this.#resyncs.values()]);
    })();
    if (callback) this.#closed.then(() => callback(), callback);
    return this.#closed;
  }

  // ---- internals ----

  #key(sid: unknown): string {
    this.#ensureOpen();
    if (typeof sid !== 'string' || sid === '' || /[\s\x00-\x1f\x7f]/.test(sid)) {
      throw new SessionStoreError(SessionStoreErrorCodes.BAD_ID, `session id ${JSON.stringify(sid)} must be a non-empty string without whitespace or control characters`);
    }
    // A lone surrogate is encoded as U+FFFD: 'a\ud800' and 'a\ufffd' would share one key.
    if (LONE_SURROGATE.test(sid)) {
      throw new SessionStoreError(SessionStoreErrorCodes.BAD_ID, `session id ${JSON.stringify(sid)} is not well-formed UTF-16 (a lone surrogate); ids must be valid Unicode`);
    }
    const key = this.options.prefix + sid;
    if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
      throw new SessionStoreError(SessionStoreErrorCodes.BAD_ID, `session id "${sid.slice(0, 40)}..." with prefix "${this.options.prefix}" is ${Buffer.byteLength(key)} bytes; memcached keys are at most ${MAX_KEY_BYTES}`);
    }
    return key;
  }

  #ensureOpen(): void {
    if (this.#closed) throw new SessionStoreError(SessionStoreErrorCodes.CLOSED, 'the store is closed; create a new ReplicatedMemcachedStore');
  }

  #timed<T>(op: OpEvent['op'], fn: () => Promise<T>): Promise<T> {
    if (this.listenerCount('op') === 0) return fn();
    const started = performance.now();
    const report = (ok: boolean) => this.emit('op', { op, durationMs: performance.now() - started, ok });
    let p: Promise<T>;
    try {
      p = fn();
    } catch (err) {
      report(false);
      throw err;
    }
    return p.then(
      (v) => (report(true), v),
      (err: unknown) => {
        report(false);
        throw err;
      },
    );
  }

  async #get(sid: string): Promise<SessionData | null> {
    const key = this.#key(sid);
    const out = await this.#replicator.read(key, sid, { mode: this.options.readMode, source: 'read' });
    const session = this.#visible(out.newest);
    if (session && this.options.concurrentWrites === 'merge' && this.options.readTrackingMax > 0 && out.newest!.json !== undefined) {
      new TrackedRead(sid, out.newest!.version, out.newest!.json, out.cas).attach(session as unknown as Record<string, unknown>);
    }
    return session;
  }

  // The session as the app sees it: none once its cookie has expired (checked in ms, not by
  // memcached's 1-s TTL), and with the expiry of the last touch.
  #visible(v: StoredValue | undefined): SessionData | null {
    if (!v || v.kind === 'tombstone' || v.expiresAt <= Date.now()) return null;
    const session = v.session as Record<string, unknown>;
    const cookie = session['cookie'] as Record<string, unknown>;
    const expires = cookie['expires'];
    // Formatting a date costs more than parsing one: rewrite only after a touch changed the expiry.
    if (expires !== undefined && expires !== null && (typeof expires !== 'string' || Date.parse(expires) !== v.expiresAt)) cookie['expires'] = new Date(v.expiresAt).toISOString();
    return session as unknown as SessionData;
  }

  async #set(sid: string, sess: SessionData): Promise<void> {
    const key = this.#key(sid);
    const problem = sessionProblem(sess);
    if (problem) {
      throw new SessionStoreError(SessionStoreErrorCodes.BAD_SESSION, `session "${sid}" would be refused when read back: ${problem}. Nothing was written.`, { details: { id: sid, problem } });
    }
    let json: string;
    try {
      json = JSON.stringify(sess);
    } catch (err) {
      throw new SessionStoreError(SessionStoreErrorCodes.SERIALIZE, `session "${sid}" cannot be serialized to JSON: ${(err as Error).message}`, { cause: err });
    }
    if (typeof json !== 'string') throw new SessionStoreError(SessionStoreErrorCodes.SERIALIZE, `session "${sid}" serialized to ${String(json)}; pass an object`);
    const now = Date.now();
    const expiresAt = sessionExpiresAt(sess, this.options.ttlSeconds, now);
    if (expiresAt <= now) return; // an already-expired cookie: nothing to keep (as connect-redis)
    const ttl = (expiresAt - now) / 1000;
    const value = this.#codec.encode('session', this.#clock.next(), expiresAt, json);
    const itemBytes = value.length + Buffer.byteLength(key) + ITEM_OVERHEAD_BYTES;
    if (itemBytes > this.options.itemSizeLimitBytes) {
      throw new SessionStoreError(
        SessionStoreErrorCodes.TOO_LARGE,
        `session "${sid}" is ${itemBytes} bytes as a memcached item, over the item size limit of ${this.options.itemSizeLimitBytes} bytes (itemSizeLimitBytes / memcached -I); store less in the session. Nothing was written.`,
        { details: { id: sid, sizeBytes: itemBytes, limitBytes: this.options.itemSizeLimitBytes } },
      );
    }
    const read = this.options.concurrentWrites === 'merge' ? TrackedRead.of(sid, sess as unknown as Record<string, unknown>, this.options.readTrackingMaxAgeMs) : undefined;
    if (read) return this.#merger.write(key, sid, sess as unknown as Record<string, unknown>, json, read, expiresAt, memcachedExpiration(ttl, now), value);
    await this.#replicator.write(key, sid, value, memcachedExpiration(ttl, now), 'set');
  }


  async #destroy(sid: string): Promise<void> {
    const key = this.#key(sid);
    const ttl = this.options.tombstoneTtlSeconds;
    const now = Date.now();
    const value = this.#codec.encode('tombstone', this.#clock.next(), now + ttl * 1000);
    await this.#replicator.write(key, sid, value, memcachedExpiration(ttl, now), 'destroy');
  }

  async #touch(sid: string, sess: SessionData): Promise<void> {
    const key = this.#key(sid);
    const now = Date.now();
    const expiresAt = sessionExpiresAt(sess, this.options.ttlSeconds, now);
    if (expiresAt <= now) return;
    await this.#replicator.touch(key, sid, expiresAt, memcachedExpiration((expiresAt - now) / 1000, now));
  }

  // The id of a listed key, or undefined for a key this store could not have written.
  #idOf(key: string): string | undefined {
    const id = key.slice(this.options.prefix.length);
    try {
      this.#key(id);
      return id;
    } catch (err) {
      if ((err as SessionStoreError).code === SessionStoreErrorCodes.CLOSED) throw err;
      return undefined;
    }
  }

  /** Keys with this store's prefix on every live node (except `exclude`), de-duplicated. */
  async #listKeys(exclude?: string): Promise<string[]> {
    this.#ensureOpen();
    const nodes = [...this.#health.values()].filter((h) => h.isUp && h.node !== exclude).map((h) => h.node);
    const idle = Math.max(2000, this.options.opTimeoutMs * 4);
    const dumps = await Promise.allSettled(
      nodes.map((n) => {
        const { host, port } = splitAddress(n);
        return metaDump({ host, port, prefix: this.options.prefix, idleTimeoutMs: idle, sockets: this.#dumpSockets });
      }),
    );
    const keys = new Set<string>();
    let ok = 0;
    for (const d of dumps) {
      if (d.status !== 'fulfilled') continue;
      ok++;
      for (const k of d.value) keys.add(k.key);
    }
    if (ok === 0) {
      const causes = dumps.map((d, i) => `${nodes[i]} (${d.status === 'rejected' ? (d.reason as Error).message : 'ok'})`);
      throw new SessionStoreError(SessionStoreErrorCodes.METADUMP, `could not list session keys on any node: ${causes.length > 0 ? causes.join(', ') : 'no node is up'}`, {
        cause: dumps.find((d) => d.status === 'rejected')?.reason,
      });
    }
    return [...keys];
  }

  async #live(): Promise<Array<{ id: string; session: SessionData }>> {
    const keys = await this.#listKeys();
    const out: Array<{ id: string; session: SessionData }> = [];
    await forEachLimited(keys, LIST_CONCURRENCY, async (key) => {
      const id = this.#idOf(key);
      if (id === undefined) return; // another client's key that happens to share the prefix
      const r = await this.#replicator.read(key, id, { mode: 'all', source: 'read' });
      const session = this.#visible(r.newest);
      if (session) out.push({ id, session });
    });
    return out;
  }

  async #clear(): Promise<void> {
    const keys = await this.#listKeys();
    await forEachLimited(keys, LIST_CONCURRENCY, async (key) => {
      const id = this.#idOf(key);
      if (id !== undefined) await this.#destroy(id);
    });
  }

  async #keyUsage(): Promise<KeyUsage> {
    this.#ensureOpen();
    const usage = await scanKeyUsage({
      nodes: [...this.#health.values()].filter((h) => h.isUp).map((h) => h.node),
      keyIds: this.options.encryption?.keyIds ?? [],
      listKeys: (node) => {
        const { host, port } = splitAddress(node);
        return metaDump({ host, port, prefix: this.options.prefix, idleTimeoutMs: Math.max(2000, this.options.opTimeoutMs * 4), sockets: this.#dumpSockets }).then((ks) => ks.map((k) => k.key).filter((k) => this.#idOf(k) !== undefined));
      },
      get: (node, key) => this.#replicator.op(node, (c) => c.get(key)).then((hit) => hit?.value ?? null, () => null),
      codec: this.#codec,
    });
    this.emit('keyusage', usage);
    return usage;
  }

  #resync(node: string, reason: string): Promise<ResyncResult> {
    const running = this.#resyncs.get(node);
    if (running) return running;
    const health = this.#health.get(node)!;
    health.resyncing = true;
    const p = resyncNode(node, reason, {
      replicator: this.#replicator,
      health,
      listPeerKeys: (n) => this.#listKeys(n),
      idOf: (key) => key.slice(this.options.prefix.length),
      ratePerSec: this.options.resyncRatePerSec,
      isClosed: () => this.#closed !== undefined,
    }).finally(() => {
      health.resyncing = false;
      this.#resyncs.delete(node);
    });
    this.#resyncs.set(node, p);
    p.then(
      (result) => this.emit('resync', result),
      () => {},
    );
    return p;
  }

  #autoResync(node: string, reason: string): void {
    if (!this.options.autoResync || this.#closed) return;
    this.#resync(node, reason).catch(() => {
      // listed again by the next health check while needsResync stays set
    });
  }

  #checkNodes(): void {
    if (this.#closed) return;
    // Disconnected, express-session stops calling the store, so no request triggers probeSoon(): probe
    // here, or a web node cut off from every memcached node (the lab's link-down) stays without
    // sessions for up to maxRetryIntervalMs after its link is back.
    if (!this.#reachable) for (const h of this.#health.values()) h.probeSoon();
    for (const h of this.#health.values()) {
      void h.check();
      if (h.isUp && h.needsResync && !h.resyncing && this.options.autoResync) this.#autoResync(h.node, 'missed writes');
    }
  }

  #onDown(node: string, error: Error, retryInMs: number): void {
    this.emit('node:down', { node, error, retryInMs });
    if (this.#reachable && ![...this.#health.values()].some((h) => h.isUp)) {
      this.#reachable = false;
      this.emit('disconnect');
    }
  }

  #onUp(node: string, downForMs: number): void {
    this.emit('node:up', { node, downForMs });
    if (!this.#reachable) {
      this.#reachable = true;
      this.emit('connect');
    }
    if (this.#health.get(node)!.needsResync) this.#autoResync(node, 'rejoined');
  }

  #onRestarted(node: string, pid: number | undefined, previousPid: number | undefined): void {
    this.emit('node:restarted', { node, pid, previousPid });
    this.#autoResync(node, 'restarted');
  }
}

/** Promise for callers without a callback; callback (called outside the promise chain) otherwise. */
function settle<T>(p: Promise<T>, callback: Callback<T> | undefined): Promise<T> | void {
  if (!callback) return p;
  p.then(
    (v) => process.nextTick(callback, null, v),
    (err) => process.nextTick(callback, err),
  );
}

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
