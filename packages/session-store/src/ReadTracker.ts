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

/** A bounded map of token -> read; the oldest entries go first (insertion order). */
export class ReadTracker {
  readonly #max: number;
  readonly #maxAgeMs: number;
  readonly #reads = new Map<string, TrackedRead>();
  #next = 0;

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
    const token = (this.#next++).toString(36);
    this.#reads.set(token, { ...read, token, at: Date.now() });
    if (this.#reads.size > this.#max) this.#reads.delete(this.#reads.keys().next().value as string);
    return READ_MARKER_PREFIX + token;
  }

  /** After a write of the same request: later saves of it are based on what it wrote. */
  update(token: string, read: Omit<TrackedRead, 'at' | 'token' | 'id'>): void {
    const old = this.#reads.get(token);
    if (old) this.#reads.set(token, { ...old, ...read });
  }

  /** Drops the read of a request that ended without a change (its `touch`): it will not `set`. */
  forget(id: string, session: Record<string, unknown>): void {
    const read = this.find(id, session);
    if (read) this.#reads.delete(read.token);
  }

  /** The read a session came from (by its marker), or undefined (new session, evicted, expired). */
  find(id: string, session: Record<string, unknown>): TrackedRead | undefined {
    for (const key of Object.keys(session)) {
      if (!key.startsWith(READ_MARKER_PREFIX)) continue;
      const token = key.slice(READ_MARKER_PREFIX.length);
      const read = this.#reads.get(token);
      if (!read || read.id !== id) return undefined;
      if (Date.now() - read.at > this.#maxAgeMs) {
        this.#reads.delete(token);
        return undefined;
      }
      return read;
    }
    return undefined;
  }
}
