import { describe, expect, it } from 'vitest';
import { Cluster } from '../src/cluster/Cluster.js';
import type { Endpoint } from '../src/cluster/Endpoint.js';
import { ClusterSchema, type ClusterConfig } from '../src/config/schema.js';

// Cluster.candidates as a table of cases, in undici's balanced-pool `cases` style: endpoints are
// plain objects (Endpoint makes its Pool on first use, and these never dispatch), so selection is
// tested as the decision it is, without sockets.

type State = 'up' | 'down' | 'ejected' | 'drained' | 'down+drained';
interface Case {
  name: string;
  config: Array<{ server: string; priority?: number; backup?: boolean; state?: State }>;
  cluster?: Partial<Pick<ClusterConfig, 'healthyPanicThreshold'>>;
  /** Servers already tried by this request. */
  tried?: string[];
  expected: string[];
  panic: boolean;
}

const cases: Case[] = [
  { name: 'all healthy, one priority: every endpoint', config: [{ server: 'A' }, { server: 'B' }], expected: ['A', 'B'], panic: false },
  { name: 'priority: the highest group takes the traffic', config: [{ server: 'A', priority: 200 }, { server: 'B', priority: 100 }], expected: ['A'], panic: false },
  { name: 'priority: the next group when the top one is down', config: [{ server: 'A', priority: 200, state: 'down' }, { server: 'B', priority: 100 }, { server: 'C', priority: 100 }], expected: ['B', 'C'], panic: false },
  { name: 'priority: the next group when the top one was tried', config: [{ server: 'A', priority: 200 }, { server: 'B', priority: 100 }], tried: ['A'], expected: ['B'], panic: false },
  { name: 'backup: idle while a primary is healthy', config: [{ server: 'A' }, { server: 'B', backup: true }], expected: ['A'], panic: false },
  { name: 'backup: takes over when no primary is healthy', config: [{ server: 'A', state: 'down' }, { server: 'B', backup: true }], expected: ['B'], panic: false },
  { name: 'backup: a drained backup is no candidate', config: [{ server: 'A', state: 'down' }, { server: 'B', backup: true, state: 'drained' }], expected: [], panic: false },
  { name: 'drain: a drained endpoint gets no new request', config: [{ server: 'A', state: 'drained' }, { server: 'B' }], expected: ['B'], panic: false },
  { name: 'drain: all drained leaves nothing (503)', config: [{ server: 'A', state: 'drained' }, { server: 'B', state: 'drained' }], expected: [], panic: false },
  { name: 'ejection: an ejected endpoint is skipped', config: [{ server: 'A', state: 'ejected' }, { server: 'B' }, { server: 'C' }], expected: ['B', 'C'], panic: false },
  { name: 'panic: below 50 % healthy every non-drained primary is a candidate', config: [{ server: 'A' }, { server: 'B', state: 'down' }, { server: 'C', state: 'down' }, { server: 'D', state: 'drained' }], expected: ['A', 'B', 'C'], panic: true },
  { name: 'panic: exactly at the threshold is no panic', config: [{ server: 'A' }, { server: 'B', state: 'down' }], expected: ['A'], panic: false },
  { name: 'panic: 0 % healthy routes to the ejected endpoints that pass active checks', config: [{ server: 'A', state: 'ejected' }, { server: 'B', state: 'ejected' }, { server: 'C', state: 'down' }], expected: ['A', 'B'], panic: true },
  { name: 'panic: 0 % healthy and no active check passing leaves nothing (503)', config: [{ server: 'A', state: 'down' }, { server: 'B', state: 'down+drained' }], expected: [], panic: false },
  { name: 'panic off (threshold 0): 0 % healthy leaves nothing', config: [{ server: 'A', state: 'ejected' }, { server: 'B', state: 'down' }], cluster: { healthyPanicThreshold: 0 }, expected: [], panic: false },
  { name: 'panic off (threshold 0): one healthy of four is the only candidate', config: [{ server: 'A' }, { server: 'B', state: 'down' }, { server: 'C', state: 'down' }, { server: 'D', state: 'down' }], cluster: { healthyPanicThreshold: 0 }, expected: ['A'], panic: false },
  { name: 'retry: tried endpoints are excluded', config: [{ server: 'A' }, { server: 'B' }, { server: 'C' }], tried: ['A', 'C'], expected: ['B'], panic: false },
];

function build(c: Case): { cluster: Cluster; byName: Map<string, Endpoint> } {
  const config = ClusterSchema.parse({
    ...c.cluster,
    endpoints: c.config.map((e, i) => ({ url: `http://127.0.0.1:${20000 + i}`, priority: e.priority ?? 100, backup: e.backup ?? false })),
  });
  const cluster = new Cluster('c', config);
  const byName = new Map<string, Endpoint>();
  c.config.forEach((e, i) => {
    const ep = cluster.endpoints[i]!;
    byName.set(e.server, ep);
    const state = e.state ?? 'up';
    if (state === 'down' || state === 'down+drained') ep.activeHealthy = false;
    if (state === 'ejected') ep.ejectedUntil = Date.now() + 60_000;
    if (state === 'drained' || state === 'down+drained') ep.drained = true;
  });
  return { cluster, byName };
}

describe('Cluster.candidates: priority, backup, panic, drain, ejection', () => {
  it.each(cases)('$name', (c) => {
    const { cluster, byName } = build(c);
    const tried = new Set((c.tried ?? []).map((s) => byName.get(s)!));
    const { candidates, panic } = cluster.candidates(tried);
    const names = candidates.map((e) => [...byName].find(([, v]) => v === e)![0]).sort();
    expect({ candidates: names, panic }).toEqual({ candidates: [...c.expected].sort(), panic: c.panic });
    // pick() agrees: an endpoint from the candidates, or none (503).
    const picked = cluster.pick(undefined, tried).endpoint;
    if (c.expected.length === 0) expect(picked).toBeUndefined();
    else expect(c.expected.map((s) => byName.get(s))).toContain(picked);
  });

  it('preempt: false keeps traffic on the group it moved to while that group stays healthy', () => {
    const config = ClusterSchema.parse({ preempt: false, endpoints: [{ url: 'http://127.0.0.1:20001', priority: 200 }, { url: 'http://127.0.0.1:20002', priority: 100 }] });
    const cluster = new Cluster('c', config);
    const [a, b] = cluster.endpoints as [Endpoint, Endpoint];
    const pickOne = () => cluster.pick(undefined).endpoint;
    expect(pickOne()).toBe(a);
    a.activeHealthy = false;
    expect(pickOne()).toBe(b);
    a.activeHealthy = true;
    expect(pickOne()).toBe(b);
  });
});
