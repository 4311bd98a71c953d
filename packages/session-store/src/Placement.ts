import { HashRing } from '@webtier/hash-ring';
import type { ResolvedOptions } from './options.js';

/** Which nodes hold a key. */
export interface Placement {
  /** The key's preference list ignoring node health: where its copies belong. */
  owners(key: string): string[];
  /** Where a write goes now: the first `replicas` live nodes of the preference list. */
  targets(key: string, isUp: (node: string) => boolean): string[];
  /** Further live nodes after `exclude`, in preference order, for copies a failed target could not take. */
  fallbacks(key: string, isUp: (node: string) => boolean, exclude: readonly string[]): string[];
}

/** libmemcached-compatible ketama ring over every server; a down node is passed over clockwise. */
export class RingPlacement implements Placement {
  readonly #ring: HashRing;
  readonly #replicas: number;
  readonly #size: number;

  constructor(nodes: readonly string[], replicas: number) {
    this.#ring = new HashRing(nodes);
    this.#replicas = replicas;
    this.#size = nodes.length;
  }

  owners(key: string): string[] {
    return this.#ring.nodesFor(key, this.#replicas);
  }

  targets(key: string, isUp: (node: string) => boolean): string[] {
    return this.#ring.nodesFor(key, this.#replicas, { skip: (n) => !isUp(n) });
  }

  fallbacks(key: string, isUp: (node: string) => boolean, exclude: readonly string[]): string[] {
    return this.#ring.nodesFor(key, this.#size, { skip: (n) => !isUp(n) || exclude.includes(n) });
  }
}

/**
 * Pairs mode: the ring is built over the first member of each pair (real "host:port" strings, so the
 * placement of pairs matches a libmemcached ring over those members), and a key lives on both
 * members of the pair that owns it. A pair never spills over into another pair.
 */
export class PairPlacement implements Placement {
  readonly #ring: HashRing;
  readonly #pairByFirst = new Map<string, readonly [string, string]>();

  constructor(pairs: ReadonlyArray<readonly [string, string]>) {
    this.#ring = new HashRing(pairs.map((p) => p[0]));
    for (const p of pairs) this.#pairByFirst.set(p[0], p);
  }

  owners(key: string): string[] {
    const pair = this.#pairByFirst.get(this.#ring.get(key))!;
    return [pair[0], pair[1]];
  }

  targets(key: string, isUp: (node: string) => boolean): string[] {
    return this.owners(key).filter(isUp);
  }

  fallbacks(): string[] {
    return [];
  }
}

export function createPlacement(o: ResolvedOptions): Placement {
  return o.mode === 'pairs' ? new PairPlacement(o.pairs) : new RingPlacement(o.nodes, o.replicas);
}
