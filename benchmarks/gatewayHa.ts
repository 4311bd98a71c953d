// Front-door benchmark (issue 14): logged-in users and ActiveSync devices holding Pings through two
// gateways with keepalived and two service addresses (VIPs), the way DNS round-robin clients use
// them (each user keeps the address it picked and reconnects on error), while the gateway that is
// master of one address is stopped, killed, frozen and unplugged in turn; side by side with one
// gateway without keepalived under the same faults. Everything runs on the multi-host lab (apps/lab,
// root only), one system after the other, each on a fresh lab.
//
//   npm run bench:gateway-ha                 the full run: 4 faults per system, 20 users, 4 devices
//   npm run bench:gateway-ha -- --smoke      stop + kill on the master of VIP 1, keepalived only
//   tsx benchmarks/gatewayHa.ts --doors keepalived --users 10
//
// Writes benchmarks/results/gateway-ha.{json,md} and gateway-ha-timeline.svg, gateway-ha-failed.svg
// (gateway-ha-smoke.* with --smoke, no charts).
import { parseArgs } from 'node:util';
import { LAB_DRAIN_DELAY_MS } from '@webtier/app-lab';
import { writeDocs } from './docs.js';
import { describeRevision, revision } from './failover/revision.js';
import { faultImpacts, targetChecks, type FaultImpact, type TargetCheck } from './gatewayHa/analysis.js';
import { FAULT_LABELS, FULL_PLAN, FULL_SCHEDULE, SMOKE_PLAN, SMOKE_SCHEDULE, type GatewayFault, type PlannedFault } from './gatewayHa/faultPlan.js';
import { FRONT_DOORS, runHaScenario, type FrontDoor } from './gatewayHa/runHaScenario.js';
import { renderGatewayHaCharts } from './gatewayHa/charts.js';
import { formatInteger, formatMachine, machineInfo, markdownTable, printTable, writeResults, type Cell } from './lib/report.js';

const USAGE = `tsx benchmarks/gatewayHa.ts [options]   (root: network namespaces, keepalived)
  --users <n>      logged-in users, split over the addresses (default 20; smoke 8)
  --devices <n>    ActiveSync devices holding Pings (default 4; smoke 2)
  --warmup <s>     unrecorded load before the faults (default 3; smoke 1)
  --doors <list>   from: ${FRONT_DOORS.map((d) => d.id).join(', ')} (default both; smoke keepalived)
  --smoke          stop then kill on the master of VIP 1, short slots → results/gateway-ha-smoke.*
  --faults <list>  an experiment: these faults, e.g. stop,stop,kill@2 (@2: on the master of VIP 2)
                   → results/gateway-ha-experiment.* (no charts, no docs)
  --raw-client     the users' client as autocannon alone behaves: writes the next request on a
                   connection whose response said Connection: close, never retries (default: like a
                   browser, see benchmarks/failover/SessionLoad.ts)
  --trace          print every failure and retry around each fault, by time since the fault
`;

