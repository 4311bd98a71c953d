import { SessionStoreError, SessionStoreErrorCodes } from './errors.js';
import { memcachedExpiration } from './Expiry.js';
import type { NodeConnection, NodeHit } from './NodeConnection.js';
import type { NodeHealth } from './NodeHealth.js';
import type { ReadMode, ResolvedOptions } from './options.js';
import type { Placement } from './Placement.js';
import type { ValueCodec } from './ValueCodec.js';
import { newer, newestFirst, repairPlan, repairReason, type RepairReason } from './ReadRepair.js';
import { CorruptValueError, type CorruptCode, type HybridClock, type StoredValue, type ValueHeader } from './Versioned.js';

/** What one replica said for a key. */
interface ReplicaRead {
  readonly node: string;
  readonly hit: NodeHit | null;
  readonly header?: ValueHeader;
  corrupt?: CorruptValueError;
  readonly error?: Error;
}

export type { RepairReason } from './ReadRepair.js';

/** Payload of the store's `repair` event. */
export interface RepairEvent {
  readonly id: string;
  readonly source: 'read' | 'resync';
  readonly repaired: ReadonlyArray<{ readonly node: string; readonly reason: RepairReason }>;
}

/**
 * Payload of the store's `corrupt` event: a value that was rejected (does not parse, fails
 * authentication, names an unknown key, is not sealed while encryption is on, has a version too far
 * ahead, or a hostile shape). It is never returned nor copied, and is overwritten from a good replica.
 */
export interface CorruptEvent {
  readonly id: string;
  readonly node: string;
  /** Machine-readable reason: `format`, `json`, `shape`, `auth`, `unknown-key`, `plain`, `clock-skew`. */
  readonly code: CorruptCode;
  /** What is wrong, in words. */
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
  /** CAS of each replica that answered (null: it had no copy), for a conditional write later. */
  readonly cas: ReadonlyMap<string, Buffer | null>;
  /** Resolves to the copies rewritten (never rejects). */
  readonly repaired: Promise<ReadonlyArray<{ node: string; reason: RepairReason }>>;
}

