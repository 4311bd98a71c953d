// One front-door system on the multi-host lab under issue 14's faults: the lab comes up (kolab-ha:
// two gateway hosts with keepalived and two VIPs; kolab: one gateway, no keepalived), users log in
// through the address they picked (DNS round robin: user i keeps address i mod n), the session load
// of the failover benchmark runs through each address, ActiveSync devices hold Pings, a probe asks
// each address 10 times a second, and the faults hit the planned gateway one after another.
import { Lab, type LabUpOptions } from '@webtier/app-lab';
import { loginUsers, runSessionLoad, latencySummary, sumCounts, type LoadResult, type Login, type SecondSample } from '../failover/SessionLoad.js';
import type { PlannedFault, Schedule } from './faultPlan.js';
import { loadDurationSec } from './faultPlan.js';
import { startPingDevices, type PingDevicesResult } from './PingDevices.js';
import { startVipProbe, type ProbeSample } from './VipProbe.js';

export type FrontDoorId = 'keepalived' | 'single';

export interface FrontDoor {
  id: FrontDoorId;
  label: string;
  topology: NonNullable<LabUpOptions['topology']>;
  description: string;
}

export const FRONT_DOORS: readonly FrontDoor[] = [
  { id: 'keepalived', label: 'two gateways + keepalived', topology: 'kolab-ha', description: "the lab's kolab-ha topology: gateway-1 master of VIP .3, gateway-2 master of VIP .4 (priority 200 over 100), each keepalived checking its gateway's /readyz (curl, 1 s bound) every second without weight (--failover fault: a failing check is a FAULT and a priority-0 advert), advert_int 1" },
  { id: 'single', label: 'one gateway', topology: 'kolab', description: "the lab's kolab topology: one gateway host, no keepalived; every fault takes the whole front door down until the gateway is back (the lab's heal after the fault's duration stands for the restart)" },
];

export const LOGINS: readonly Login[] = [
  { user: 'alice', password: 'wonderland' },
  { user: 'bob', password: 'builder' },
];

/** What one fault did, with times in seconds since the load's start. */
export interface FaultRecord {
  kind: PlannedFault['kind'];
  host: string;
  /** The address whose master was hit (the gateway's own address for the single gateway). */
  url: string;
  atSec: number;
  /** When the fault was in place (a stop: when the gateway had exited). */
  appliedSec: number | null;
  /** When the heal began (a stopped or killed gateway starting again; keepalived's failback follows). */
  healStartSec: number | null;
  healedSec: number | null;
  /** When the peer held the VIP (keepalived only; null: it never moved). */
  movedSec: number | null;
  /** When both gateways were back with their own addresses and answered (null: not before the next fault). */
  homeSec: number | null;
  error?: string;
}

export interface HaScenarioResult {
  load: LoadResult;
  faults: FaultRecord[];
  probes: ProbeSample[][];
  urls: string[];
  pings: PingDevicesResult;
  /** Users per address. */
  usersPerUrl: number[];
}

export interface HaScenarioOptions {
  door: FrontDoor;
  plan: readonly PlannedFault[];
  schedule: Schedule;
  users: number;
  devices: number;
  warmupSec: number;
  log?: (line: string) => void;
  /** Called with the lab just before it is torn down (tests: what to check is gone). */
  beforeDown?: (lab: Lab) => void;
  /**
   * How the users' HTTP client behaves: like a browser (true: honours `Connection: close`, sends a GET
   * again once when its reused connection closed before any response byte, counted as a retry) or as
   * autocannon alone does (false). @default true
   */
  browserLikeClient?: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function answers(url: string): Promise<boolean> {
  return fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) }).then(
    (r) => r.status === 200,
    () => false,
  );
}

