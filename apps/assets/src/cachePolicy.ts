/** A week: versioned assets never change under the same URL. */
export const VERSIONED_MAX_AGE_SECONDS = 604_800;

// Roundcube appends `?s=<mtime>`; bundlers put a content hash in the file name (app.3f9a1c2e.js).
const VERSION_PARAMS = ['v', 's', 'ver'];
const HASHED_NAME = /[.-][0-9a-f]{8,}\.[a-z0-9]+$/i;

/** True when the URL names one immutable version of a file. */
export function isVersioned(url: string): boolean {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (HASHED_NAME.test(path)) return true;
  if (q < 0) return false;
  const params = new URLSearchParams(url.slice(q + 1));
  return VERSION_PARAMS.some((p) => (params.get(p) ?? '') !== '');
}

/**
 * The Cache-Control header for a URL: long-lived for versioned assets, and "revalidate every time"
 * (cheap thanks to ETag/Last-Modified and 304s) for the rest.
 */
export function cacheControlFor(url: string, maxAgeSeconds = VERSIONED_MAX_AGE_SECONDS): string {
  return isVersioned(url) ? `public, max-age=${maxAgeSeconds}` : 'public, no-cache';
}