const NO_REPAIR: Promise<Array<{ node: string; reason: RepairReason }>> = Promise.resolve([]);

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
  readonly #codec: ValueCodec;
  readonly #events: ReplicatorEvents;
  readonly isUp = (node: string): boolean => this.#health.get(node)!.isUp;

  constructor(o: ResolvedOptions, conns: ReadonlyMap<string, NodeConnection>, health: ReadonlyMap<string, NodeHealth>, placement: Placement, clock: HybridClock, codec: ValueCodec, events: ReplicatorEvents) {
    this.#o = o;
    this.#conns = conns;
    this.#health = health;
    this.#placement = placement;
    this.#clock = clock;
    this.#codec = codec;
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

  #readOne(node: string, key: string): Promise<ReplicaRead> {
    return this.#readAll([node], key).then((r) => r[0]!);
  }

  // The hot path of every get: the replicas are read with callbacks (the failure accounting of op()
  // inline) and answered with one promise, in the order of `nodes`.
  #readAll(nodes: readonly string[], key: string): Promise<ReplicaRead[]> {
    if (nodes.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const out = new Array<ReplicaRead>(nodes.length);
      let left = nodes.length;
      let failed = false;
      const settle = (i: number, r: ReplicaRead) => {
        out[i] = r;
        if (--left === 0 && !failed) resolve(out);
      };
      for (let i = 0; i < nodes.length; i++) {
        const node = nodes[i]!;
        const health = this.#health.get(node)!;
        this.#conns.get(node)!.getCb(key, (err, hit) => {
          if (err) {
            health.recordFailure(err);
            return settle(i, { node, hit: null, error: err });
          }
          health.recordSuccess();
          if (!hit) return settle(i, { node, hit });
          try {
            settle(i, { node, hit, header: this.#codec.header(hit.value) });
          } catch (e) {
            if (e instanceof CorruptValueError) return settle(i, { node, hit, corrupt: e });
            failed = true;
            reject(e);
          }
        });
      }
    });
  }

  /**
   * Reads the key's live replicas and returns the newest value. A replica that fails is stood in for
   * by the next live node, which may hold the copy written while an owner was down.
   */
  async read(key: string, id: string, opts: ReadOptions): Promise<ReadOutcome> {
    const c = await this.#collect(key, id, opts.mode, 'read');
    const reads = c.reads ?? (c.newest ? [c.newest] : []);
    const cas = new Map<string, Buffer | null>();
    for (const r of reads) if (!r.error) cas.set(r.node, r.hit ? r.hit.cas : null);
    if (!c.newest || !c.value) return { newest: undefined, cas, repaired: NO_REPAIR };
    if (!c.reads) return { newest: c.value, cas, repaired: NO_REPAIR };
    const repaired = this.#repair(key, id, c.newest, c.value, c.reads, opts);
    return { newest: c.value, cas, repaired };
  }

  // Every replica's answer and the newest copy that opens (authentic, parseable, acceptable shape).
  async #collect(key: string, id: string, mode: ReadMode, what: string): Promise<{ reads?: ReplicaRead[]; newest?: ReplicaRead; value?: StoredValue }> {
    const targets = this.#placement.targets(key, this.isUp);
    if (targets.length === 0) throw this.#noLiveNode(what, id, key);
    let reads: ReplicaRead[];
    const first = targets[0]!;
    if (mode === 'primary' && !this.#health.get(first)!.needsResync) {
      const r = await this.#readOne(first, key);
      if (r.header && r.header.expiresAt > Date.now()) {
        const value = this.#materialize(r, id);
        if (value) {
          this.#clock.observe(value.version);
          return { newest: r, value };
        }
      }
      reads = [r, ...(await this.#readAll(targets.slice(1), key))];
    } else {
      reads = await this.#readAll(targets, key);
    }
    let failed = 0;
    for (const r of reads) if (r.error) failed++;
    if (failed > 0) {
      const extra = this.#placement.fallbacks(key, this.isUp, targets).slice(0, failed);
      reads.push(...(await this.#readAll(extra, key)));
      if (reads.every((r) => r.error)) {
        throw new SessionStoreError(what === 'read' ? SessionStoreErrorCodes.UNAVAILABLE : SessionStoreErrorCodes.NO_REPLICA, `could not ${what} session "${id}" on any replica: ${describe(reads)}`, {
          cause: reads[0]?.error,
          details: { id, nodes: reads.map((r) => r.node) },
        });
      }
    }
    for (const r of reads) if (r.corrupt) this.#reportCorrupt(id, r);
    // Newest first (see newestFirst); only the newest copy that opens is decrypted and parsed.
    const ordered = newestFirst(reads);
    let newest: ReplicaRead | undefined;
    let value: StoredValue | undefined;
    for (const c of ordered) {
      value = this.#materialize(c, id);
      if (value) {
        newest = c;
        break;
      }
    }
    if (!newest || !value) return { reads };
    // A copy that claims the newest's version and expiry but holds other bytes is checked, so an
    // altered twin is found and repaired instead of waiting for the good copy to be lost.
    for (const r of ordered) {
      if (r === newest || r.corrupt || newer(r.header!, newest.header!) !== 0 || r.hit!.value.equals(newest.hit!.value)) continue;
      this.#materialize(r, id);
    }
    this.#clock.observe(value.version);
    return { reads, newest, value };
  }

  #reportCorrupt(id: string, r: ReplicaRead): void {
    this.#events.corrupt({ id, node: r.node, code: r.corrupt!.code, reason: r.corrupt!.message });
  }

  // Header plus opened body, or undefined (and a `corrupt` event) when the body is rejected.
  #materialize(r: ReplicaRead, id: string): StoredValue | undefined {
    try {
      return this.#codec.open(r.hit!.value, r.header!);
    } catch (err) {
      if (!(err instanceof CorruptValueError)) throw err;
      r.corrupt = err;
      this.#reportCorrupt(id, r);
      return undefined;
    }
  }

  #repair(key: string, id: string, newest: ReplicaRead, value: StoredValue, reads: ReplicaRead[], opts: ReadOptions): Promise<Array<{ node: string; reason: RepairReason }>> {
    const left = Math.ceil((value.expiresAt - Date.now()) / 1000);
    if (left < 1) return NO_REPAIR; // expired: nothing worth copying
    const plan = repairPlan(reads, newest, this.#codec.primaryKeyId, opts.repairOnly);
    if (plan.length === 0) return NO_REPAIR; // the common case: every copy is the newest
    return this.#runRepair(key, id, newest, value, plan, memcachedExpiration(left), opts);
  }

  async #runRepair(key: string, id: string, newest: ReplicaRead, value: StoredValue, plan: Array<{ copy: ReplicaRead; reason: RepairReason }>, exp: number, opts: ReadOptions): Promise<Array<{ node: string; reason: RepairReason }>> {
    // Rotation: a value sealed with an older key is re-sealed with the first key on every replica.
    const rekey = this.#codec.primaryKeyId !== undefined && newest.header!.keyId !== this.#codec.primaryKeyId;
    const bytes = rekey ? this.#codec.rewrite(newest.hit!.value, newest.header!, value.expiresAt) : newest.hit!.value;
    const reasons = new Map(plan.map((p) => [p.copy, p.reason]));
    const done = await this.#writeCopies(key, [...reasons.keys()], bytes, exp, (r) => reasons.get(r));
    if (done.length > 0) this.#events.repair({ id, source: opts.source, repaired: done });
    return done;
  }

  // Conditional writes: `add` for a missing copy and CAS for a present one, so a repair or touch
  // never overwrites a newer write that raced it.
  async #writeCopies(key: string, reads: ReplicaRead[], bytes: Buffer, exp: number, reasonOf: (r: ReplicaRead) => RepairReason | undefined): Promise<Array<{ node: string; reason: RepairReason }>> {
    const jobs: Array<Promise<{ node: string; reason: RepairReason } | undefined>> = [];
    for (const r of reads) {
      const reason = reasonOf(r);
      if (!reason) continue;
      const write = r.hit ? this.op(r.node, (c) => c.set(key, bytes, exp, r.hit!.cas)).then((o) => o === 'stored') : this.op(r.node, (c) => c.add(key, bytes, exp));
      jobs.push(write.then((ok) => (ok ? { node: r.node, reason } : undefined), () => undefined));
    }
    if (jobs.length === 0) return [];
    return (await Promise.all(jobs)).filter((x): x is { node: string; reason: RepairReason } => x !== undefined);
  }

  /**
   * Writes `value` to the key's live replicas in parallel. Resolves once each has answered or failed;
   * rejects only when none accepted. A failed replica's copy goes to the next live node in the background.
   */
  async write(key: string, id: string, value: Buffer, expiration: number, what: string): Promise<void> {
    const targets = this.#placement.targets(key, this.isUp);
    if (targets.length === 0) throw this.#noLiveNode(what, id, key);
    const results = await Promise.all(targets.length === 2 ? [this.#writeOne(targets[0]!, key, value, expiration), this.#writeOne(targets[1]!, key, value, expiration)] : targets.map((n) => this.#writeOne(n, key, value, expiration)));
    if (!results.some((r) => r.error)) return;
    const failed = results.filter((r) => r.error);
    for (const f of failed) this.#health.get(f.node)!.needsResync = true;
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

  // The write path of every set: a callback write with the failure accounting of op() inline.
  #writeOne(node: string, key: string, value: Buffer, expiration: number): Promise<{ node: string; error?: Error }> {
    return new Promise((resolve) => {
      const health = this.#health.get(node)!;
      this.#conns.get(node)!.setCb(key, value, expiration, undefined, (err) => {
        if (err) {
          health.recordFailure(err);
          resolve({ node, error: err });
        } else {
          health.recordSuccess();
          resolve({ node });
        }
      });
    });
  }

  /**
   * Every replica's copy for a read-modify-write (issue 12): CAS per node and the copies that open,
   * newest first. Corrupt copies count as absent (their CAS is kept, so a write replaces them).
   */
  async readForUpdate(key: string, id: string): Promise<{ cas: Map<string, Buffer | null>; copies: StoredValue[] }> {
    const c = await this.#collect(key, id, 'all', 'set');
    const reads = c.reads ?? [];
    const cas = new Map(reads.filter((r) => !r.error).map((r) => [r.node, r.hit ? r.hit.cas : null]));
    const copies: StoredValue[] = [];
    for (const r of newestFirst(reads.filter((x) => !x.corrupt))) {
      // A twin of the newest (the same bytes: the common case, both replicas written together) is
      // not parsed again.
      const v = r === c.newest || (c.newest && r.hit!.value.equals(c.newest.hit!.value)) ? c.value : this.#materialize(r, id);
      if (v) copies.push(v);
    }
    return { cas, copies };
  }

  /**
   * Writes `value` to each node of `cas` conditionally: CAS where the node had a copy, `add` where it
   * had none. `conflicted` lists nodes where someone else wrote in between (retry with a fresh read).
   */
  writeCas(key: string, id: string, value: Buffer, expiration: number, cas: ReadonlyMap<string, Buffer | null>): Promise<{ stored: string[]; conflicted: string[]; failed: Array<{ node: string; error: Error }> }> {
    // Callbacks and one promise, as #readAll and #writeOne: a merged save runs this once or twice.
    return new Promise((resolve, reject) => {
      const stored: string[] = [];
      const conflicted: string[] = [];
      const failed: Array<{ node: string; error: Error }> = [];
      let left = 1; // released after the loop, so that no answer settles before every write is out
      const settle = (): void => {
        if (--left > 0) return;
        if (stored.length === 0 && conflicted.length === 0) {
          reject(new SessionStoreError(SessionStoreErrorCodes.NO_REPLICA, `could not set session "${id}" on any replica: ${describe(failed)}`, { cause: failed[0]?.error, details: { id, nodes: failed.map((f) => f.node) } }));
        } else {
          resolve({ stored, conflicted, failed });
        }
      };
      for (const [node, token] of cas) {
        if (!this.isUp(node)) continue;
        left++;
        const health = this.#health.get(node)!;
        const answered = (err: Error | null, ok: boolean): void => {
          if (err) {
            health.recordFailure(err);
            health.needsResync = true;
            failed.push({ node, error: err });
          } else {
            health.recordSuccess();
            (ok ? stored : conflicted).push(node);
          }
          settle();
        };
        const conn = this.#conns.get(node)!;
        if (token) conn.setCb(key, value, expiration, token, (err, outcome) => answered(err, outcome === 'stored'));
        else conn.add(key, value, expiration).then((ok) => answered(null, ok), (err: unknown) => answered(err instanceof Error ? err : new Error(String(err)), false));
      }
      settle();
    });
  }

  /**
   * Records a new expiry for the session on every live replica: the newest copy is rewritten with the
   * same version and body and the new expiry in its header (CAS, so a write that raced the touch
   * wins), so that a copy made later by repair or re-sync gets this TTL, not the last full write's.
   * Replicas missing the session or holding an older copy get the rewritten newest one. Resolves
   * `false` when there is no live session to touch.
   */
  async touch(key: string, id: string, expiresAt: number, expiration: number): Promise<boolean> {
    const c = await this.#collect(key, id, 'all', 'touch');
    if (!c.newest || !c.value || c.value.kind !== 'session' || c.value.expiresAt <= Date.now()) return false;
    const newest = c.newest;
    const rekey = this.#codec.primaryKeyId !== undefined && newest.header!.keyId !== this.#codec.primaryKeyId;
    const same = newest.header!.expiresAt === expiresAt && !rekey;
    const bytes = same ? newest.hit!.value : this.#codec.rewrite(newest.hit!.value, newest.header!, expiresAt);
    await this.#writeCopies(key, c.reads!, bytes, expiration, (r) => {
      if (r.error) return undefined;
      if (r === newest || (r.header && newer(r.header, newest.header!) === 0)) return same ? undefined : 'expiry';
      return repairReason(r, newest, this.#codec.primaryKeyId);
    });
    if (same) {
      // Same expiry: only memcached's own TTL may need resetting (someone shortened it).
      await Promise.all(c.reads!.filter((r) => r.hit && !r.error).map((r) => this.op(r.node, (conn) => conn.touch(key, expiration)).catch(() => false)));
    }
    return true;
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
