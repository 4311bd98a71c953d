import { READ_MARKER } from './ReadTracker.js';

/**
 * The merge of concurrent writes (issue 12), as Roundcube's session handler does it
 * (`rcube_session::_fixvars`): what a request changed relative to what it read, applied to the newest
 * stored session. Top-level keys are the unit; keys listed in `mergeNestedKeys` go one level deeper.
 */

/** Top-level keys of a session's JSON text as JSON, cookie left out. */
export function topLevelJsonOf(text: string): Map<string, string> {
  return topLevelJson(JSON.parse(text) as Record<string, unknown>);
}

/** Top-level keys of a session as JSON, cookie and markers left out. */
export function topLevelJson(session: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of Object.keys(session)) {
    if (key === 'cookie' || key === READ_MARKER) continue;
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

/**
 * Whether `stored` (a parsed session) already holds every change: each key set has this value and
 * each key removed is absent. Then a write of those changes would change nothing.
 */
export function containsChanges(stored: Record<string, unknown>, changes: SessionChanges): boolean {
  const at = (path: string): string | undefined => {
    const [key, sub] = path.split('\u0000') as [string, string | undefined];
    const top = stored[key];
    const v = sub === undefined ? top : top !== null && typeof top === 'object' && !Array.isArray(top) ? (top as Record<string, unknown>)[sub] : undefined;
    return v === undefined ? undefined : JSON.stringify(v);
  };
  for (const [path, json] of changes.set) if (at(path) !== json) return false;
  for (const path of changes.removed) if (at(path) !== undefined) return false;
  return true;
}

function isObjectJson(json: string): boolean {
  return json.startsWith('{');
}

function objectEntries(json: string): Map<string, string> {
  const o = JSON.parse(json) as Record<string, unknown>;
  return new Map(Object.keys(o).map((k) => [k, JSON.stringify(o[k])]));
}
