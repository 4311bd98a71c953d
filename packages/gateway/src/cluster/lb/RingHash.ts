import { HashRing } from '@webtier/hash-ring';
import type { Endpoint } from '../Endpoint.js';
import { weightedRandom, type LoadBalancer, type PickContext } from './LoadBalancer.js';

/**
 * Consistent hashing on @webtier/hash-ring (libmemcached's weighted ketama, md5 hand-written and
 * faster than a createHash per lookup): the ring holds every endpoint of the cluster (healthy or
 * not), so a key keeps its endpoint while that endpoint is up; when it is not a candidate, the
 * ring's walk (`skip`) gives the next endpoint that is. Requests without a key go to a weighted
 * random candidate.
 */
export class RingHash implements LoadBalancer {
  private readonly ring: HashRing | undefined;
  private readonly byId = new Map<string, Endpoint>();
  private allowed: ReadonlySet<Endpoint> = new Set();
  private readonly skip = (id: string) => !this.allowed.has(this.byId.get(id)!);

  constructor(endpoints: readonly Endpoint[]) {
    if (endpoints.length === 0) return;
    const nodes = endpoints.map((e) => {
      const u = new URL(e.url);
      return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80), weight: e.weight };
    });
    this.ring = new HashRing(nodes);
    this.ring.nodes.forEach((n, i) => this.byId.set(n.id, endpoints[i]!));
  }

  pick({ candidates, hashKey }: PickContext): Endpoint {
    if (hashKey === undefined || this.ring === undefined) return weightedRandom(candidates);
    if (candidates.length === this.byId.size) return this.byId.get(this.ring.get(hashKey))!;
    this.allowed = new Set(candidates);
    const id = this.ring.nodesFor(hashKey, 1, { skip: this.skip })[0];
    return id === undefined ? weightedRandom(candidates) : this.byId.get(id)!;
  }
}
