// Smoke mode of the front-door benchmark (issue 14 item 4), in `npm test` (the lab project: after
// every other test, one lab file at a time): the kolab-ha lab under load from users on both VIPs and
// Ping devices; planned maintenance (stop: SIGTERM, drain) then a crash (kill: SIGKILL) of the
// gateway that is master of VIP 1. Correctness only, no speed: no session may be lost, VIP 1 must
// move to the peer and answer again after each fault, and the lab must leave nothing behind.
// It can fail: a session store that loses a session fails the first check, keepalived not moving
// the VIP (a check that never fails, a backup that does not take over) fails the second.
import { describe, expect, it } from 'vitest';
import { leftovers } from '@webtier/app-lab';
import { faultImpacts } from '../benchmarks/gatewayHa/analysis.js';
import { SMOKE_PLAN, SMOKE_SCHEDULE } from '../benchmarks/gatewayHa/faultPlan.js';
import { FRONT_DOORS, runHaScenario } from '../benchmarks/gatewayHa/runHaScenario.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('gateway HA smoke: stop and kill of the master of VIP 1 under load (kolab-ha lab)', () => {
  it('loses no session, VIP 1 moves and answers again after each fault, and the lab leaves nothing behind', async () => {
    const pids: number[] = [];
    const t0 = performance.now();
    const run = await runHaScenario({
      door: FRONT_DOORS.find((d) => d.id === 'keepalived')!,
      plan: SMOKE_PLAN,
      schedule: SMOKE_SCHEDULE,
      users: 8,
      devices: 2,
      warmupSec: 0,
      // With the time since the test started: where the time went when the run is slow.
      log: (line) => console.log(`${((performance.now() - t0) / 1000).toFixed(1)}s ${line}`),
      beforeDown: (lab) => pids.push(...lab.processes().flatMap((p) => (p.pid ? [p.pid] : []))),
    });
    const impacts = faultImpacts(run);
    expect(run.faults.map((f) => [f.kind, f.host, f.error ?? 'applied'])).toEqual([
      ['stop', 'gateway-1', 'applied'],
      ['kill', 'gateway-1', 'applied'],
    ]);
    for (const i of impacts) {
      expect(i.vipMovedSec, `${i.kind}: VIP 1 moved to gateway-2`).not.toBeNull();
      expect(i.answeredAgainSec, `${i.kind}: VIP 1 answered again`).not.toBeNull();
      expect(i.homeSec, `${i.kind}: both gateways back home after the heal`).not.toBeNull();
      expect(i.sessionsLost, `${i.kind}: sessions lost`).toBe(0);
    }
    expect(run.load.sessionsLost).toBe(0);
    const afterFaults = run.load.seconds.filter((s) => s.t >= Math.ceil(run.faults[1]!.atSec) + 6).reduce((a, s) => a + s.ok, 0);
    expect(afterFaults, 'successful session requests after the second fault').toBeGreaterThan(50);
    expect(await leftovers()).toEqual({ namespaces: [], links: [], route: false, rootRules: [] });
    expect(pids.length, 'lab processes seen').toBeGreaterThan(10);
    expect(pids.filter(alive)).toEqual([]);
  }, 150_000);
});
