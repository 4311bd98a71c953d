// The systems the failover benchmark compares. Each runs on its own fresh topology (4 memcached
// nodes as 2 Kolab pairs, 2 webmail nodes, one proxy); they differ in the session store of the
// webmail nodes and in the proxy in front of them, nothing else.

export type StoreKind = 'webtier' | 'connect-memjs' | 'connect-memjs-failover';
export type ProxyKind = 'gateway' | 'vanilla';

export interface SystemSpec {
  /** Stable id, used on the command line (--systems) and in the results JSON. */
  id: string;
  /** Name in tables. */
  label: string;
  /** Short name for chart legends. */
  short: string;
  store: StoreKind;
  proxy: ProxyKind;
  /** One line for the results: what this system is. */
  description: string;
  /**
   * webtier store only: `pairs` (Kolab layout: both members of a pair hold the session) or `ring`
   * with this many replicas (replicas 1 = no redundancy, used to prove the smoke test can fail).
   * @default 'pairs'
   */
  placement?: 'pairs' | { replicas: number };
}

export const SYSTEMS: readonly SystemSpec[] = [
  {
    id: 'webtier',
    label: 'webtier',
    short: 'webtier',
    store: 'webtier',
    proxy: 'gateway',
    description: "webtier's gateway in front, ReplicatedMemcachedStore (pairs mode) in the webmail nodes",
  },
  {
    id: 'connect-memjs',
    label: 'connect-memjs store',
    short: 'connect-memjs',
    store: 'connect-memjs',
    proxy: 'gateway',
    description: "webtier's gateway in front, connect-memjs over the 4 memcached nodes (memjs defaults: one copy, no failover)",
  },
  {
    id: 'vanilla-proxy',
    label: 'vanilla @fastify/http-proxy',
    short: 'vanilla proxy',
    store: 'webtier',
    proxy: 'vanilla',
    description: "@fastify/http-proxy with undici's BalancedPool over the webmail nodes (no retries, no health checks), webtier's store",
  },
  {
    id: 'connect-memjs-failover',
    label: 'connect-memjs (failover: true)',
    short: 'memjs failover',
    store: 'connect-memjs-failover',
    proxy: 'gateway',
    description: "webtier's gateway in front, connect-memjs with memjs's `failover: true` (a dead server's keys move to the next server)",
  },
];

/** What `--systems` selects when not given. */
export const DEFAULT_SYSTEMS = ['webtier', 'connect-memjs', 'connect-memjs-failover', 'vanilla-proxy'] as const;

export function systemById(id: string): SystemSpec {
  const s = SYSTEMS.find((x) => x.id === id);
  if (!s) throw new Error(`unknown system "${id}"; known: ${SYSTEMS.map((x) => x.id).join(', ')}`);
  return s;
}
