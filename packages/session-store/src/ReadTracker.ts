import type { Version } from './Versioned.js';

/**
 * What one `get` returned, so that the `set` of the same request can tell what it changed (issue 12).
 *
 * The marker is a top-level key of the session returned by `get` whose *name* carries a token and
 * whose value is `undefined`: express-session and @fastify/session copy every enumerable key of the
 * object `get` returns into their Session (so the key reaches `set` unchanged), while JSON drops
 * `undefined`, so the marker is never stored nor hashed for their "modified" checks. The entry it
 * names holds the version and content the request read; it is per process, bounded in number and
 * age, and looked up only by the request's own token, so two requests of one user never share it.
 */
export const READ_MARKER_PREFIX = '\u0000webtier:read:';

/** One read, as the request that made it saw it. */
export interface TrackedRead {
  readonly token: string;
  readonly id: string;
  readonly version: Version;
  /** The session as read (JSON text): the base the request's changes are taken against, parsed only when a merge is needed. */
  readonly base: string;
  /** The CAS of each replica read (null: the replica had no copy), for a write without a second read. */
  readonly cas: ReadonlyMap<string, Buffer | null>;
  readonly at: number;
}

/** A bounded map of token -> read; the oldest entries go first. */
export class ReadTracker {
  readonly #max: number;
  readonly #maxAgeMs: number;
  // Keyed by the token's number: tokens are issued in order, so the oldest live entry is found by
  // counting up from #oldest. (Evicting with `keys().next()` cost 16 % of a get: V8's Map iterator
  // walks over every deleted slot from the front until the next rehash.)
  readonly #reads = new Map<number, TrackedRead>();
  #next = 0;
  #oldest = 0;

  /** `max` entries kept at most (each ~ the size of one session), dropped after `maxAgeMs`. */
  constructor(max: number, maxAgeMs: number) {
    this.#max = max;
    this.#maxAgeMs = maxAgeMs;
  }

  get size(): number {
    return this.#reads.size;
  }

  /** Records a read and returns the marker key to put on the session handed to the app. */
  track(read: Omit<TrackedRead, 'at' | 'token'>): string {
    const n = this.#next++;
    const token = n.toString(36);
    this.#reads.set(n, { id: read.id, version: read.version, base: read.base, cas: read.cas, token, at: Date.now() });
    while (this.#reads.size > this.#max) this.#reads.delete(this.#oldest++);
    return READ_MARKER_PREFIX + token;
  }

  /** After a write of the same request: later saves of it are based on what it wrote. */
  update(token: string, read: Omit<TrackedRead, 'at' | 'token' | 'id'>): void {
    const n = tokenNumber(token);
    const old = n === undefined ? undefined : this.#reads.get(n);
    if (old) this.#reads.set(n!, { ...old, ...read });
  }

  /** Drops the read of a request that ended without a change (its `touch`): it will not `set`. */
  forget(id: string, session: Record<string, unknown>): void {
    const read = this.find(id, session);
    if (read) this.#reads.delete(tokenNumber(read.token)!);
  }

  /** The read a session came from (by its marker), or undefined (new session, evicted, expired). */
  find(id: string, session: Record<string, unknown>): TrackedRead | undefined {
    for (const key of Object.keys(session)) {
      if (!key.startsWith(READ_MARKER_PREFIX)) continue;
      const n = tokenNumber(key.slice(READ_MARKER_PREFIX.length));
      const read = n === undefined ? undefined : this.#reads.get(n);
      if (!read || read.id !== id) return undefined;
      if (Date.now() - read.at > this.#maxAgeMs) {
        this.#reads.delete(n!);
        return undefined;
      }
      return read;
    }
    return undefined;
  }
}

// The number a token stands for, only for the exact text track() issued (a marker key is app data).
function tokenNumber(token: string): number | undefined {
  const n = parseInt(token, 36);
  return Number.isSafeInteger(n) && n >= 0 && n.toString(36) === token ? n : undefined;
}
