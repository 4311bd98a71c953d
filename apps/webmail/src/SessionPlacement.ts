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

/** The session's nodes as the store places them (its preference list, live nodes first). */
export function sessionNodes(store: Store, sid: string): string[] {
  const s = store as { nodesFor?: (sid: string) => string[]; placement?: (sid: string) => string[] | { nodes: string[] } };
  if (typeof s.nodesFor === 'function') return s.nodesFor(sid);
  if (typeof s.placement === 'function') {
    const p = s.placement(sid);
    return Array.isArray(p) ? p : p.nodes;
  }
  return [];
}

export function describeStore(store: Store, sid: string | undefined, labels: NodeLabels): StoreView {
  const health = storeHealth(store);
  const view = (address: string): NodeView => ({ address, name: labels[address] ?? address, state: health.get(address) ?? 'unknown' });
  return {
    sessionNodes: sid ? sessionNodes(store, sid).map(view) : [],
    nodes: [...health.keys()].map(view),
  };
}
