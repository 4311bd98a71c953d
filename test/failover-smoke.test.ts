// Smoke mode of the failover benchmark (issue 6), in `npm test`: logged-in users through webtier's
// gateway to 2 webmail nodes with ReplicatedMemcachedStore in pairs mode, one memcached node
// SIGKILLed under load. Correctness only, no speed: no session may be lost and no request may fail.
// It can fail: the same scenario with the sessions on one copy (connect-memjs, or the webtier store
// with replicas: 1) gives 500s and, once the node is back empty, "login required".
import { describe, expect, it } from 'vitest';
import { totals } from '../benchmarks/failover/analysis.js';
import { runScenario } from '../benchmarks/failover/runScenario.js';
import { systemById } from '../benchmarks/failover/systems.js';
import { singleKillTimeline, type FaultEvent } from '../benchmarks/failover/timeline.js';

describe('failover smoke: a single memcached node loss under load', () => {
  it('loses no session and returns no error to the users (webtier: gateway + replicated store, pairs)', async () => {
    const sessionsOnKilledNode: string[] = [];
    // The node to kill is chosen once the users are logged in: the memcached node holding the most
    // of their sessions (8 sessions can all land on one pair; killing the other would prove nothing).
    const events: FaultEvent[] = singleKillTimeline(2, 'memcached-1');
    let killed = 'memcached-1';
    const result = await runScenario({
      system: systemById('webtier'),
      connections: 8,
      durationSec: 6,
      warmupSec: 1,
      events,
      // Where each session lives, from the app itself (/api/session-touch names the session's nodes):
      // the kill must hit sessions in use, else the test would prove nothing.
      beforeLoad: async (topo, cookies) => {
        const holders = new Map<string, string[]>();
        for (const cookie of cookies) {
          const res = await fetch(`${topo.url}/api/session-touch`, { headers: { cookie, accept: 'application/json' }, signal: AbortSignal.timeout(5000) });
          expect(res.status).toBe(200);
          const body = (await res.json()) as { sessionNodes: string[] };
          for (const node of body.sessionNodes) holders.set(node, [...(holders.get(node) ?? []), cookie]);
        }
        const [address, held] = [...holders].sort((a, b) => b[1].length - a[1].length)[0] ?? ['', []];
        const index = topo.memcachedServers.indexOf(address);
        expect(index, `session node ${address} is one of the topology's memcached nodes`).toBeGreaterThanOrEqual(0);
        killed = `memcached-${index + 1}`;
        events[0] = singleKillTimeline(2, killed)[0]!;
        sessionsOnKilledNode.push(...held);
      },
    });
    const t = totals(result.load);
    const afterKill = result.load.seconds.filter((s) => s.t >= 3).reduce((sum, s) => sum + s.requests, 0);
    const failures = Object.entries(result.load.statuses).filter(([what]) => !what.endsWith(' 200'));

    expect(sessionsOnKilledNode.length, 'sessions with a copy on the killed node').toBeGreaterThan(0);
    expect(result.events.map((e) => [e.label, e.error ?? 'applied'])).toEqual([[`SIGKILL ${killed}`, 'applied']]);
    expect(afterKill, 'session requests completed after the kill').toBeGreaterThan(100);
    expect(failures, 'answers other than 200, and socket errors').toEqual([]);
    expect(t.sessionsLost).toBe(0);
    expect(t.errors).toBe(0);
  });
});
