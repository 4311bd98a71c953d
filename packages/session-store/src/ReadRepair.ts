import { compareVersions, type ValueHeader } from './Versioned.js';

/**
 * Why a copy was rewritten by read-repair, re-sync or touch: `missing`, `stale` (older version),
 * `corrupt` (rejected, see CorruptEvent), `expiry` (same version, an older touch), `rekey` (sealed with
 * a key that is no longer the first of `encryption.keys`).
 */
export type RepairReason = 'missing' | 'stale' | 'corrupt' | 'expiry' | 'rekey';

/** What one replica answered, as the read-repair decision sees it (no sockets: a table can describe it). */
export interface CopyState {
  readonly node: string;
  /** The replica could not be read (timeout, refused): it is neither a source nor repaired. */
  readonly error?: unknown;
  /** Truthy when the replica holds a value for the key (authentic or not); null when it has none. */
  readonly hit: unknown;
  /** The value's header once it passed the header checks; undefined for a missing or rejected copy. */
  readonly header?: ValueHeader;
  /** Set when the copy was rejected (header or body): never a source, always overwritten. */
  readonly corrupt?: unknown;
}

/** Orders two headers: version, then the later expiry (a touch rewrites the expiry, not the version). */
export function newer(a: ValueHeader, b: ValueHeader): number {
  return compareVersions(a.version, b.version) || a.expiresAt - b.expiresAt;
}

/**
 * The copies whose header passed, newest first: the candidates for "the newest copy", tried in this
 * order until one opens (decrypts, parses, has an acceptable shape). Stable: of two equal copies the
 * one read first (the primary) comes first.
 */
export function newestFirst<T extends CopyState>(reads: readonly T[]): T[] {
  const out: T[] = [];
  for (const r of reads) if (r.header) out.push(r);
  if (out.length === 2) {
    if (newer(out[1]!.header!, out[0]!.header!) > 0) out.reverse();
    return out;
  }
  return out.sort((a, b) => newer(b.header!, a.header!));
}

/**
 * Why the copy `r` must be rewritten from `newest`, or undefined when it is as good. `primaryKeyId`:
 * the key new values are sealed with (undefined without encryption); when `newest` is sealed with
 * another key, it is re-sealed, and so is every copy not sealed with the primary key ('rekey').
 */
export function repairReason(r: CopyState, newest: CopyState, primaryKeyId: string | undefined): RepairReason | undefined {
  const rekey = primaryKeyId !== undefined && newest.header!.keyId !== primaryKeyId;
  if (r === newest) return rekey ? 'rekey' : undefined;
  if (r.corrupt) return 'corrupt';
  if (!r.hit) return 'missing';
  if (compareVersions(r.header!.version, newest.header!.version) < 0) return 'stale';
  if (newer(r.header!, newest.header!) < 0) return 'expiry';
  // Also when the newest is already sealed with the primary key: a twin left under the old key (its
  // re-seal lost a CAS race or timed out) would otherwise keep that key in use until the next write.
  if (primaryKeyId !== undefined && r.header!.keyId !== primaryKeyId) return 'rekey';
  return undefined;
}

/**
 * The replicas read-repair rewrites with `newest`, and why. Replicas that failed are left alone, and
 * with `only` (re-sync of one node) every other node too.
 */
export function repairPlan<T extends CopyState>(reads: readonly T[], newest: T, primaryKeyId: string | undefined, only?: string): Array<{ copy: T; reason: RepairReason }> {
  const plan: Array<{ copy: T; reason: RepairReason }> = [];
  for (const r of reads) {
    if (r.error || (only !== undefined && r.node !== only)) continue;
    const reason = repairReason(r, newest, primaryKeyId);
    if (reason) plan.push({ copy: r, reason });
  }
  return plan;
}
