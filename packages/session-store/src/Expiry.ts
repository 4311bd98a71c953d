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

/** Largest expiration memcached's 32-bit field holds (2106-02-07): longer TTLs clamp here instead of wrapping. */
export const MEMCACHED_MAX_EXPIRATION = 0xffff_ffff;

/**
 * The expiration field memcached expects for a TTL: relative up to 30 days, else absolute Unix time,
 * clamped to the 32-bit field (a cookie of 81 years or more wrapped and expired at once).
 */
export function memcachedExpiration(ttlSeconds: number, nowMs: number = Date.now()): number {
  const ttl = Math.max(1, Math.ceil(ttlSeconds));
  return ttl > MEMCACHED_MAX_RELATIVE_TTL_SECONDS ? Math.min(MEMCACHED_MAX_EXPIRATION, Math.floor(nowMs / 1000) + ttl) : ttl;
}

/**
 * Epoch ms at which the session expires: `cookie.expires`, else now + `cookie.maxAge` (ms), else
 * now + `fallbackSeconds`. May lie in the past (an expired cookie); never NaN.
 */
export function sessionExpiresAt(session: unknown, fallbackSeconds: number, nowMs: number = Date.now()): number {
  const cookie = (session as { cookie?: CookieLike } | null | undefined)?.cookie;
  if (cookie && typeof cookie === 'object') {
    const expires = cookie.expires;
    const expiresMs = expires instanceof Date ? expires.getTime() : typeof expires === 'string' || typeof expires === 'number' ? new Date(expires).getTime() : NaN;
    if (Number.isFinite(expiresMs)) return expiresMs;
    if (typeof cookie.maxAge === 'number' && Number.isFinite(cookie.maxAge)) return nowMs + cookie.maxAge;
    if (typeof cookie.originalMaxAge === 'number' && Number.isFinite(cookie.originalMaxAge)) return nowMs + cookie.originalMaxAge;
  }
  return nowMs + fallbackSeconds * 1000;
}
