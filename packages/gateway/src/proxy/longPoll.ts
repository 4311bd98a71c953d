import { queryField } from '../cluster/hashKey.js';
import type { ResolvedRoute } from '../config/resolve.js';

/** Whether a request of this route is a long poll (takes the endpoint's long-poll lane). */
export function isLongPoll(route: ResolvedRoute, url: string): boolean {
  const match = route.longPollMatch;
  if (match === 'all') return true;
  if (match === 'none') return false;
  for (const [name, values] of match) {
    const v = queryField(url, name);
    if (v === undefined || !values.has(v.toLowerCase())) return false;
  }
  return true;
}
