import type { Store } from 'express-session';

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

/** The store's health, as a map address → state (empty for a store without `health()`). */
export function storeHealth(store: Store): Map<string, string> {
  const health = (store as { health?: () => Array<{ node: string; state: string }> }).health;
  if (typeof health !== 'function') return new Map();
  return new Map(health.call(store).map((n) => [n.node, n.state]));
}

/**
 * The session's nodes as ReplicatedMemcachedStore places them (`store.placement(sid)`): the owners,
 * then any live node standing in for a down owner. Empty for a store that does not replicate
 * (the failover benchmark runs this app on connect-memjs too).
 */
export function sessionNodes(store: Store, sid: string): string[] {
  const placement = (store as { placement?: (sid: string) => { owners: string[]; targets: string[] } }).placement;
  if (typeof placement !== 'function') return [];
  const { owners, targets } = placement.call(store, sid);
  return [...owners, ...targets.filter((t) => !owners.includes(t))];
}

export function describeStore(store: Store, sid: string | undefined, labels: NodeLabels): StoreView {
  const health = storeHealth(store);
  const view = (address: string): NodeView => ({ address, name: labels[address] ?? address, state: health.get(address) ?? 'unknown' });
  return {
    sessionNodes: sid ? sessionNodes(store, sid).map(view) : [],
    nodes: [...health.keys()].map(view),
  };
}
