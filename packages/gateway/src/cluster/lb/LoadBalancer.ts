import type { Endpoint } from '../Endpoint.js';

/** What a policy sees for one pick. */
export interface PickContext {
  /** Endpoints allowed for this pick (healthy, right priority group, not yet tried), never empty. */
  readonly candidates: readonly Endpoint[];
  /** The hash key of the request for ring_hash (DeviceId, cookie, header), if present. */
  readonly hashKey: string | undefined;
}

/** A load-balancing policy (Envoy's lbPolicy). Like undici's Pool subclasses: one selection method. */
export interface LoadBalancer {
  pick(ctx: PickContext): Endpoint;
}

/** Weighted random choice among candidates (shared by random, least_request and ring_hash's fallback). */
export function weightedRandom(candidates: readonly Endpoint[]): Endpoint {
  if (candidates.length === 1) return candidates[0]!;
  let total = 0;
  for (const e of candidates) total += e.weight;
  let r = Math.random() * total;
  for (const e of candidates) {
    r -= e.weight;
    if (r < 0) return e;
  }
  return candidates[candidates.length - 1]!;
}
