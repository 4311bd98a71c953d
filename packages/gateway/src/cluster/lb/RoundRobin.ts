import type { Endpoint } from '../Endpoint.js';
import type { LoadBalancer, PickContext } from './LoadBalancer.js';

/**
 * nginx's smooth weighted round robin: every pick adds each candidate's weight to its current
 * weight, takes the largest and subtracts the total from it. Weights 5,1,1 give a a b a c a a,
 * not a a a a a b c.
 */
export class RoundRobin implements LoadBalancer {
  private readonly current = new Map<Endpoint, number>();

  pick({ candidates }: PickContext): Endpoint {
    if (candidates.length === 1) return candidates[0]!;
    let total = 0;
    let best: Endpoint | undefined;
    let bestWeight = -Infinity;
    for (const e of candidates) {
      const w = (this.current.get(e) ?? 0) + e.weight;
      this.current.set(e, w);
      total += e.weight;
      if (w > bestWeight) {
        bestWeight = w;
        best = e;
      }
    }
    this.current.set(best!, bestWeight - total);
    return best!;
  }
}
