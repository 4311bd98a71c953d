import { SessionStoreError, SessionStoreErrorCodes } from './errors.js';
import { memcachedExpiration, sessionTtlSeconds } from './Expiry.js';
import type { NodeConnection, NodeHit } from './NodeConnection.js';
import type { NodeHealth } from './NodeHealth.js';
import type { ReadMode, ResolvedOptions } from './options.js';
import type { Placement } from './Placement.js';
import { CorruptValueError, compareVersions, decodeHeader, decodeSession, type HybridClock, type StoredValue, type ValueHeader } from './Versioned.js';

/** What one replica said for a key. */
interface ReplicaRead {
  readonly node: string;
  readonly hit: NodeHit | null;
  readonly header?: ValueHeader;
  corrupt?: string;
  readonly error?: Error;
}

/** Why a copy was rewritten by read-repair or re-sync. */
export type RepairReason = 'missing' | 'stale' | 'corrupt';

/** Payload of the store's `repair` event. */
export interface RepairEvent {
  readonly id: string;
  readonly source: 'read' | 'resync';
  readonly repaired: ReadonlyArray<{ readonly node: string; readonly reason: RepairReason }>;
}

/** Payload of the store's `corrupt` event: a value that does not parse, treated as missing. */
export interface CorruptEvent {
  readonly id: string;
  readonly node: string;
  readonly reason: string;
}

export interface ReplicatorEvents {
  repair(e: RepairEvent): void;
  corrupt(e: CorruptEvent): void;
}

export interface ReadOptions {
  mode: ReadMode;
  source: 'read' | 'resync';
  /** Only repair copies on these nodes (re-sync of one node). */
  repairOnly?: string;
}

/** The newest value of a key and the background repair of its stale copies. */
export interface ReadOutcome {
  readonly newest: StoredValue | undefined;
  /** Resolves to the copies rewritten (never rejects). */
  readonly repaired: Promise<ReadonlyArray<{ node: string; reason: RepairReason }>>;
}

const NO_REPAIR = Promise.resolve([]);

/**
 * Fans reads and writes out to a key's replicas, counts successes and failures per node, picks the
 * newest version and repairs the rest.
 */
export class Replicator {
  readonly #o: ResolvedOptions;
  readonly #conns: ReadonlyMap<string, NodeConnection>;
  readonly #health: ReadonlyMap<string, NodeHealth>;
  readonly #placement: Placement;
  readonly #clock: HybridClock;
  readonly #events: ReplicatorEvents;
  readonly isUp = (node: string): boolean => this.#health.get(node)!.isUp;

  constructor(o: ResolvedOptions, conns: ReadonlyMap<string, NodeConnection>, health: ReadonlyMap<string, NodeHealth>, placement: Placement, clock: HybridClock, events: ReplicatorEvents) {
    this.#o = o;
    this.#conns = conns;
    this.#health = health;
    this.#placement = placement;
    this.#clock = clock;
    this.#events = events;
  }

  get placement(): Placement {
    return this.#placement;
  }

  /** Runs one operation on one node and feeds the outcome into the node's failure accounting. */
  async op<T>(node: string, fn: (c: NodeConnection) => Promise<T>): Promise<T> {
    const health = this.#health.get(node)!;
    try {
      const r = await fn(this.#conns.get(node)!);
      health.recordSuccess();
      return r;
    } catch (err) {
      health.recordFailure(err);
      throw err;
    }
  }

  async #readOne(node: string, key: string): Promise<ReplicaRead> {
    let hit: NodeHit | null;
    try {
      hit = await this.op(node, (c) => c.get(key));
    } catch (err) {
      return { node, hit: null, error: err as Error };
    }
    if (!hit) return { node, hit };
    try {
      return { node, hit, header: decodeHeader(hit.value) };
    } catch (err) {
      if (!(err instanceof CorruptValueError)) throw err;
      return { node, hit, corrupt: err.message };
    }
  }

