import type { Endpoint } from '../Endpoint.js';
import { weightedRandom, type LoadBalancer, type PickContext } from './LoadBalancer.js';

/**
 * Power of two choices: draw two candidates (weighted), send to the one with fewer requests in
 * flight per unit of weight. On a tie the first draw wins, so idle clusters split by weight.
 */
export class LeastRequest implements LoadBalancer {
  constructor(private readonly choiceCount = 2) {}

  pick({ candidates }: PickContext): Endpoint {
    if (candidates.length === 1) return candidates[0]!;
    let best = weightedRandom(candidates);
    for (let i = 1; i < this.choiceCount; i++) {
      const other = weightedRandom(candidates);
      if (other.inFlight / other.weight < best.inFlight / best.weight) best = other;
    }
    return best;
  }
}
