/** memcached reads an expiration above 30 days as an absolute Unix time (REALTIME_MAXDELTA). */
export const MEMCACHED_MAX_RELATIVE_TTL_SECONDS = 60 * 60 * 24 * 30;

interface CookieLike {
  expires?: unknown;
  maxAge?: unknown;
  originalMaxAge?: unknown;
}

/**
 * The session's TTL in seconds: from `cookie.expires`, else `cookie.maxAge` (ms), else `fallbackSeconds`;
 * never below 1 s (an expired cookie still gets 1 s, memcached's 0 would mean "never expire").
 */
export function sessionTtlSeconds(session: unknown, fallbackSeconds: number, nowMs: number = Date.now()): number {
  const cookie = (session as { cookie?: CookieLike } | null | undefined)?.cookie;
  let seconds = fallbackSeconds;
  if (cookie && typeof cookie === 'object') {
    const expires = cookie.expires;
    const expiresMs = expires instanceof Date ? expires.getTime() : typeof expires === 'string' || typeof expires === 'number' ? new Date(expires).getTime() : NaN;
    if (Number.isFinite(expiresMs)) seconds = Math.ceil((expiresMs - nowMs) / 1000);
    else if (typeof cookie.maxAge === 'number' && Number.isFinite(cookie.maxAge)) seconds = Math.ceil(cookie.maxAge / 1000);
    else if (typeof cookie.originalMaxAge === 'number' && Number.isFinite(cookie.originalMaxAge)) seconds = Math.ceil(cookie.originalMaxAge / 1000);
  }
  return Math.max(1, seconds);
}

/** The expiration field memcached expects for a TTL: relative up to 30 days, else absolute Unix time. */
export function memcachedExpiration(ttlSeconds: number, nowMs: number = Date.now()): number {
  const ttl = Math.max(1, Math.ceil(ttlSeconds));
  return ttl > MEMCACHED_MAX_RELATIVE_TTL_SECONDS ? Math.floor(nowMs / 1000) + ttl : ttl;
}

/** Unix seconds at which a TTL given now ends. */
export function expiresAtUnix(ttlSeconds: number, nowMs: number = Date.now()): number {
  return Math.floor(nowMs / 1000) + Math.max(1, Math.ceil(ttlSeconds));
}