  /**
   * Reads the key's live replicas and returns the newest value. A replica that fails is stood in for
   * by the next live node, which may hold the copy written while an owner was down.
   */
  async read(key: string, id: string, opts: ReadOptions): Promise<ReadOutcome> {
    const targets = this.#placement.targets(key, this.isUp);
    if (targets.length === 0) throw this.#noLiveNode('read', id, key);
    let reads: ReplicaRead[];
    const first = targets[0]!;
    if (opts.mode === 'primary' && !this.#health.get(first)!.needsResync) {
      const r = await this.#readOne(first, key);
      if (r.header) {
        const value = this.#materialize(r, id);
        if (value) {
          this.#clock.observe(value.version);
          return { newest: value, repaired: NO_REPAIR };
        }
      }
      reads = [r, ...(await Promise.all(targets.slice(1).map((n) => this.#readOne(n, key))))];
    } else {
      reads = await Promise.all(targets.map((n) => this.#readOne(n, key)));
    }
    const failed = reads.filter((r) => r.error).length;
    if (failed > 0) {
      const extra = this.#placement.fallbacks(key, this.isUp, targets).slice(0, failed);
      reads.push(...(await Promise.all(extra.map((n) => this.#readOne(n, key)))));
    }
    if (reads.every((r) => r.error)) {
      throw new SessionStoreError(SessionStoreErrorCodes.UNAVAILABLE, `could not read session "${id}" from any replica: ${describe(reads)}`, {
        cause: reads[0]?.error,
        details: { id, nodes: reads.map((r) => r.node) },
      });
    }
    // Only the newest copy's JSON is parsed; a newest copy whose JSON is corrupt yields to the next.
    let newest: ReplicaRead | undefined;
    let value: StoredValue | undefined;
    let headed = 0;
    for (const r of reads) {
      if (r.header) {
        headed++;
        if (!newest || compareVersions(r.header.version, newest.header!.version) > 0) newest = r;
      } else if (r.corrupt !== undefined) {
        this.#events.corrupt({ id, node: r.node, reason: r.corrupt });
      }
    }
    if (newest) value = this.#materialize(newest, id);
    if (newest && !value && headed > 1) {
      // The newest copy's body is corrupt: fall back to the next newest that parses.
      const rest = reads.filter((r) => r.header && r !== newest).sort((a, b) => compareVersions(b.header!.version, a.header!.version));
      newest = undefined;
      for (const c of rest) {
        value = this.#materialize(c, id);
        if (value) {
          newest = c;
          break;
        }
      }
    }
    if (!newest || !value) return { newest: undefined, repaired: NO_REPAIR };
    this.#clock.observe(value.version);
    const repaired = this.#repair(key, id, newest, value, reads, opts);
    return { newest: value, repaired };
  }

  // Header plus parsed body, or undefined (and a `corrupt` event) when the body does not parse.
  #materialize(r: ReplicaRead, id: string): StoredValue | undefined {
    const h = r.header!;
    if (h.kind === 'tombstone') return { kind: h.kind, version: h.version, expiresAt: h.expiresAt, session: undefined };
    try {
      return { kind: h.kind, version: h.version, expiresAt: h.expiresAt, session: decodeSession(r.hit!.value) };
    } catch (err) {
      if (!(err instanceof CorruptValueError)) throw err;
      r.corrupt = err.message;
      this.#events.corrupt({ id, node: r.node, reason: err.message });
      return undefined;
    }
  }

  async #repair(key: string, id: string, newest: ReplicaRead, value: StoredValue, reads: ReplicaRead[], opts: ReadOptions): Promise<Array<{ node: string; reason: RepairReason }>> {
    const jobs: Array<Promise<{ node: string; reason: RepairReason } | undefined>> = [];
    let expiration: number | undefined;
    for (const r of reads) {
      if (r.error || r === newest) continue;
      if (opts.repairOnly !== undefined && r.node !== opts.repairOnly) continue;
      const reason: RepairReason | undefined = r.corrupt !== undefined ? 'corrupt' : !r.hit ? 'missing' : compareVersions(r.header!.version, value.version) < 0 ? 'stale' : undefined;
      if (!reason) continue;
      expiration ??= this.#repairExpiration(value);
      const exp = expiration;
      // Conditional writes: `add` for a missing copy and CAS for a stale one, so a repair never
      // overwrites a newer write that raced it.
      const write = r.hit ? this.op(r.node, (c) => c.set(key, newest.hit!.value, exp, r.hit!.cas)).then((o) => o === 'stored') : this.op(r.node, (c) => c.add(key, newest.hit!.value, exp));
      jobs.push(write.then((ok) => (ok ? { node: r.node, reason } : undefined), () => undefined));
    }
    if (jobs.length === 0) return [];
    const done = (await Promise.all(jobs)).filter((x): x is { node: string; reason: RepairReason } => x !== undefined);
    if (done.length > 0) this.#events.repair({ id, source: opts.source, repaired: done });
    return done;
  }

  // The TTL a repaired copy gets: what is left of the last full write's TTL; when that has run out
  // (the session lives on through touch), the TTL a fresh write of it would get.
  #repairExpiration(v: StoredValue): number {
    const left = v.expiresAt - Math.floor(Date.now() / 1000);
    if (left >= 1) return memcachedExpiration(left);
    return memcachedExpiration(v.kind === 'session' ? sessionTtlSeconds(v.session, this.#o.ttlSeconds) : this.#o.tombstoneTtlSeconds);
  }

  /**
   * Writes `value` to the key's live replicas in parallel. Resolves once each has answered or failed;
   * rejects only when none accepted. A failed replica's copy goes to the next live node in the background.
   */
  async write(key: string, id: string, value: Buffer, expiration: number, what: string): Promise<void> {
    const targets = this.#placement.targets(key, this.isUp);
    if (targets.length === 0) throw this.#noLiveNode(what, id, key);
    const results = await Promise.all(targets.map((n) => this.#writeOne(n, key, value, expiration)));
    const failed = results.filter((r) => r.error);
    for (const f of failed) this.#health.get(f.node)!.needsResync = true;
    if (failed.length === 0) return;
    const accepted = results.length - failed.length;
    const fallbacks = this.#placement.fallbacks(key, this.isUp, targets).slice(0, failed.length);
    if (accepted > 0) {
      for (const n of fallbacks) void this.#writeOne(n, key, value, expiration);
      return;
    }
    const extra = await Promise.all(fallbacks.map((n) => this.#writeOne(n, key, value, expiration)));
    if (extra.some((r) => !r.error)) return;
    const all = [...results, ...extra];
    const tooLarge = all.find((r) => r.error instanceof SessionStoreError && r.error.code === SessionStoreErrorCodes.TOO_LARGE);
    if (tooLarge) {
      throw new SessionStoreError(SessionStoreErrorCodes.TOO_LARGE, `session "${id}" (${value.length} bytes stored) is larger than memcached's item size limit on ${tooLarge.node}; nothing was written`, {
        cause: tooLarge.error,
        details: { id, sizeBytes: value.length },
      });
    }
    throw new SessionStoreError(SessionStoreErrorCodes.NO_REPLICA, `could not ${what} session "${id}" on any replica: ${describe(all)}`, {
      cause: all[0]?.error,
      details: { id, nodes: all.map((r) => r.node) },
    });
  }

  async #writeOne(node: string, key: string, value: Buffer, expiration: number): Promise<{ node: string; error?: Error }> {
    try {
      await this.op(node, (c) => c.set(key, value, expiration));
      return { node };
    } catch (err) {
      return { node, error: err as Error };
    }
  }

  /**
   * Resets the TTL on every live replica (memcached `touch`, no rewrite). A replica that lacks the key
   * gets it back through a background read-repair.
   */
  async touch(key: string, id: string, expiration: number): Promise<void> {
    const targets = this.#placement.targets(key, this.isUp);
    if (targets.length === 0) throw this.#noLiveNode('touch', id, key);
    const results = await Promise.all(
      targets.map((n) =>
        this.op(n, (c) => c.touch(key, expiration)).then(
          (found) => ({ node: n, found }),
          (error: Error) => ({ node: n, found: false, error }),
        ),
      ),
    );
    const ok = results.filter((r) => !('error' in r));
    if (ok.length === 0) {
      throw new SessionStoreError(SessionStoreErrorCodes.NO_REPLICA, `could not touch session "${id}" on any replica: ${describe(results)}`, {
        cause: (results[0] as { error?: Error }).error,
        details: { id, nodes: targets },
      });
    }
    if (results.some((r) => !r.found) && ok.some((r) => r.found)) {
      this.read(key, id, { mode: 'all', source: 'read' }).catch(() => {});
    }
  }

  #noLiveNode(what: string, id: string, key: string): SessionStoreError {
    const owners = this.#placement.owners(key);
    // The next request should not wait out the owners' probe backoff (up to maxRetryIntervalMs).
    for (const n of owners) this.#health.get(n)!.probeSoon();
    const causes = owners.map((n) => {
      const h = this.#health.get(n)!;
      return `${n} (${h.state}${h.lastError ? `: ${h.lastError}` : ''})`;
    });
    return new SessionStoreError(
      what === 'read' ? SessionStoreErrorCodes.UNAVAILABLE : SessionStoreErrorCodes.NO_REPLICA,
      `could not ${what} session "${id}": no replica is up: ${causes.join(', ')}`,
      { details: { id, nodes: owners } },
    );
  }
}

function describe(rs: ReadonlyArray<{ node: string; error?: Error }>): string {
  return rs.map((r) => `${r.node} (${r.error ? `${(r.error as { code?: string }).code ?? 'error'}: ${r.error.message}` : 'ok'})`).join(', ');
}
