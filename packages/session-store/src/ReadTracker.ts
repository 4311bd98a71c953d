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

/** Top-level keys of a session's JSON text as JSON, cookie left out. */
export function topLevelJsonOf(text: string): Map<string, string> {
  return topLevelJson(JSON.parse(text) as Record<string, unknown>);
}

/** Top-level keys of a session as JSON, cookie and markers left out. */
export function topLevelJson(session: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of Object.keys(session)) {
    if (key === 'cookie' || key.startsWith(READ_MARKER_PREFIX)) continue;
    const json = JSON.stringify(session[key]);
    if (json !== undefined) out.set(key, json);
  }
  return out;
}

/** What a request changed, relative to what it read. */
export interface SessionChanges {
  /** Keys added or changed, with their new JSON. */
  readonly set: ReadonlyMap<string, string>;
  /** Keys the request removed. */
  readonly removed: readonly string[];
}

/**
 * The changes of `mine` against `base`; keys in `nested` whose values are objects on both sides are
 * compared one level deeper (their sub-keys are reported as `key\u0000sub`).
 */
export function diffSession(base: ReadonlyMap<string, string>, mine: ReadonlyMap<string, string>, nested: ReadonlySet<string>): SessionChanges {
  const set = new Map<string, string>();
  const removed: string[] = [];
  for (const [key, json] of mine) {
    const before = base.get(key);
    if (before === json) continue;
    if (before !== undefined && nested.has(key) && isObjectJson(before) && isObjectJson(json)) {
      const sub = diffSession(objectEntries(before), objectEntries(json), new Set());
      for (const [k, v] of sub.set) set.set(`${key}\u0000${k}`, v);
      for (const k of sub.removed) removed.push(`${key}\u0000${k}`);
      continue;
    }
    set.set(key, json);
  }
  for (const key of base.keys()) if (!mine.has(key)) removed.push(key);
  return { set, removed };
}

/**
 * Applies `changes` to the newest stored session (parsed), returning the merged session and the keys
 * the other side changed too (this write wins them).
 */
export function applyChanges(stored: Record<string, unknown>, base: ReadonlyMap<string, string>, changes: SessionChanges): { merged: Record<string, unknown>; conflicts: string[] } {
  const merged: Record<string, unknown> = { ...stored };
  const conflicts: string[] = [];
  const storedJson = (path: string): string | undefined => {
    const [key, sub] = path.split('\u0000') as [string, string | undefined];
    const v = sub === undefined ? merged[key] : (merged[key] as Record<string, unknown> | undefined)?.[sub];
    return v === undefined ? undefined : JSON.stringify(v);
  };
  const baseJson = (path: string): string | undefined => {
    const [key, sub] = path.split('\u0000') as [string, string | undefined];
    const b = base.get(key);
    if (sub === undefined || b === undefined) return sub === undefined ? b : undefined;
    const v = (JSON.parse(b) as Record<string, unknown>)[sub];
    return v === undefined ? undefined : JSON.stringify(v);
  };
  const put = (path: string, json: string | undefined) => {
    const [key, sub] = path.split('\u0000') as [string, string | undefined];
    if (sub === undefined) {
      if (json === undefined) delete merged[key];
      else merged[key] = JSON.parse(json);
      return;
    }
    const current = merged[key];
    const obj = current !== null && typeof current === 'object' && !Array.isArray(current) ? { ...(current as Record<string, unknown>) } : {};
    if (json === undefined) delete obj[sub];
    else obj[sub] = JSON.parse(json);
    merged[key] = obj;
  };
  for (const [path, json] of changes.set) {
    const theirs = storedJson(path);
    if (theirs !== baseJson(path) && theirs !== json) conflicts.push(path.replace('\u0000', '.'));
    put(path, json);
  }
  for (const path of changes.removed) {
    const theirs = storedJson(path);
    if (theirs !== baseJson(path) && theirs !== undefined) conflicts.push(path.replace('\u0000', '.'));
    put(path, undefined);
  }
  return { merged, conflicts };
}

function isObjectJson(json: string): boolean {
  return json.startsWith('{');
}

function objectEntries(json: string): Map<string, string> {
  const o = JSON.parse(json) as Record<string, unknown>;
  return new Map(Object.keys(o).map((k) => [k, JSON.stringify(o[k])]));
}
