// Failover benchmark (issue 6): logged-in users through the proxy to 2 webmail nodes whose sessions
// live in 4 memcached nodes (2 Kolab pairs), while nodes are killed, restarted empty and frozen on a
// timeline. The systems run one after another, each on a fresh topology (a 2-core machine cannot run
// them side by side without each one stealing the others' CPU), and are compared side by side.
//
//   npm run bench:failover                    the full run: 60 s per system, 20 connections
//   tsx benchmarks/failover.ts --duration 30 --connections 10 --systems webtier,vanilla-proxy
//   tsx benchmarks/failover.ts --smoke        a few seconds per system → results/failover-smoke.*
//   npm run bench:failover -- --network lab   every node on its own host of the multi-host lab (apps/lab,
//                                             root only), network faults added → results/failover-lab.*
//
// Writes benchmarks/results/failover.{json,md} and the charts failover-rps.svg, failover-p99.svg
// (failover-lab.* and failover-lab-*.svg with --network lab).
import { parseArgs } from 'node:util';
import { faultImpacts, recoveries, totals, type FaultImpact, type Recovery, type Totals } from './failover/analysis.js';
import type { DeviceSecond } from './failover/DeviceProbe.js';
import { runScenario, type EventRecord } from './failover/runScenario.js';
import type { SecondSample } from './failover/SessionLoad.js';
import { DEFAULT_SYSTEMS, SYSTEMS, systemById, type SystemSpec } from './failover/systems.js';
import { failoverTimeline, labTimeline } from './failover/timeline.js';
import { describeRevision, revision } from './failover/revision.js';
import { renderFailoverCharts } from './charts.js';
import { formatInteger, formatMachine, machineInfo, markdownTable, printTable, writeResults, type Cell } from './lib/report.js';

const USAGE = `tsx benchmarks/failover.ts [options]
  --duration <s>      measured run per system; the 60 s fault timeline is scaled to it (default 60)
  --connections <n>   autocannon connections, one logged-in user each (default 20)
  --warmup <s>        unrecorded load before each measured run (default 8)
  --systems <list>    comma-separated, from: ${SYSTEMS.map((s) => s.id).join(', ')}
                      (default ${DEFAULT_SYSTEMS.join(',')})
  --smoke             short run (12 s, 8 connections, 2 s warm-up) written to results/failover-smoke.*
  --network <n>       loopback (default): every node on 127.0.0.1; lab: every node on its own host of the
                      multi-host lab (network namespaces, root only) with network faults added to the
                      timeline, written to results/failover-lab.* (failover-lab-smoke.* with --smoke)
  --keep-logs         keep each topology's log directory (printed at start)
`;

