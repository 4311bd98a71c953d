import type { ResolvedRoute } from '../config/resolve.js';

/**
 * First-match prefix routing, like the order of the config's `routes`. A prefix matches on a
 * segment boundary unless it ends with `/` or its route says `boundary: false`: `/eas` matches
 * `/eas` and `/eas/…`, never `/easEvil` (which nginx's `location /eas` would also refuse to share).
 */
export class RouteTable {
  constructor(readonly routes: readonly ResolvedRoute[]) {}

  /** The route for a request URL (path plus optional query), or undefined. */
  match(url: string): ResolvedRoute | undefined {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    let lower: string | undefined;
    for (const route of this.routes) {
      const p = route.caseInsensitive ? (lower ??= path.toLowerCase()) : path;
      for (const prefix of route.matchPrefixes) {
        if (!p.startsWith(prefix)) continue;
        if (!route.boundary || p.length === prefix.length || prefix.endsWith('/') || p.charCodeAt(prefix.length) === 47 /* / */) return route;
      }
    }
    return undefined;
  }
}
