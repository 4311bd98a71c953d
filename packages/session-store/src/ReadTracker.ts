import type { Version } from './Versioned.js';

/**
 * What one `get` returned, so that the `set` of the same request can tell what it changed (issue 12).
 *
 * The read rides on the session itself, under one fixed key (`READ_MARKER`) whose value is a
 * `TrackedRead`: express-session and @fastify/session copy every enumerable key of the object `get`
 * returns into their Session, so it reaches that request's `set`; its `toJSON` returns undefined,
 * so JSON (what is stored, and the frameworks' "modified" hashes) leaves the key out. Each `get`
 * makes a new one, so two requests of one user never share it, and it lives exactly as long as the
 * request's session object: no per-process table, no bound to tune. A value read from memcached
 * can never be one (JSON makes plain objects; `set` accepts only instances of this class).
 *
 * (The first design put a token into the key's *name* and kept the reads in a bounded table: a new
 * property name per session sent V8 to slow dictionary objects, and with the table's garbage it
 * cost a third of a get's CPU.)
 */
export const READ_MARKER = '\u0000webtier:read';

/** One read, as the request that made it saw it. Mutable: a write of the request moves it forward. */
export class TrackedRead {
  readonly id: string;
  version: Version;
  /** The session as read (JSON text): the base the request's changes are taken against, parsed only when a merge is needed. */
  base: string;
  /** The CAS of each replica read (null: the replica had no copy), for a write without a second read. */
  cas: ReadonlyMap<string, Buffer | null>;
  readonly at: number;

  constructor(id: string, version: Version, base: string, cas: ReadonlyMap<string, Buffer | null>, at = Date.now()) {
    this.id = id;
    this.version = version;
    this.base = base;
    this.cas = cas;
    this.at = at;
  }

  /** Never stored, never part of a "modified" hash. */
  toJSON(): undefined {
    return undefined;
  }

  /** Puts the read on the session handed to the app. */
  attach(session: Record<string, unknown>): void {
    session[READ_MARKER] = this;
  }

  /** After a write of the same request: later saves of it are based on what it wrote. */
  moveTo(version: Version, base: string, cas: ReadonlyMap<string, Buffer | null>): void {
    this.version = version;
    this.base = base;
    this.cas = cas;
  }

  /** The read `session` came from, if it is this store's, for this id, and younger than `maxAgeMs`. */
  static of(id: string, session: Record<string, unknown>, maxAgeMs: number): TrackedRead | undefined {
    const read = session[READ_MARKER];
    if (!(read instanceof TrackedRead) || read.id !== id) return undefined;
    return Date.now() - read.at > maxAgeMs ? undefined : read;
  }
}
