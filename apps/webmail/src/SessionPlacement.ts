import type { Store } from 'express-session';
import { HashRing } from '@webtier/hash-ring';

/** One memcached node as the page shows it. */
export interface NodeView {
  /** "host:port" */
  address: string;
  /** Label from the topology (memcached-2), else the address. */
  name: string;
  /** up | ejected | probing | down | unknown, as the store reports it. */
  state: string;
}

/**
 * Where a session lives and how the store's nodes are doing, read from the store itself so that the
 * page shows what the store really does. Filled in by `describeStore` from whatever the store exposes.
 */
export interface StoreView {
  /** The nodes that hold (or will hold) this session: its preference list, down nodes passed over. */
  sessionNodes: NodeView[];
  /** Every node of the store with its state. */
  nodes: NodeView[];
}

export type NodeLabels = Readonly<Record<string, string>>;

interface HealthLike {
  node?: string;
  address?: string;
  id?: string;
  state?: string;
  status?: string;
}

/** The store's health, as a map address → state, whatever shape `health()` returns. */
export function storeHealth(store: Store): Map<string, string> {
  const out = new Map<string, string>();
  const health = (store as { health?: () => unknown }).health;
  if (typeof health !== 'function') return out;
  const report = health.call(store) as unknown;
  const nodes = (report as { nodes?: unknown })?.nodes ?? report;
  if (Array.isArray(nodes)) {
    for (const n of nodes as HealthLike[]) {
      const address = n.address ?? n.node ?? n.id;
      if (address) out.set(address, n.state ?? n.status ?? 'unknown');
    }
  } else if (nodes && typeof nodes === 'object') {
    for (const [address, n] of Object.entries(nodes as Record<string, HealthLike | string>)) {
      out.set(address, typeof n === 'string' ? n : (n.state ?? n.status ?? 'unknown'));
    }
  }
  return out;
}

/** The placement options a ReplicatedMemcachedStore exposes as `store.options`. */
interface PlacementOptions {
  mode: 'ring' | 'pairs';
  nodes: readonly string[];
  pairs: ReadonlyArray<readonly [string, string]>;
  replicas: number;
  prefix: string;
}

const rings = new WeakMap<object, HashRing>();

function ringOf(o: PlacementOptions): HashRing {
  let ring = rings.get(o);
  if (!ring) {
    ring = new HashRing(o.mode === 'pairs' ? o.pairs.map((p) => p[0]) : [...o.nodes]);
    rings.set(o, ring);
  }
  return ring;
}

/**
 * The session's nodes, computed the way ReplicatedMemcachedStore places keys (its Placement.ts):
 * the key is `prefix + sid`; in ring mode its copies go to the first `replicas` live nodes of the
 * ketama preference list, in pairs mode to both members of the pair whose first member owns the key.
 * Returned: the owners (where the copies belong), then any live fallback a down owner's copy went to.
 * The store exposes no placement method, so this follows its documented rules with @webtier/hash-ring.
 */
export function sessionNodes(store: Store, sid: string, isUp: (node: string) => boolean = () => true): string[] {
  const o = (store as { options?: Partial<PlacementOptions> }).options;
  if (!o || (o.mode !== 'ring' && o.mode !== 'pairs') || !o.nodes || !o.pairs || !o.replicas || o.prefix === undefined) return [];
  const options = o as PlacementOptions;
  const key = options.prefix + sid;
  const ring = ringOf(options);
  if (options.mode === 'pairs') {
    const first = ring.get(key);
    const pair = options.pairs.find((p) => p[0] === first);
    return pair ? [pair[0], pair[1]] : [];
  }
  const owners = ring.nodesFor(key, options.replicas);
  const targets = ring.nodesFor(key, options.replicas, { skip: (n) => !isUp(n) });
  return [...owners, ...targets.filter((t) => !owners.includes(t))];
}

export function describeStore(store: Store, sid: string | undefined, labels: NodeLabels): StoreView {
  const health = storeHealth(store);
  const view = (address: string): NodeView => ({ address, name: labels[address] ?? address, state: health.get(address) ?? 'unknown' });
  return {
    sessionNodes: sid ? sessionNodes(store, sid, (n) => (health.get(n) ?? 'up') === 'up').map(view) : [],
    nodes: [...health.keys()].map(view),
  };
}
