/** What the path rules made of a request target. */
export type PathVerdict = { ok: true; url: string } | { ok: false; reason: string };

// Cheap pre-check: a target without '.', '%' or '\' in its path has nothing to normalise (the usual case).
const SUSPECT = /[.%\\]/;
const ENCODED = /%2e|%2f|%5c/i;

/** RFC 3986 §5.2.4 remove_dot_segments on a path of decoded segments; undefined when `..` climbs above the root. */
function removeDotSegments(path: string): string | undefined {
  const out: string[] = [];
  const segments = path.split('/');
  // segments[0] is '' (the path starts with '/').
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) out.push('');
      continue;
    }
    if (s === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(s);
  }
  return `/${out.join('/')}`;
}

/**
 * Judges a request target as the upstream will see it. Dot-segments (`.`, `..`, also `%2e`),
 * encoded slashes (`%2f`) and backslashes (raw or `%5c`, which some servers treat as `/`) are
 * either rejected (`reject`) or normalised (`normalize`: `\` and `%5c`/`%2f` become `/`, `%2e`
 * becomes `.`, then RFC 3986 §5.2.4) so that routing sees the path the upstream will serve. A
 * `..` above the root is refused in both modes. Returns the (possibly rewritten) target.
 */
export function applyPathRules(url: string, mode: 'normalize' | 'reject'): PathVerdict {
  // Absolute-form (http://host/…) and other targets: an upstream could pick the host from them.
  if (url.charCodeAt(0) !== 47 /* / */) return url === '*' ? { ok: true, url } : { ok: false, reason: 'the request target must be a path starting with /' };
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (!SUSPECT.test(path)) return { ok: true, url };
  const plain = path.replace(/%2e/gi, '.').replace(/%2f|%5c|\\/gi, '/');
  const hasDots = /\/\.\.?(\/|$)/.test(plain);
  const changed = plain !== path || hasDots;
  if (!changed) return { ok: true, url };
  if (mode === 'reject') {
    if (ENCODED.test(path) || path.includes('\\')) return { ok: false, reason: 'encoded dot-segments, encoded slashes and backslashes are not accepted in paths' };
    return { ok: false, reason: 'dot-segments (/./ and /../) are not accepted in paths' };
  }
  const normal = removeDotSegments(plain);
  if (normal === undefined) return { ok: false, reason: 'the path climbs above the root with ..' };
  return { ok: true, url: q < 0 ? normal : normal + url.slice(q) };
}
