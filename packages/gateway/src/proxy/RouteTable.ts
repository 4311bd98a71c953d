import type { ResolvedRoute } from '../config/resolve.js';

/** First-match prefix routing, like the order of the config's `routes`. */
export class RouteTable {
  constructor(readonly routes: readonly ResolvedRoute[]) {}

  /** The route for a request URL (path plus optional query), or undefined. */
  match(url: string): ResolvedRoute | undefined {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    let lower: string | undefined;
    for (const route of this.routes) {
      const p = route.caseInsensitive ? (lower ??= path.toLowerCase()) : path;
      for (const prefix of route.matchPrefixes) if (p.startsWith(prefix)) return route;
    }
    return undefined;
  }
}