const { values } = parseArgs({ options: { users: { type: 'string' }, devices: { type: 'string' }, warmup: { type: 'string' }, doors: { type: 'string' }, smoke: { type: 'boolean' }, faults: { type: 'string' }, 'raw-client': { type: 'boolean' }, trace: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
function option(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`gateway-ha: --${name} "${text}" must be a whole number from ${min} to ${max}\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}
const smoke = values.smoke ?? false;
const users = option('users', values.users, smoke ? 8 : 20, 2, 500);
const devices = option('devices', values.devices, smoke ? 2 : 4, 0, 50);
const warmupSec = option('warmup', values.warmup, smoke ? 1 : 3, 0, 60);
let doors: FrontDoor[];
try {
  doors = (values.doors ?? (smoke ? 'keepalived' : FRONT_DOORS.map((d) => d.id).join(','))).split(',').map((id) => {
    const d = FRONT_DOORS.find((x) => x.id === id.trim());
    if (!d) throw new Error(`"${id}" is not a front door; known: ${FRONT_DOORS.map((x) => x.id).join(', ')}`);
    return d;
  });
} catch (err) {
  process.stderr.write(`gateway-ha: --doors: ${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
const kindsOfFault = ['stop', 'kill', 'freeze', 'link-down'] as const;
let plan: readonly PlannedFault[] = smoke ? SMOKE_PLAN : FULL_PLAN;
if (values.faults !== undefined) {
  try {
    plan = values.faults.split(',').map((item) => {
      const [kind, vip = '1'] = item.trim().split('@');
      if (!kindsOfFault.includes(kind as GatewayFault)) throw new Error(`"${kind}" is not a fault; known: ${kindsOfFault.join(', ')}`);
      if (vip !== '1' && vip !== '2') throw new Error(`"@${vip}": the VIP is 1 or 2`);
      return { kind: kind as GatewayFault, vip: Number(vip) - 1 };
    });
  } catch (err) {
    process.stderr.write(`gateway-ha: --faults: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}
const experiment = values.faults !== undefined || (values['raw-client'] ?? false);
const browserLikeClient = !(values['raw-client'] ?? false);
const schedule = smoke ? SMOKE_SCHEDULE : FULL_SCHEDULE;
const resultName = experiment ? 'gateway-ha-experiment' : smoke ? 'gateway-ha-smoke' : 'gateway-ha';

interface DoorRun {
  door: FrontDoor;
  error?: string;
  impacts: FaultImpact[];
  targets: TargetCheck[];
  faults: Array<{ kind: string; host: string; atSec: number }>;
  seconds: Array<{ t: number; ok: number; failed: number; sessionsLost: number; p99Ms: number | null; pingReconnects: number }>;
  totals?: { requests: number; ok: number; failed: number; sessionsLost: number; pingsCompleted: number; pingReconnects: number };
  usersPerUrl: number[];
  urls: string[];
}

const machine = machineInfo();
const measuredRevision = revision(['packages/gateway', 'apps/lab', 'apps/activesync', 'apps/webmail']);
const t0 = Date.now();
console.log(`Front-door (gateway HA) benchmark on ${formatMachine(machine)}`);
console.log(`${doors.map((d) => d.label).join(' vs ')}; ${users} users, ${devices} Ping devices; faults: ${plan.map((p) => `${p.kind} (VIP ${p.vip + 1})`).join(', ')}; slots ${schedule.beforeSec}+${schedule.faultSec}+${schedule.afterSec} s`);

const runs: DoorRun[] = [];
for (const door of doors) {
  console.log(`\n[${door.label}] ${door.description}`);
  try {
    const r = await runHaScenario({ door, plan, schedule, users, devices, warmupSec, browserLikeClient, log: (l) => console.log(l) });
    const impacts = faultImpacts(r);
    if (values.trace) printTrace(r);
    const seconds = r.load.seconds.map((s) => ({
      t: s.t,
      ok: s.ok,
      failed: Object.values(r.load.secondFailures[s.t] ?? {}).reduce((a, b) => a + b, 0),
      sessionsLost: s.sessionsLost,
      p99Ms: s.p99Ms,
      pingReconnects: r.pings.reconnects.filter((p) => Math.floor(p.atSec) === s.t).length,
    }));
    const failed = seconds.reduce((a, s) => a + s.failed, 0);
    const requests = r.load.seconds.reduce((a, s) => a + s.requests, 0);
    const ok = r.load.seconds.reduce((a, s) => a + s.ok, 0);
    runs.push({
      door,
      impacts,
      targets: door.id === 'keepalived' ? targetChecks(impacts) : [],
      faults: r.faults.map((f) => ({ kind: f.kind, host: f.host, atSec: Math.round(f.atSec * 10) / 10 })),
      seconds,
      totals: { requests, ok, failed, sessionsLost: r.load.sessionsLost, pingsCompleted: r.pings.completed, pingReconnects: r.pings.reconnects.length },
      usersPerUrl: r.usersPerUrl,
      urls: r.urls,
    });
    console.log(`  → ${formatInteger(requests)} session requests, ${failed} failed, ${r.load.sessionsLost} sessions lost, ${r.pings.reconnects.length} Ping reconnects`);
  } catch (err) {
    console.error(`  ${door.label} failed: ${(err as Error).stack ?? err}`);
    runs.push({ door, error: (err as Error).message, impacts: [], targets: [], faults: [], seconds: [], usersPerUrl: [], urls: [] });
  }
}

/** Failures and retries after each fault (until the next), by 100 ms since the fault: what failed when, against the VIP move. */
function printTrace(r: Awaited<ReturnType<typeof runHaScenario>>): void {
  for (const [i, f] of r.faults.entries()) {
    const until = r.faults[i + 1]?.atSec ?? Infinity;
    console.log(`  trace ${f.kind} ${f.host} at ${f.atSec.toFixed(2)} s: VIP moved ${f.movedSec === null ? 'never' : `+${(f.movedSec - f.atSec).toFixed(2)} s`}, applied (exited) ${f.appliedSec === null ? '-' : `+${(f.appliedSec - f.atSec).toFixed(2)} s`}`);
    const groups = new Map<string, number>();
    for (const e of r.load.trace) {
      const at = e.atMs / 1000;
      if (at < f.atSec || at >= until) continue;
      const key = `+${(Math.floor((at - f.atSec) * 10) / 10).toFixed(1)} s  ${e.what}`;
      groups.set(key, (groups.get(key) ?? 0) + 1);
    }
    for (const [k, n] of groups) console.log(`    ${k} ×${n}`);
  }
}

const sec = (x: number | null | undefined) => (x == null ? 'never' : `${x}`);
const ms = (x: number | null) => (x === null ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const kinds = (m: Record<string, number>) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${v}× ${k}`)
    .join('; ') || '-';

const headers = ['fault', 'front door', 'failed until the heal', 'failed after the heal', 'GETs retried', 'VIP moved (s)', 'answered again (s)', 'sessions lost', 'Pings reconnected', 'p99 ms', 'max ms'];
const rows: Cell[][] = plan.flatMap((p, i) =>
  runs.map((r) => {
    const x = r.impacts[i];
    if (!x) return [FAULT_LABELS[p.kind], r.door.label, r.error ? `failed: ${r.error.split('\n')[0]!.slice(0, 80)}` : 'n/a'];
    return [`${p.kind} ${x.host}`, r.door.label, x.failedUntilHeal, x.failedAfterHeal, x.retried, r.door.id === 'keepalived' ? sec(x.vipMovedSec) : 'no VIP', sec(x.answeredAgainSec), x.sessionsLost, x.pingReconnects, ms(x.p99Ms), ms(x.maxMs)];
  }),
);
const kindHeaders = ['fault', 'front door', 'failed requests by kind', 'GETs retried by cause', 'Ping reconnects by kind'];
const kindRows: Cell[][] = plan.flatMap((p, i) => runs.filter((r) => r.impacts[i]).map((r) => [`${p.kind} ${r.impacts[i]!.host}`, r.door.label, kinds(r.impacts[i]!.failedByKind), kinds(r.impacts[i]!.retriedByKind), kinds(r.impacts[i]!.pingReconnectsByKind)]));
const targets = runs.flatMap((r) => r.targets);
const targetHeaders = ['fault', 'target (issue 14)', 'measured', 'met'];
const targetRows: Cell[][] = targets.map((t) => [t.fault, t.target, t.measured, t.met ? 'yes' : '**no**']);

printTable(headers, rows, 'Per fault, from the fault to the next one');
printTable(kindHeaders, kindRows, 'What failed');
if (targetRows.length > 0) printTable(targetHeaders, targetRows, 'Targets (keepalived front door)');

const totalSec = Math.round((Date.now() - t0) / 1000);
const clientText = browserLikeClient
  ? "**The users' HTTP client behaves like a browser** where autocannon does not: a response with `Connection: close` ends its connection and the next request opens a new one (autocannon alone writes it on the closing socket, where it is lost: that alone was 33–73 failed requests per stop, measured with `--raw-client`), and a GET whose reused keep-alive connection was closed or reset before any byte of its response is sent again once on a new connection (RFC 9112 §9.3.1; browsers do this). Never a POST, never a request on a new connection: those count as failed. The retries are counted in their own column. On the front-door hosts every VIP is also on lo (arp_ignore 1, arp_announce 2), so a host that loses a VIP still answers the requests it has, and while keepalived holds an instance in FAULT its notify hook drops new SYNs to that VIP (the client sends the SYN again after 1 s, to the new holder) instead of the host refusing them."
  : "**The users' HTTP client is autocannon as it is** (`--raw-client`): it writes the next request on a connection whose response said `Connection: close`, and never retries.";
const md = [
  `# Front door: two gateways with keepalived vs one gateway${smoke ? ' (smoke run)' : ''}`,
  '',
  `Produced by \`${smoke ? 'npm run bench:gateway-ha -- --smoke' : 'npm run bench:gateway-ha'}\` (benchmarks/gatewayHa.ts) on ${formatMachine(machine)}, ${new Date().toISOString()}, in ${totalSec} s; ${describeRevision(measuredRevision)}. The machine was shared with other work while this ran.`,
  '',
  `On the multi-host lab (apps/lab): every host is a Linux network namespace on bridges in 10.231.0.0/16 (blackholed in the root namespace), the demo's memcached (2 Kolab pairs), webmail, ActiveSync and asset hosts behind the front door; the clients run in the root namespace. ${users} users log in and then read and write their sessions (GET and POST /api/session-touch, one after another, the failover benchmark's session load); like DNS round-robin clients, user i keeps service address i mod n and reconnects through it after an error. ${devices} ActiveSync devices (same rule) hold Ping long polls (HeartbeatInterval 60 s) and send the next one when one ends. A probe asks each address for /healthz on a new connection every 100 ms. Each fault lasts ${schedule.faultSec} s, is healed (a killed or stopped gateway is started again), and the next one starts ${schedule.afterSec + schedule.beforeSec} s later, once both gateways are back. The gateways run with drainDelayMs ${LAB_DRAIN_DELAY_MS} (on a stop: /readyz 503 at once, new connections still served with Connection: close while the VIP moves, then the drain) and keepalived's check without weight (as webtier-gateway keepalived --failover fault writes it: a failing check sends a priority-0 advert).`,
  '',
  ...runs.map((r) => `- **${r.door.label}**: ${r.door.description}.`),
  '',
  'Faults, in this order: ' + plan.map((p) => `${FAULT_LABELS[p.kind]} on the master of VIP ${p.vip + 1}`).join('; ') + '. The single gateway gets the same faults on its only host.',
  '',
  markdownTable(headers, rows),
  '',
  clientText,
  '',
  `**failed until / after the heal**: session requests and re-logins that did not get a 200, socket errors (refused, reset, closed mid-response; each labelled with the connection it happened on: new, reused, or after the server's Connection: close) and client timeouts (10 s), from the fault until the heal began, and from then to the next fault (the restart, and keepalived's failback: the restarted gateway takes its VIP back at once, priority 200 over 100, and the keep-alive connections the users had to the peer are reset). **GETs retried**: requests the browser-like client sent again after their reused connection closed before any response byte; not counted as failed, counted here. **VIP moved**: from the fault until the peer held the address. **answered again**: from the fault until its address answered the probe again after the probe first saw it fail (0: it never stopped answering). **sessions lost**: users who got "login required". **Pings reconnected**: Pings that ended in an error and were sent again. **p99 / max**: latency of the successful session requests in the same window. The load generator (autocannon) tries again at once after a refused connect, so a count of refused connects measures users × seconds without a front door, not users: read it with **answered again**.`,
  '',
  '## What failed',
  '',
  markdownTable(kindHeaders, kindRows),
  '',
  ...(targetRows.length > 0 ? ['## Issue 14 targets (keepalived front door)', '', markdownTable(targetHeaders, targetRows), ''] : []),
  ...(smoke ? [] : [`![successful requests per second](${resultName}-timeline.svg)`, '', `![failed requests per second](${resultName}-failed.svg)`, '']),
].join('\n');

const files = writeResults(resultName, { settings: { users, devices, warmupSec, smoke, schedule, plan }, revision: measuredRevision, runs: runs.map(({ door, ...r }) => ({ door: { id: door.id, label: door.label, topology: door.topology }, ...r })) }, md);
console.log(`\nwrote ${files.json} and ${files.markdown}`);
if (!smoke && !experiment) {
  for (const f of renderGatewayHaCharts(resultName)) console.log(`wrote ${f}`);
  console.log(`wrote ${writeDocs()}`);
}
console.log(`(${totalSec} s)`);
if (runs.some((r) => r.error)) process.exitCode = 1;
