import type { Endpoint } from '../Endpoint.js';
import { weightedRandom, type LoadBalancer, type PickContext } from './LoadBalancer.js';

/** Weighted random. */
export class Random implements LoadBalancer {
  pick({ candidates }: PickContext): Endpoint {
    return weightedRandom(candidates);
  }
}