export async function runHaScenario(o: HaScenarioOptions): Promise<HaScenarioResult> {
  const log = o.log ?? (() => {});
  const lab = await Lab.up({ topology: o.door.topology, owner: process.pid, waitMs: 300_000, log: (l) => log(`  lab: ${l}`) });
  let loads: Array<Promise<LoadResult>> = [];
  let devices: ReturnType<typeof startPingDevices> | undefined;
  let probe: ReturnType<typeof startVipProbe> | undefined;
  try {
    const urls = [...lab.state.data.gatewayUrls];
    const vips = lab.topology.vips;
    const gateways = lab.hosts('gateway').map((h) => h.name);
    // DNS round robin: user i resolved the name to address i mod n and keeps it.
    const cookiesPer: string[][] = urls.map(() => []);
    for (const [i, url] of urls.entries()) {
      const n = Math.floor(o.users / urls.length) + (i < o.users % urls.length ? 1 : 0);
      cookiesPer[i] = await loginUsers(url, n, LOGINS);
    }
    log(`  ${o.door.label}: ${o.users} users logged in through ${urls.join(', ')} (${cookiesPer.map((c) => c.length).join(' + ')}); gateways ${gateways.join(', ')}`);
    const browserLike = o.browserLikeClient ?? true;
    const client = { honourConnectionClose: browserLike, retryStale: browserLike };
    if (o.warmupSec > 0) await Promise.all(urls.map((url, i) => runSessionLoad({ url, cookies: cookiesPer[i]!, durationSec: o.warmupSec, logins: LOGINS, ...client })));

    const durationSec = loadDurationSec(o.plan, o.schedule);
    let startedAt = 0;
    const started = new Promise<void>((resolve) => {
      let n = 0;
      const onStart = (t: number) => {
        if (n++ === 0) startedAt = t;
        if (n === urls.length) resolve();
      };
      loads = urls.map((url, i) => runSessionLoad({ url, cookies: cookiesPer[i]!, durationSec, logins: LOGINS, onStart, ...client }));
    });
    await started;
    const nowSec = () => (performance.now() - startedAt) / 1000;
    devices = startPingDevices(Array.from({ length: o.devices }, (_, d) => urls[d % urls.length]!), startedAt);
    probe = startVipProbe(urls, startedAt);
    const faults: FaultRecord[] = [];
    // applyOne records a failed fault instead of throwing: the loads, devices and probe always end here.
    const slotSec = o.schedule.beforeSec + o.schedule.faultSec + o.schedule.afterSec;
    for (const [i, planned] of o.plan.entries()) {
      // A slot that started late (a slow drain before it) keeps at least half its steady time.
      const faultAt = Math.max(i * slotSec + o.schedule.beforeSec, nowSec() + o.schedule.beforeSec / 2);
      await sleep(Math.max(0, (faultAt - nowSec()) * 1000));
      faults.push(await applyOne(lab, planned, urls, vips, gateways, o.schedule, nowSec, log));
    }
    const results = await Promise.all(loads);
    const pings = await devices.stop();
    const probes = await probe.stop();
    return { load: mergeLoads(results), faults, probes, urls, pings, usersPerUrl: cookiesPer.map((c) => c.length) };
  } finally {
    // Every client stops before `down` removes the blackhole route of the lab's range: after it, a packet
    // to a VIP would follow the default route off this machine. On the normal path they have stopped already.
    await Promise.allSettled([...loads, devices?.stop(), probe?.stop()]);
    // Whatever happened: no fault left in force, then the whole lab removed.
    await lab.heal().catch((err: unknown) => log(`  heal before down failed: ${(err as Error).message}`));
    o.beforeDown?.(lab);
    await lab.down((l) => log(`  lab: ${l}`));
  }
}