function option(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) {
    process.stderr.write(`failover: --${name} "${text}" must be a number from ${min} to ${max}\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    connections: { type: 'string' },
    warmup: { type: 'string' },
    systems: { type: 'string' },
    smoke: { type: 'boolean' },
    network: { type: 'string' },
    'keep-logs': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const smoke = values.smoke ?? false;
const durationSec = option('duration', values.duration, smoke ? 12 : 60, 6, 3600);
const connections = Math.round(option('connections', values.connections, smoke ? 8 : 20, 1, 1000));
const warmupSec = option('warmup', values.warmup, smoke ? 2 : 8, 0, 600);
let systems: SystemSpec[];
try {
  systems = (values.systems ?? DEFAULT_SYSTEMS.join(',')).split(',').map((s) => systemById(s.trim()));
} catch (err) {
  process.stderr.write(`failover: --systems: ${(err as Error).message}\n`);
  process.exit(2);
}
const network = values.network ?? 'loopback';
if (network !== 'loopback' && network !== 'lab') {
  process.stderr.write(`failover: --network "${network}" must be loopback or lab\n\n${USAGE}`);
  process.exit(2);
}
const onLab = network === 'lab';
const resultName = `failover${onLab ? '-lab' : ''}${smoke ? '-smoke' : ''}`;
const timeline = onLab ? labTimeline(durationSec) : failoverTimeline(durationSec);

interface SystemRun {
  system: Omit<SystemSpec, 'placement'>;
  error?: string;
  events: EventRecord[];
  totals?: Totals;
  recoveries: Recovery[];
  statuses: Record<string, number>;
  seconds: SecondSample[];
  /** Per measured event: lost, errors, max latency until the next event. */
  impacts?: FaultImpact[];
  /** ActiveSync devices per second (lab only). */
  devices?: DeviceSecond[];
}

const machine = machineInfo();
const measuredRevision = revision(['packages/gateway', 'packages/session-store', 'apps/webmail']);
const t0 = Date.now();
console.log(`Failover benchmark on ${formatMachine(machine)}`);
console.log(`${systems.length} systems, one after another: ${durationSec} s each (after ${warmupSec} s warm-up), ${connections} connections = ${connections} logged-in users`);
console.log(`timeline: ${timeline.map((e) => `t=${e.atSec}s ${e.label}`).join('; ')}`);

const runs: SystemRun[] = [];
for (const system of systems) {
  console.log(`\n[${system.label}] ${system.description}`);
  const { placement: _, ...spec } = system;
  try {
    const r = await runScenario({
      system,
      connections,
      durationSec,
      warmupSec,
      events: timeline,
      network,
      keepRunDir: values['keep-logs'] ?? false,
      log: (line) => console.log(line),
      onSecond: (s) =>
        console.log(
          `  t=${String(s.t).padStart(2)}s ${formatInteger(s.ok).padStart(6)} ok/s  p50 ${fmtMs(s.p50Ms).padStart(6)}  p99 ${fmtMs(s.p99Ms).padStart(7)}  max ${fmtMs(s.maxMs).padStart(7)}  non-2xx ${s.non2xx}  errors ${s.errors}  lost ${s.sessionsLost}`,
        ),
    });
    const t = totals(r.load);
    const impacts = faultImpacts(r.load.seconds, timeline, durationSec, r.devices);
    runs.push({ system: spec, events: r.events, totals: t, recoveries: recoveries(r.load.seconds, r.events), statuses: r.load.statuses, seconds: r.load.seconds, impacts, ...(r.devices ? { devices: r.devices } : {}) });
    console.log(`  → ${formatInteger(t.requests)} requests (${formatInteger(t.ok)} ok), ${t.sessionsLost} sessions lost, ${t.errors} errors, ${t.non2xx} non-2xx, p99 ${fmtMs(t.p99Ms)} ms`);
  } catch (err) {
    console.error(`  ${system.label} failed: ${(err as Error).message}`);
    runs.push({ system: spec, error: (err as Error).message, events: [], recoveries: [], statuses: {}, seconds: [] });
  }
}

function fmtMs(ms: number | null): string {
  return ms === null ? '-' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

// Tables.
const webtier = runs.find((r) => r.system.id === 'webtier' && r.totals)?.totals;
const ratio = (x: number | null | undefined, base: number | null | undefined) => (x == null || !base ? 'n/a' : `${(x / base).toFixed(2)}×`);
const headers = ['system', 'sessions lost', 'errors', 'non-2xx', 'requests', 'ok req/s', 'p50 ms', 'p99 ms', 'max ms', 'ok req/s vs webtier', 'p99 vs webtier'];
const rows: Cell[][] = runs.map((r) => {
  const t = r.totals;
  if (!t) return [r.system.label, `failed: ${r.error?.split('\n')[0]?.slice(0, 80)}`];
  return [r.system.label, t.sessionsLost, t.errors, t.non2xx, formatInteger(t.requests), formatInteger(t.okPerSec), fmtMs(t.p50Ms), fmtMs(t.p99Ms), fmtMs(t.maxMs), ratio(t.okPerSec, webtier?.okPerSec), ratio(t.p99Ms, webtier?.p99Ms)];
});
const measured = timeline.filter((e) => e.measured);
const recoveryHeaders = ['t (s)', 'event', ...runs.map((r) => r.system.label)];
const recoveryCell = (rec: Recovery | undefined): string => {
  if (!rec) return 'n/a';
  const when = rec.recoverySec === null ? 'not recovered' : `${rec.recoverySec} s`;
  const damage = [rec.errors ? `${rec.errors} errors` : '', rec.sessionsLost ? `${rec.sessionsLost} lost` : ''].filter(Boolean).join(', ');
  return damage ? `${when} (${damage})` : when;
};
const recoveryRows: Cell[][] = measured.map((e, i) => [e.atSec, e.label, ...runs.map((r) => recoveryCell(r.recoveries[i]))]);

// Faults × systems: what each fault did until the next event (lost sessions / errors / slowest successful request).
const impactCell = (i: FaultImpact | undefined): string => {
  if (!i) return 'n/a';
  const base = `${i.sessionsLost} / ${i.errors} / ${fmtMs(i.maxMs)}`;
  return i.deviceErrors === undefined ? base : `${base} · AS ${i.deviceErrors} / ${fmtMs(i.deviceMaxMs ?? null)}`;
};
const impactHeaders = ['t (s)', 'fault', ...runs.map((r) => r.system.label)];
const impactRows: Cell[][] = measured.map((e, i) => [e.atSec, e.label, ...runs.map((r) => impactCell(r.impacts?.[i]))]);

// What failed, by request and answer: explains the error counts (which status, which request).
const failureHeaders = ['system', 'request → answer', 'count'];
const failureRows: Cell[][] = runs.flatMap((r) =>
  Object.entries(r.statuses)
    .filter(([what]) => !what.endsWith(' 200'))
    .sort((a, b) => b[1] - a[1])
    .map(([what, n]) => [r.system.label, what.replace(/ (\d{3})$/, ' → $1'), formatInteger(n)]),
);

printTable(headers, rows, `Failover: ${durationSec} s per system, ${connections} logged-in users`);
printTable(recoveryHeaders, recoveryRows, 'Time to recover after each event (errors and lost sessions until the next event)');
printTable(impactHeaders, impactRows, `Faults × systems: sessions lost / errors / max ms of the successful requests until the next event${onLab ? ' · ActiveSync devices: errors / max ms' : ''}`);
if (failureRows.length > 0) printTable(failureHeaders, failureRows, 'What failed');

const totalSec = Math.round((Date.now() - t0) / 1000);
const labIntro = onLab
  ? [
      `**On the multi-host lab** (apps/lab): every node is its own host, a Linux network namespace with its own IP on a bridge in 10.231.0.0/24 (blackholed in the root namespace): memcached-1..4, webmail-1..2, activesync-1..2 and the proxy on the gateway host; the load reaches the proxy from the root namespace through a veth into the client network 10.231.1.0/24. Network faults are real: iptables DROP rules inside the hosts' namespaces (no RST: peers wait out their timeouts) and a veth set down. webtier's gateway runs the lab's LAN settings (connectTimeoutMs 250, health checks every 500 ms with a 400 ms timeout, outlier ejection after 3 gateway failures, per-try timeout 1.5 s on idempotent requests, webmail route timeout 8 s); 4 ActiveSync devices send authenticated OPTIONS (10/s each, ring-hashed on DeviceId) beside the users. The machine was shared with other work while this ran.`,
      '',
    ]
  : [];
const md = [
  `# Failover benchmark${onLab ? ' on the multi-host lab' : ''}${smoke ? ' (smoke run)' : ''}`,
  '',
  `Produced by \`${smoke ? `tsx benchmarks/failover.ts --smoke${onLab ? ' --network lab' : ''}` : `npm run bench:failover${onLab ? ' -- --network lab' : ''}`}\` (benchmarks/failover.ts) on ${formatMachine(machine)}, ${new Date().toISOString()}, in ${totalSec} s; ${describeRevision(measuredRevision)}.`,
  '',
  ...labIntro,
  `Each system runs on its own fresh topology, one after another: 4 memcached nodes (memcached-1+2 and memcached-3+4 are the Kolab pairs), 2 webmail nodes (express + express-session), one proxy. autocannon drives ${connections} connections for ${durationSec} s after a ${warmupSec} s warm-up; each connection is one user logged in beforehand (POST /api/login) with its own session cookie, and every request reads and writes the session (GET and POST /api/session-touch alternately). A user whose session is gone gets 401 "login required", logs in again and carries on.`,
  '',
  ...runs.map((r) => `- **${r.system.label}**: ${r.system.description}.`),
  '',
  'Timeline (at most one node of each memcached pair is down at any time):',
  '',
  ...timeline.map((e) => `- t=${e.atSec} s: ${e.label}`),
  '',
  markdownTable(headers, rows),
  '',
  '**sessions lost**: distinct sessions that got "login required" (the user was logged out). **errors**: non-2xx answers other than 401 (500/502/503/504, to session requests and re-logins), socket errors and timeouts. **non-2xx**: every non-2xx answer to a session request, 401s included. **requests**: session requests answered, any status; **ok req/s**: successful (2xx) session requests per second over the run. Latencies are those of the successful session requests (a fast 503 is not a fast answer).',
  '',
  '## Time to recover after each event',
  '',
  'Seconds from the event to the first whole second with successful req/s back to at least 90 % of the median of the 5 seconds before the event, no error and no lost session (0 s: no second was degraded; "not recovered": not before the next event or the end of the run). In brackets: errors and lost sessions between the event and the next one.',
  '',
  markdownTable(recoveryHeaders, recoveryRows),
  '',
  '## Faults × systems',
  '',
  `Each cell: sessions lost / errors / slowest successful session request (ms), from the event to the next one${onLab ? '; after "AS": the ActiveSync devices\' failed requests / slowest successful request (ms)' : ''}. Errors include requests the client gave up on (10 s).`,
  '',
  markdownTable(impactHeaders, impactRows),
  '',
  '## What failed',
  '',
  'Every answer other than 200, by request, and every socket error. 401: the session was gone ("login required"); 500: the webmail node failed the request (its session store failed); 502: the proxy lost the connection to the webmail node while the request was on it; 503: the proxy had no webmail node to send the request to; 504: a webmail node did not answer in time.',
  '',
  failureRows.length > 0 ? markdownTable(failureHeaders, failureRows) : 'Nothing failed.',
  '',
  ...(smoke ? [] : [`![successful requests per second](${resultName}-rps.svg)`, '', `![failed requests per second](${resultName}-errors.svg)`, '', `![p99 latency](${resultName}-p99.svg)`, '']),
].join('\n');

const files = writeResults(resultName, { settings: { durationSec, connections, warmupSec, smoke, network }, revision: measuredRevision, timeline, runs }, md);
console.log(`\nwrote ${files.json} and ${files.markdown}`);
if (!smoke) for (const f of renderFailoverCharts(files.json, resultName)) console.log(`wrote ${f}`);
console.log(`(${totalSec} s)`);
if (runs.some((r) => r.error)) process.exitCode = 1;
