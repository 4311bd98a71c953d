import { setTimeout as sleep } from 'node:timers/promises';
import { SessionStoreError, SessionStoreErrorCodes } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { TrackedRead } from './ReadTracker.js';
import type { Replicator } from './Replicator.js';
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

/** The `set` of a session that this process's `get` returned, in concurrentWrites: 'merge'. */
export class MergeWriter {
  readonly #d: MergeWriterDeps;

  constructor(deps: MergeWriterDeps) {
    this.#d = deps;
  }

  /**
   * concurrentWrites: 'merge' (issue 12). The first attempt writes the session as it is, conditional
   * on every replica still holding what the request read (CAS from its get: no extra round trip).
   * When a replica changed meanwhile, read them all, take the newest copy written by someone else,
   * apply this request's changes (relative to what it read) to it and write that, conditionally
   * again; a destroy since the read wins (the session stays destroyed).
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
    let splits = 0;
    for (let attempt = 0; attempt < this.#d.options.mergeMaxAttempts; attempt++) {
      if (!fast) {
        const u = await this.#d.replicator.readForUpdate(key, sid);
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
      const r = await this.#d.replicator.writeCas(key, sid, value, expiration, cas);
      if (r.conflicted.length === 0) {
        // Later saves of the same request are based on what it wrote.
        read.moveTo(version, written, new Map());
        return;
      }
      const last = attempt === this.#d.options.mergeMaxAttempts - 1;
      if (!last && r.stored.length > 0 && !r.stored.includes(targets[0]!)) {
        // A split: another writer won the primary and this one a replica behind it. Both retrying at
        // once split again as often as not; the primary's winner sees this write on the replica it
        // lost and merges it in, so this one gives it about a round trip to do so, then reads afresh
        // (and has nothing to write when its changes are already in the newest copy everywhere).
        // Twice as long after each split in a row, jittered: on a loaded machine two round trips
        // were sometimes too short for the winner's read and write, the two split again, and a
        // save used up mergeMaxAttempts (3 of 4,800 saves in one CI run of the race test).
        splits++;
        await sleep(Math.min(SPLIT_YIELD_MAX_MS, (performance.now() - started) * 2 ** splits * (0.5 + Math.random())));
      }
    }
    throw new SessionStoreError(SessionStoreErrorCodes.CONFLICT, `session "${sid}" kept changing during ${this.#d.options.mergeMaxAttempts} merge attempts; this write was not applied everywhere (raise mergeMaxAttempts if writes of one session are this frequent)`, { details: { id: sid } });
  }
}

function decodeVersion(value: Buffer): Version {
  return { ms: value.readUIntBE(4, 6), counter: value.readUInt16BE(10), writer: value.readUInt32BE(12) };
}
