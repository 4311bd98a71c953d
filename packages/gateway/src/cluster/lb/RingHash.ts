import { createHash } from 'node:crypto';
import type { Endpoint } from '../Endpoint.js';
import { weightedRandom, type LoadBalancer, type PickContext } from './LoadBalancer.js';

/** Points per unit of weight on the ring. */
const POINTS_PER_WEIGHT = 160;

function hash32(s: string): number {
  return createHash('md5').update(s).digest().readUInt32BE(0);
}

/**
 * Consistent hashing: the ring holds every endpoint of the cluster (healthy or not), so a key
 * keeps its endpoint while that endpoint is up; when it is not a candidate, the next point on the
 * ring that is one takes the key. Requests without a key go to a weighted random candidate.
 */
export class RingHash implements LoadBalancer {
  private readonly points: Uint32Array;
  private readonly owners: Endpoint[];

  constructor(endpoints: readonly Endpoint[]) {
    const entries: Array<[number, Endpoint]> = [];
    for (const e of endpoints) {
      for (let i = 0; i < e.weight * POINTS_PER_WEIGHT; i++) entries.push([hash32(`${e.url}#${i}`), e]);
    }
    entries.sort((a, b) => a[0] - b[0]);
    this.points = Uint32Array.from(entries.map((x) => x[0]));
    this.owners = entries.map((x) => x[1]);
  }

  pick({ candidates, hashKey }: PickContext): Endpoint {
    if (hashKey === undefined || this.points.length === 0) return weightedRandom(candidates);
    const allowed = new Set(candidates);
    const h = hash32(hashKey);
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < this.owners.length; i++) {
      const owner = this.owners[(lo + i) % this.owners.length]!;
      if (allowed.has(owner)) return owner;
    }
    return weightedRandom(candidates);
  }
}
