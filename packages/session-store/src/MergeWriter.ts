import { setTimeout as sleep } from 'node:timers/promises';
import { SessionStoreError, SessionStoreErrorCodes } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { TrackedRead } from './ReadTracker.js';
import type { ForUpdate, Replicator } from './Replicator.js';
import { applyChanges, containsChanges, diffSession, topLevelJson, topLevelJsonOf } from './SessionMerge.js';
import type { ValueCodec } from './ValueCodec.js';
import { compareVersions, type HybridClock, type Version } from './Versioned.js';

/** Payload of `conflict`: keys this write and a concurrent one both changed; this write's values were kept. */
export interface ConflictEvent {
  readonly id: string;
  /** Top-level keys (`key.sub` for `mergeNestedKeys`). */
  readonly keys: readonly string[];
}

export interface MergeWriterDeps {
  readonly replicator: Replicator;
  readonly codec: ValueCodec;
  readonly clock: HybridClock;
  readonly options: ResolvedOptions;
  /** Where the writes of a stored key go now (the first live nodes of its preference list). */
  targets(key: string): string[];
  onConflict(e: ConflictEvent): void;
}

/** The longest a write that lost the primary replica waits for the writer that won it (ms). */
export const SPLIT_YIELD_MAX_MS = 50;

/** How much older than this write's expiry the newest copy's may be and still count as this write's. */
const EXPIRY_SLACK_MS = 1000;

/** How long a session id counts as contended after a write of it lost a CAS in this process (ms). */
export const CONTENDED_FOR_MS = 10_000;

/** The most contended ids remembered, the least recently contended forgotten first (about 100 bytes each). */
export const CONTENDED_MAX = 1000;

/** The `set` of a session that this process's `get` returned, in concurrentWrites: 'merge'. */
export class MergeWriter {
  readonly #d: MergeWriterDeps;
  // Session id -> until when its first write attempt carries a read behind it (Replicator.writeCas's
  // peek): ids whose writes lost a CAS lately; insertion order is the eviction order.
  readonly #contended = new Map<string, number>();

  constructor(deps: MergeWriterDeps) {
    this.#d = deps;
  }

  /**
   * concurrentWrites: 'merge' (issue 12). The first attempt writes the session as it is, conditional
   * on every replica still holding what the request read (CAS from its get: no extra round trip).
   * When a replica changed meanwhile, read them all, take the newest copy written by someone else,
   * apply this request's changes (relative to what it read) to it and write that, conditionally
   * again; a destroy since the read wins (the session stays destroyed).
   *
   * A session whose write lost a CAS in this process lately (contended: two requests of one user at
   * once, as a webmail page fires them) sends a get right behind each conditional write of its first
   * attempt, in the same socket write, and merges from what those return: a conflicting save then
   * costs one round trip less and no socket writes of its own for the read. Measured with
   * `npm run bench:concurrency -- --throughput-only` (both requests of every round at once, 2 shared
   * cores): merge/last-write-wins per-run medians 1.01× and 0.92× with it against 0.88× and 0.89×
   * without, in the same runs. Other ids send nothing extra: the gets of an unraced write are wasted.
   */
  async write(key: string, sid: string, sess: Record<string, unknown>, json: string, read: TrackedRead, expiresAt: number, expiration: number, first: Buffer): Promise<void> {
    // Only a merge needs the changes; the common case (nobody wrote meanwhile) never computes them.
    let diff: { base: Map<string, string>; changes: ReturnType<typeof diffSession> } | undefined;
    const own: Version[] = [];
    let cas: ReadonlyMap<string, Buffer | null> = read.cas;
    let value = first;
    let version = decodeVersion(first);
    let written = json;
    const targets = this.#d.targets(key);
    let fast = targets.every((n) => cas.has(n));
    let peeked: ForUpdate | undefined;
    for (let attempt = 0; attempt < this.#d.options.mergeMaxAttempts; attempt++) {
      if (!fast) {
        const u = peeked ?? (await this.#d.replicator.readForUpdate(key, sid));
        peeked = undefined;
        cas = u.cas;
        const newest = u.copies[0];
        if (newest?.kind === 'tombstone' && compareVersions(newest.version, read.version) > 0) return; // destroyed since the read
        const other = u.copies.find((c) => c.kind === 'session' && !own.some((v) => compareVersions(v, c.version) === 0));
        let body: Record<string, unknown> = sess;
        if (other && compareVersions(other.version, read.version) > 0) {
          if (!diff) {
            const base = topLevelJsonOf(read.base);
            diff = { base, changes: diffSession(base, topLevelJson(sess), this.#d.options.mergeNestedKeys) };
          }
          // Already there (the writer this one raced merged it in) on every replica: nothing to write.
          const onEveryReplica = u.copies.length === u.cas.size && u.copies.every((c) => compareVersions(c.version, other.version) === 0);
          if (onEveryReplica && other.expiresAt >= expiresAt - EXPIRY_SLACK_MS && containsChanges(other.session!, diff.changes)) {
            read.moveTo(other.version, other.json ?? JSON.stringify(other.session), new Map());
            return;
          }
          const { merged, conflicts } = applyChanges(other.session!, diff.base, diff.changes);
          merged['cookie'] = sess['cookie'];
          body = merged;
          if (conflicts.length > 0) this.#d.onConflict({ id: sid, keys: conflicts });
        }
        version = this.#d.clock.next();
        written = body === sess ? json : JSON.stringify(body);
        value = this.#d.codec.encode('session', version, expiresAt, written);
      }
      fast = false;
      own.push(version);
      const started = performance.now();
      // Only the first attempt of a contended id: it is the one based on the request's old read.
      const r = await this.#d.replicator.writeCas(key, sid, value, expiration, cas, attempt === 0 && this.#isContended(sid));
      if (r.conflicted.length === 0) {
        // Later saves of the same request are based on what it wrote.
        read.moveTo(version, written, new Map());
        return;
      }
      this.#markContended(sid);
      const last = attempt === this.#d.options.mergeMaxAttempts - 1;
      if (!last && r.stored.length > 0 && !r.stored.includes(targets[0]!)) {
        // A split: another writer won the primary and this one a replica behind it. Both retrying at
        // once split again as often as not; the primary's winner sees this write on the replica it
        // lost and merges it in, so this one gives it about a round trip to do so, then reads afresh
        // (and has nothing to write when its changes are already in the newest copy everywhere).
        await sleep(Math.min(SPLIT_YIELD_MAX_MS, 2 * (performance.now() - started)));
      } else if (r.peeked) {
        peeked = this.#d.replicator.forUpdateFrom(key, sid, r.peeked);
      }
    }
    throw new SessionStoreError(SessionStoreErrorCodes.CONFLICT, `session "${sid}" kept changing during ${this.#d.options.mergeMaxAttempts} merge attempts; this write was not applied everywhere (raise mergeMaxAttempts if writes of one session are this frequent)`, { details: { id: sid } });
  }

  #isContended(sid: string): boolean {
    const until = this.#contended.get(sid);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#contended.delete(sid);
    return false;
  }

  #markContended(sid: string): void {
    this.#contended.delete(sid); // re-inserted last: the least recently contended id is the first
    this.#contended.set(sid, Date.now() + CONTENDED_FOR_MS);
    if (this.#contended.size > CONTENDED_MAX) this.#contended.delete(this.#contended.keys().next().value!);
  }
}

function decodeVersion(value: Buffer): Version {
  return { ms: value.readUIntBE(4, 6), counter: value.readUInt16BE(10), writer: value.readUInt32BE(12) };
}
