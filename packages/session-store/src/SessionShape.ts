/**
 * What a session may look like, checked on every value read from memcached and on every `set`, so
 * that a crafted value can neither crash the app nor reach it, and the store never writes what it
 * would refuse to read. Found by probing: 5,000 nesting levels crash express-session's hash (stack
 * overflow), an own `__proto__` key crashes @fastify/session, a missing `cookie` gives 500 on every
 * request.
 */

/** Deepest nesting of objects and arrays accepted in a session. */
export const MAX_SESSION_DEPTH = 64;
/** Keys refused at any depth: they reach prototypes when a framework copies the session. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** The first problem of `session` as `"<path>: <what>"`, or undefined when it is acceptable. */
export function sessionProblem(session: unknown): string | undefined {
  if (session === null || typeof session !== 'object' || Array.isArray(session)) return 'session: is not an object';
  const cookieProblem = checkCookie((session as Record<string, unknown>)['cookie']);
  if (cookieProblem) return cookieProblem;
  // Checked on every read and write: the walk builds no path strings unless it finds a problem.
  return acceptable(session, 1) ? undefined : walk(session, 'session', 1);
}

function acceptable(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (depth > MAX_SESSION_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!acceptable(value[i], depth + 1)) return false;
    return true;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return acceptable(toJSON.call(value), depth + 1);
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (FORBIDDEN_KEYS.has(key) || !acceptable((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

// The same walk as acceptable(), naming the path of the first problem.
function walk(value: unknown, path: string, depth: number): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (depth > MAX_SESSION_DEPTH) return `${path}: nested deeper than ${MAX_SESSION_DEPTH} levels`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = walk(value[i], `${path}[${i}]`, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  // toJSON (Date, express-session's Cookie) decides what is stored: check that instead.
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return walk(toJSON.call(value), path, depth + 1);
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return `${path}.${key}: the key "${key}" is refused (it reaches object prototypes)`;
    const p = walk((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
    if (p) return p;
  }
  return undefined;
}

function checkCookie(raw: unknown): string | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'session.cookie: missing or not an object (express-session and @fastify/session need it)';
  const cookie = typeof (raw as { toJSON?: unknown }).toJSON === 'function' ? (raw as { toJSON(): unknown }).toJSON() : raw;
  if (cookie === null || typeof cookie !== 'object') return 'session.cookie: toJSON() did not return an object';
  const c = cookie as Record<string, unknown>;
  const expires = c['expires'];
  if (expires !== undefined && expires !== null && !(expires instanceof Date) && typeof expires !== 'string') return 'session.cookie.expires: is not a date, a date string or null';
  if (expires !== undefined && expires !== null && !Number.isFinite(typeof expires === 'string' ? Date.parse(expires) : (expires as Date).getTime())) return `session.cookie.expires: ${JSON.stringify(expires)} is not a valid date`;
  for (const n of ['maxAge', 'originalMaxAge'] as const) {
    const v = c[n];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isFinite(v))) return `session.cookie.${n}: ${JSON.stringify(v)} is not a finite number or null`;
  }
  for (const n of ['path', 'domain', 'sameSite'] as const) {
    const v = c[n];
    if (v !== undefined && v !== null && typeof v !== 'string' && typeof v !== 'boolean') return `session.cookie.${n}: is not a string`;
  }
  return undefined;
}