async function applyOne(lab: Lab, planned: PlannedFault, urls: string[], vips: readonly string[], gateways: string[], s: Schedule, nowSec: () => number, log: (line: string) => void): Promise<FaultRecord> {
  const ha = vips.length > 0;
  const host = ha ? gateways[planned.vip]! : gateways[0]!;
  const url = ha ? urls[planned.vip]! : urls[0]!;
  const vip = vips[planned.vip];
  const peer = gateways.find((g) => g !== host);
  const rec: FaultRecord = { kind: planned.kind, host, url, atSec: nowSec(), appliedSec: null, healStartSec: null, healedSec: null, movedSec: null, homeSec: null };
  log(`  t=${rec.atSec.toFixed(1)}s ${planned.kind} ${host}${vip ? ` (master of ${vip})` : ''}`);
  let healBy = rec.atSec + s.faultSec;
  // Watch the VIP move while the fault is applied (a stop resolves only when the gateway has exited).
  let watching = ha && vip !== undefined && peer !== undefined;
  const watch = (async () => {
    while (watching && nowSec() < healBy + 1) {
      if ((await lab.vipHolder(vip!)) === peer) {
        rec.movedSec = nowSec();
        return;
      }
      await sleep(50);
    }
  })();
  try {
    const f = await lab.fault(planned.kind, [host]);
    rec.appliedSec = nowSec();
    healBy = Math.max(healBy, rec.appliedSec);
    await sleep(Math.max(0, (healBy - nowSec()) * 1000));
    watching = false;
    await watch;
    rec.healStartSec = nowSec();
    await lab.heal(f.id);
    rec.healedSec = nowSec();
  } catch (err) {
    rec.error = (err as Error).message;
    log(`    ${planned.kind} ${host} failed: ${rec.error}`);
    watching = false;
    await watch;
    await lab.heal().catch(() => {});
  }
  // Both gateways back with their own addresses (keepalived preempts), every address answering.
  const deadline = nowSec() + s.afterSec - 1;
  while (nowSec() < deadline) {
    const home = ha ? (await Promise.all(vips.map((v) => lab.vipHolder(v)))).every((h, i) => h === gateways[i]) : true;
    if (home && (await Promise.all(urls.map(answers))).every(Boolean)) {
      rec.homeSec = nowSec();
      break;
    }
    await sleep(200);
  }
  log(`    applied ${fmt(rec.appliedSec, rec.atSec)}, VIP moved ${fmt(rec.movedSec, rec.atSec)}, healed ${fmt(rec.healedSec, rec.atSec)}, home ${fmt(rec.homeSec, rec.atSec)}`);
  return rec;
}

const fmt = (t: number | null, from: number) => (t === null ? '-' : `+${(t - from).toFixed(1)}s`);

/** The loads through each address as one: counts summed per second, latencies merged. */
export function mergeLoads(loads: readonly LoadResult[]): LoadResult {
  const first = loads[0]!;
  const n = Math.max(...loads.map((l) => l.seconds.length));
  const secondLatenciesMs = Array.from({ length: n }, (_, t) => Float64Array.from(loads.flatMap((l) => Array.from(l.secondLatenciesMs[t] ?? []))).sort());
  const secondFailures = Array.from({ length: n }, (_, t) => {
    const f: Record<string, number> = {};
    for (const l of loads) for (const [k, v] of Object.entries(l.secondFailures[t] ?? {})) f[k] = (f[k] ?? 0) + v;
    return f;
  });
  const seconds: SecondSample[] = Array.from({ length: n }, (_, t) => {
    const parts = loads.map((l) => l.seconds[t]).filter((s): s is SecondSample => s !== undefined);
    return {
      t,
      ...sumCounts(parts),
      ...latencySummary(secondLatenciesMs[t]!),
    };
  });
  const secondRetries = Array.from({ length: n }, (_, t) => {
    const f: Record<string, number> = {};
    for (const l of loads) for (const [k, v] of Object.entries(l.secondRetries[t] ?? {})) f[k] = (f[k] ?? 0) + v;
    return f;
  });
  const statuses: Record<string, number> = {};
  for (const l of loads) for (const [k, v] of Object.entries(l.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  return {
    durationSec: first.durationSec,
    connections: loads.reduce((a, l) => a + l.connections, 0),
    seconds,
    sessionsLost: loads.reduce((a, l) => a + l.sessionsLost, 0),
    statuses,
    latenciesMs: Float64Array.from(loads.flatMap((l) => Array.from(l.latenciesMs))).sort(),
    secondLatenciesMs,
    secondFailures,
    secondRetries,
    trace: loads.flatMap((l) => l.trace).sort((a, b) => a.atMs - b.atMs),
  };
}
