// Lost updates under concurrent requests of one user (issue 12): N users x M rounds of two
// overlapping requests on two web nodes (real express + express-session apps, each in its own
// process as in a deployment: benchmarks/concurrency/webNode.ts; real memcached), each
// request incrementing its own session key. Request A reads, works DELAY_MS, saves; request B starts
// a third of the way into A and saves first. Every update lost shows as a counter below M.
// Systems: connect-memjs (two web nodes), express-session's MemoryStore (one web node: it cannot be
// shared), and @webtier/session-store in 'merge' and 'last-write-wins' mode (two web nodes).
// Then the same with DELAY_MS = 0 for the throughput cost of merging (requests/s, both modes).
// Run with `npm run bench:concurrency` (builds first). Results: benchmarks/results/concurrency.{json,md}.
// `npm run bench:concurrency -- --profile` runs only the throughput rounds of the overlap pattern
// (both requests at once), with the webtier web nodes under `node --cpu-prof`, and writes where their
// time went to benchmarks/results/concurrency-profile.md instead of the results above.
// `npm run bench:concurrency -- --throughput-only [--pattern overlap|serial]` runs only the webtier
// throughput rounds (for A/B work on the store: no connect-memjs or MemoryStore nodes, no loss table)
// and prints them without writing results. THROUGHPUT_RUNS (default 9; it was 5, and with 5 the
// serial pattern, the same work in both modes, read 0.90-1.01x on this shared 2-core machine) sets
// the interleaved runs per mode, THROUGHPUT_ROUNDS (default 40) the rounds per user in each. It prints the web nodes' pids
// first and waits WAIT_MS (default 0) before measuring, time enough to attach `strace -c -f -p`.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request as undiciRequest } from 'undici';
import { freePort, MemcachedCluster } from '@webtier/testkit';
import { ChildNode } from './failover/ChildNode.js';
import { renderConcurrencyChart } from './charts.js';
import { summarizeProfile, timeUnder, type ProfileSummary } from './gateway/cpuProfile.js';
import { cpuSeconds } from './gateway/wrk.js';
import { formatInteger, formatMachine, formatRatio, machineInfo, markdownTable, printTable, RESULTS_DIR, writeResults, type Cell } from './lib/report.js';

const here = dirname(fileURLToPath(import.meta.url));
const runDir = mkdtempSync(join(tmpdir(), 'webtier-concurrency-'));

const USERS = Number(process.env.USERS ?? 40);
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const DELAY_MS = Number(process.env.DELAY_MS ?? 30);
const THROUGHPUT_ROUNDS = Number(process.env.THROUGHPUT_ROUNDS ?? 40);
const THROUGHPUT_RUNS = Number(process.env.THROUGHPUT_RUNS ?? 9);
const WAIT_MS = Number(process.env.WAIT_MS ?? 0);
// NAME=value: with --throughput-only, a third system, merge mode with NAME=value in its web nodes' environment (A/B of a change behind a switch).
const VARIANT_ENV = process.env.VARIANT_ENV;
if (VARIANT_ENV !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(VARIANT_ENV)) throw new Error(`VARIANT_ENV=${VARIANT_ENV}: give NAME=value`);
const { values: flags } = parseArgs({ options: { profile: { type: 'boolean' }, 'throughput-only': { type: 'boolean' }, pattern: { type: 'string' } } });
const PROFILE = flags.profile ?? false;
const THROUGHPUT_ONLY = PROFILE || (flags['throughput-only'] ?? false);
if (flags.pattern !== undefined && flags.pattern !== 'overlap' && flags.pattern !== 'serial') throw new Error(`--pattern ${flags.pattern}: give overlap or serial`);
if (!Number.isInteger(THROUGHPUT_RUNS) || THROUGHPUT_RUNS < 1) throw new Error(`THROUGHPUT_RUNS=${process.env.THROUGHPUT_RUNS}: give a whole number of runs, 1 or more`);
const profileDir = (name: string) => join(runDir, `profile-${name}`);

interface WebNode {
  base: string;
  process: ChildNode;
}

/** A web node process (benchmarks/concurrency/webNode.ts) with the given store. */
async function webNode(name: string, store: string, servers: readonly string[], env?: NodeJS.ProcessEnv): Promise<WebNode> {
  const port = await freePort();
  const child = new ChildNode({
    name,
    script: join(here, 'concurrency', 'webNode.ts'),
    args: ['--port', String(port), '--store', store, '--servers', servers.join(','), '--prefix', `cc-${name.replace(/-\d$/, '')}:`],
    ...(env ? { env } : {}),
    healthUrl: `http://127.0.0.1:${port}/healthz`,
    logFile: join(runDir, `${name}.log`),
    // Only the webtier nodes: the profile is for the cost of merging.
    nodeArgs: PROFILE && (store === 'merge' || store === 'last-write-wins') ? ['--cpu-prof', '--cpu-prof-dir', profileDir(name)] : [],
  });
  await child.start();
  return { base: `http://127.0.0.1:${port}`, process: child };
}

interface System {
  name: string;
  note: string;
  nodes: [WebNode, WebNode];
}

const dispatcher = new Agent({ connections: 64 });

// undici's request, not fetch: the load generator shares this process and its cores with the web
// nodes, and fetch's web streams cost about twice the CPU per request (measured: 567 vs 410 µs of
// this process per request with last-write-wins), which buried the stores' own differences.
async function request(url: string, cookie: string): Promise<{ status: number; cookie: string; body: unknown }> {
  const res = await undiciRequest(url, { headers: cookie ? { cookie } : {}, dispatcher });
  const header = res.headers['set-cookie'];
  const set = Array.isArray(header) ? header[0] : header;
  const body = await res.body.json().catch(() => null);
  return { status: res.statusCode, cookie: set ? set.split(';')[0]! : cookie, body };
}

/** Counters summed over the memcached nodes: operations, failed CAS writes, and the CPU they used. */
async function memcachedCounters(cluster: MemcachedCluster): Promise<{ ops: number; casConflicts: number; cpuUs: number }> {
  const all = await Promise.all(cluster.servers.map((a) => cluster.byAddress(a).stats()));
  const n = (st: Record<string, string>, k: string) => Number(st[k] ?? 0);
  let ops = 0;
  let casConflicts = 0;
  let cpuUs = 0;
  for (const st of all) {
    ops += n(st, 'cmd_get') + n(st, 'cmd_set') + n(st, 'cmd_touch') + n(st, 'delete_hits') + n(st, 'delete_misses');
    casConflicts += n(st, 'cas_badval');
    cpuUs += (n(st, 'rusage_user') + n(st, 'rusage_system')) * 1e6;
  }
  return { ops, casConflicts, cpuUs };
}

interface RunResult {
  system: string;
  pattern?: Pattern;
  updates: number;
  lost: number;
  errors: number;
  requestsPerSec: number;
  requests: number;
  /** Per request, over the measured rounds: */
  memcachedOps: number;
  casConflicts: number;
  webCpuUs: number;
  memcachedCpuUs: number;
  /** CPU of this process (the load generator), per request. */
  loadCpuUs: number;
  /** The web nodes' read and write syscalls, main-thread waits for I/O and main-thread CPU, per request. */
  webSyscalls: number;
  webTurns: number;
  webMainThreadCpuUs: number;
}

/** 'overlap': B starts while A runs (the loss scenario; with no work, both start at once). 'serial': B starts after A has answered, so no save conflicts. */
type Pattern = 'overlap' | 'serial';

async function run(sys: System, delayMs: number, rounds: number, pattern: Pattern = 'overlap'): Promise<RunResult> {
  const [n1, n2] = sys.nodes;
  let errors = 0;
  const cookies: string[] = [];
  for (let u = 0; u < USERS; u++) cookies.push((await request(`${n1.base}/login`, '')).cookie);
  // One unmeasured request of every user on each web node: the client's keep-alive connections are
  // open when the clock starts (those of an earlier run may have idled out since).
  await Promise.all(cookies.map((cookie) => Promise.all([request(`${n1.base}/show`, cookie), request(`${n2.base}/show`, cookie)])));
  const mc0 = await memcachedCounters(cluster);
  const cpu0 = webCpuSeconds(sys);
  const proc0 = webProcCounters(sys);
  const started = performance.now();
  const loadCpu0 = process.cpuUsage();
  let requests = 0;
  await Promise.all(
    cookies.map(async (cookie) => {
      for (let r = 0; r < rounds; r++) {
        const a = request(`${n1.base}/inc?k=a&delay=${delayMs}`, cookie);
        if (delayMs > 0) await new Promise((res) => setTimeout(res, delayMs / 3));
        if (pattern === 'serial') await a;
        const b = request(`${n2.base}/inc?k=b`, cookie);
        const [ra, rb] = await Promise.all([a, b]);
        requests += 2;
        if (ra.status !== 200) errors++;
        if (rb.status !== 200) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const loadCpu = process.cpuUsage(loadCpu0);
  const cpu = webCpuSeconds(sys) - cpu0;
  const proc1 = webProcCounters(sys);
  const mc = await memcachedCounters(cluster);
  let lost = 0;
  for (const cookie of cookies) {
    const shown = (await request(`${n2.base}/show`, cookie)).body as { a: number | null; b: number | null };
    lost += rounds - (shown.a ?? 0) + (rounds - (shown.b ?? 0));
  }
  return {
    system: sys.name,
    updates: USERS * rounds * 2,
    lost,
    errors,
    requestsPerSec: requests / elapsed,
    requests,
    memcachedOps: (mc.ops - mc0.ops) / requests,
    casConflicts: (mc.casConflicts - mc0.casConflicts) / requests,
    webCpuUs: (cpu * 1e6) / requests,
    memcachedCpuUs: (mc.cpuUs - mc0.cpuUs) / requests,
    loadCpuUs: (loadCpu.user + loadCpu.system) / requests,
    webSyscalls: (proc1.syscalls - proc0.syscalls) / requests,
    webTurns: (proc1.turns - proc0.turns) / requests,
    webMainThreadCpuUs: ((proc1.mainTicks - proc0.mainTicks) * 1e4) / requests,
  };
}

async function systems(servers: string[]): Promise<System[]> {
  const two = async (store: string): Promise<[WebNode, WebNode]> => [await webNode(`${store}-1`, store, servers), await webNode(`${store}-2`, store, servers)];
  const webtier: System[] = [
    { name: "webtier (concurrentWrites 'merge')", note: '2 web nodes, 2 copies', nodes: await two('merge') },
    { name: "webtier (concurrentWrites 'last-write-wins')", note: '2 web nodes, 2 copies', nodes: await two('last-write-wins') },
  ];
  if (THROUGHPUT_ONLY && VARIANT_ENV) {
    const [k, v] = VARIANT_ENV.split('=') as [string, string];
    const env = { ...process.env, [k]: v };
    webtier.push({ name: `webtier (concurrentWrites 'merge', ${VARIANT_ENV})`, note: '2 web nodes, 2 copies', nodes: [await webNode('variant-1', 'merge', servers, env), await webNode('variant-2', 'merge', servers, env)] });
  }
  if (THROUGHPUT_ONLY) return webtier;
  const memory = await webNode('memory', 'memory', servers);
  return [
    ...webtier,
    { name: 'connect-memjs', note: '2 web nodes, 1 copy', nodes: await two('connect-memjs') },
    { name: 'express-session MemoryStore', note: '1 web node (cannot be shared)', nodes: [memory, memory] },
  ];
}

/**
 * What the system's web nodes did so far, from /proc (no tracer: it would change the timing): read
 * and write syscalls, the main thread's voluntary context switches (about one per event-loop turn
 * that waited for I/O) and its CPU (the rest of a node's CPU is its GC and libuv threads), in ticks.
 */
function webProcCounters(sys: System): { syscalls: number; turns: number; mainTicks: number } {
  const out = { syscalls: 0, turns: 0, mainTicks: 0 };
  for (const n of new Set(sys.nodes)) {
    const pid = n.process.pid;
    try {
      const io = readFileSync(`/proc/${pid}/io`, 'latin1');
      out.syscalls += Number(/syscr: (\d+)/.exec(io)?.[1] ?? 0) + Number(/syscw: (\d+)/.exec(io)?.[1] ?? 0);
      out.turns += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${pid}/status`, 'latin1'))?.[1] ?? 0);
      const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'latin1').split(') ').pop()!.split(' ');
      out.mainTicks += Number(stat[11]) + Number(stat[12]);
    } catch {
      // the node exited: its counters are gone
    }
  }
  return out;
}

/** CPU seconds the system's web node processes have used so far. */
function webCpuSeconds(sys: System): number {
  return [...new Set(sys.nodes)].reduce((sum, n) => sum + cpuSeconds(n.process.pid), 0);
}

const PATTERN_NAMES: Record<Pattern, string> = { overlap: 'A and B at once (every round conflicts)', serial: 'B after A (no round conflicts)' };
const SPEED_HEADERS = ['requests', 'system', 'requests/s', 'vs last-write-wins', 'memcached ops / request', 'failed CAS writes / request', 'web nodes CPU µs / request', 'memcached CPU µs / request', 'load generator CPU µs / request', 'lost', 'errors'];

const t0 = Date.now();
const machine = machineInfo();
console.log(`Concurrent requests of one user: ${formatMachine(machine)}`);
console.log(`${USERS} users x ${ROUNDS} rounds of two overlapping requests (A works ${DELAY_MS} ms, B starts ${Math.round(DELAY_MS / 3)} ms into A)`);
const cluster = await MemcachedCluster.start(4);
const samples = new Map<string, RunResult[]>();
const lossRows: Array<RunResult & { note: string }> = [];
const speedRows: RunResult[] = [];
// mergeCode: CPU in SessionMerge (the diff, the merged session); mergedSave: in MergeWriter (a merge-mode save, its socket I/O excepted).
const profiles: Array<{ name: string; summary: ProfileSummary; requests: number; mergeCode: { ms: number; percent: number }; mergedSave: { ms: number; percent: number } }> = [];
try {
  const all = await systems(cluster.servers);
  const served = new Map<WebNode, number>(); // requests per web node, warm-up included (--profile)
  // Per run and web node: half the measured requests, and a log-in or warm-up request plus a warm-up or final /show per user.
  const count = (s: System, r: RunResult) => {
    for (const n of s.nodes) served.set(n, (served.get(n) ?? 0) + r.requests / 2 + 2 * USERS);
  };
  try {
    if (THROUGHPUT_ONLY) for (const s of all) console.log(`  ${s.name}: web node pids ${s.nodes.map((n) => n.process.pid).join(', ')}`);
    for (const s of all) count(s, await run(s, 0, 3)); // warm-up: JIT, connections; not recorded
    if (!THROUGHPUT_ONLY) for (const s of all) lossRows.push({ ...(await run(s, DELAY_MS, ROUNDS)), note: s.note });
    // Throughput: no artificial work, both webtier modes, both patterns, interleaved THROUGHPUT_RUNS times; medians.
    const webtier = all.filter((s) => s.name.startsWith('webtier'));
    const patterns: readonly Pattern[] = PROFILE ? ['overlap'] : flags.pattern ? [flags.pattern as Pattern] : ['overlap', 'serial'];
    // One unrecorded run of each first: after the 3-round warm-up the first throughput run of each
    // mode still went at about half the rate of the later ones (930-1,692 vs 2,300-3,700 requests/s).
    for (const pattern of patterns) for (const s of webtier) count(s, await run(s, 0, THROUGHPUT_ROUNDS, pattern));
    if (WAIT_MS > 0) {
      console.log(`  warm; measuring in ${WAIT_MS} ms`);
      await new Promise((res) => setTimeout(res, WAIT_MS));
    }
    for (let i = 0; i < THROUGHPUT_RUNS; i++) {
      for (const pattern of patterns) {
        // Each round in the other order, so that neither mode always follows the other.
        for (const s of i % 2 === 0 ? webtier : [...webtier].reverse()) {
          const r = { ...(await run(s, 0, THROUGHPUT_ROUNDS, pattern)), pattern };
          count(s, r);
          console.log(`  round ${i + 1}/${THROUGHPUT_RUNS} ${pattern} ${s.name}: ${Math.round(r.requestsPerSec)} requests/s, web nodes ${Math.round(r.webCpuUs)} µs, memcached ${Math.round(r.memcachedCpuUs)} µs, load generator ${Math.round(r.loadCpuUs)} µs CPU per request (web nodes' main threads ${Math.round(r.webMainThreadCpuUs)} µs), ${r.memcachedOps.toFixed(2)} memcached ops, web nodes ${r.webSyscalls.toFixed(2)} read/write syscalls and ${r.webTurns.toFixed(2)} waits for I/O per request`);
          samples.set(`${pattern} ${s.name}`, [...(samples.get(`${pattern} ${s.name}`) ?? []), r]);
        }
      }
    }
    for (const [, runs] of samples) speedRows.push([...runs].sort((x, y) => x.requestsPerSec - y.requestsPerSec)[Math.floor(runs.length / 2)]!);
  } finally {
    for (const s of all) for (const n of new Set(s.nodes)) await n.process.stop();
  }
  if (PROFILE) {
    for (const s of all.filter((x) => x.name.startsWith('webtier'))) {
      for (const [i, n] of s.nodes.entries()) {
        const name = `${s.name}, web node ${i + 1} (request ${i === 0 ? 'A' : 'B'})`;
        const dir = profileDir(n.process.name);
        // The largest: tsx's loader thread writes a profile of its own next to the main thread's.
        const file = readdirSync(dir)
          .filter((f) => f.endsWith('.cpuprofile'))
          .sort((x, y) => statSync(join(dir, y)).size - statSync(join(dir, x)).size)[0];
        if (file) profiles.push({ name, summary: summarizeProfile(join(dir, file), 25), requests: served.get(n) ?? 0, mergeCode: timeUnder(join(dir, file), (url) => url.endsWith('/SessionMerge.js')), mergedSave: timeUnder(join(dir, file), (url) => url.endsWith('/MergeWriter.js')) });
        else console.error(`no .cpuprofile from ${name}: it did not exit cleanly on SIGTERM`);
      }
    }
  }
} catch (err) {
  console.error(`bench:concurrency failed; the web nodes' logs are in ${runDir}`);
  throw err;
} finally {
  await cluster.stop();
  await dispatcher.close();
}
if (process.env.KEEP_RUN_DIR) console.log(`kept ${runDir} (web node logs, profiles)`);
else rmSync(runDir, { recursive: true, force: true });

if (PROFILE) {
  const lines = (l: ProfileSummary['selfTop']) => l.map((x) => [x.name, x.where, x.ms, `${x.percent}%`] as Cell[]);
  const md: string[] = [
    '# Where the web nodes spend their time when every round conflicts',
    '',
    `\`npm run bench:concurrency -- --profile\` on ${formatMachine(machine)}, ${new Date().toISOString()}: the throughput rounds of the overlap pattern only (both requests of a round at once, ${USERS} users × ${THROUGHPUT_ROUNDS} rounds, 5 runs per mode), each webtier web node under \`node --cpu-prof\` from start to SIGTERM. Shares are of the CPU time the node used (idle samples left out); "CPU per request" divides it by the requests the node served (log-in and warm-up included). The profiler adds its own cost; compare the modes with each other, not with the unprofiled numbers.`,
    '',
  ];
  for (const { name, summary: p, requests, mergeCode, mergedSave } of profiles) {
    const title = `${name}: ${formatInteger(p.activeMs)} ms of CPU, ${Math.round((p.activeMs * 1000) / requests)} µs per request (${formatInteger(requests)} requests)`;
    const merge = `In and below SessionMerge (the diff against what the request read, the merged session): ${formatInteger(mergeCode.ms)} ms, ${mergeCode.percent} % of the node's CPU; in and below MergeWriter (every save of a merge-mode store but its socket writes and replies, which run later; the fast path included): ${formatInteger(mergedSave.ms)} ms, ${mergedSave.percent} %.`;
    const merging = mergedSave.ms > 0 ? [merge, ''] : []; // a last-write-wins node runs neither
    console.log(`\n${title}${merging.length > 0 ? `\n${merge}` : ''}`);
    md.push(`## ${title}`, '', ...merging, '### Self time by package', '', markdownTable(['package', '', 'ms', 'share'], lines(p.byPackage)), '');
    md.push('### Self time by function', '', markdownTable(['function', 'where', 'ms', 'share'], lines(p.selfTop)), '');
    md.push('### Inclusive time by function', '', markdownTable(['function', 'where', 'ms', 'share'], lines(p.inclusiveTop)), '');
    printTable(['package', '', 'ms', 'share'], lines(p.byPackage), `${name}: self time by package`);
    printTable(['function', 'where', 'ms', 'share'], lines(p.inclusiveTop), `${name}: inclusive time by function`);
  }
  writeFileSync(join(RESULTS_DIR, 'concurrency-profile.md'), md.join('\n'));
  console.log('wrote benchmarks/results/concurrency-profile.md');
}

if (PROFILE) {
  // written above
} else if (THROUGHPUT_ONLY) {
  printTable(SPEED_HEADERS, speedTable(), `Throughput cost of merging (no artificial work, median of ${THROUGHPUT_RUNS} interleaved runs; not written to results)`);
  for (const line of perRunRatios()) console.log(line);
} else {
  writeReport();
}

// Each run's merge rate over the last-write-wins run next to it (the same minute of a shared
// machine): steadier than the ratio of the medians when the machine's load changes between runs.
function perRunRatios(): string[] {
  const out: string[] = [];
  for (const [key, runs] of samples) {
    if (key.includes("'last-write-wins'")) continue;
    const lww = samples.get(`${runs[0]!.pattern} webtier (concurrentWrites 'last-write-wins')`)!;
    const ratios = runs.map((r, i) => r.requestsPerSec / lww[i]!.requestsPerSec).sort((x, y) => x - y);
    out.push(`${PATTERN_NAMES[runs[0]!.pattern!]}: ${runs[0]!.system} / last-write-wins, run by run: ${ratios.map((x) => x.toFixed(2)).join(', ')} (median ${formatRatio(ratios[Math.floor(ratios.length / 2)]!)})`);
  }
  return out;
}

function speedTable(): Cell[][] {
  return speedRows.map((r) => {
    const lww = speedRows.find((x) => x.pattern === r.pattern && x.system.includes('last-write-wins'))!;
    return [PATTERN_NAMES[r.pattern!], r.system, Math.round(r.requestsPerSec), formatRatio(r.requestsPerSec / lww.requestsPerSec), r.memcachedOps.toFixed(2), r.casConflicts.toFixed(2), Math.round(r.webCpuUs), Math.round(r.memcachedCpuUs), Math.round(r.loadCpuUs), r.lost, r.errors];
  });
}

function writeReport(): void {
  const lossHeaders = ['system', 'web nodes / copies', 'updates', 'lost', 'lost %', 'errors', 'requests/s'];
  const lossTable = lossRows.map((r) => [r.system, r.note, r.updates, r.lost, `${((100 * r.lost) / r.updates).toFixed(1)} %`, r.errors, Math.round(r.requestsPerSec)]);
  printTable(lossHeaders, lossTable, 'Lost updates');
  const speedRowsTable = speedTable();
  printTable(SPEED_HEADERS, speedRowsTable, `Throughput cost of merging (no artificial work, median of ${THROUGHPUT_RUNS} interleaved runs)`);

  const totalSec = Math.round((Date.now() - t0) / 1000);
  const md = [
    '# Concurrent requests of one user: lost updates',
    '',
    `Produced by \`npm run bench:concurrency\` (benchmarks/concurrency.ts) on ${formatMachine(machine)}, ${new Date().toISOString()}, in ${totalSec} s.`,
    '',
    `${USERS} users, each ${ROUNDS} rounds of two overlapping requests through real express + express-session apps on 4 local memcached nodes: request A (web node 1) reads the session, works ${DELAY_MS} ms and increments \`a\`; request B (web node 2) starts ${Math.round(DELAY_MS / 3)} ms into A, increments \`b\` and saves first. An update is lost when a counter ends below ${ROUNDS}.`,
    '',
    markdownTable(lossHeaders, lossTable),
    '',
    '![updates lost per store](concurrency.svg)',
    '',
    `## Throughput cost of merging`,
    '',
    `The same two requests per round without artificial work, ${THROUGHPUT_ROUNDS} rounds per user, median of ${THROUGHPUT_RUNS} interleaved runs per mode, in two patterns: both requests sent at once, so that nearly every round conflicts (the worst case), and B sent after A has answered, so that none does. A conflicting save in merge mode pays a failed conditional write on both replicas, a read of both and a second conditional write: four memcached operations more than last-write-wins. Each web node is its own process; "web nodes CPU" is theirs together (from /proc, 10 ms ticks), per request: on a web tier whose memcached runs on other hosts, as the Kolab guide lays it out, this is what bounds a web node's requests/s. memcached's CPU is from its own \`stats\` (rusage), summed over the 4 nodes; the load generator's (undici, in the benchmark's process) from \`process.cpuUsage()\`. On this 2-core machine the three share the cores, so requests/s here follows the sum of all three.`,
    '',
    markdownTable(SPEED_HEADERS, speedRowsTable),
    '',
    'The same runs as ratios of neighbours (each merge run over the last-write-wins run next to it, sorted), which the machine\'s changing load moves less than the medians above:',
    '',
    ...perRunRatios().map((l) => `- ${l}`),
    '',
  ].join('\n');
  const files = writeResults('concurrency', { settings: { USERS, ROUNDS, DELAY_MS, THROUGHPUT_ROUNDS, THROUGHPUT_RUNS }, lostUpdates: lossRows, throughput: speedRows }, md);
  const charts = renderConcurrencyChart();
  console.log(`\nwrote ${files.json}, ${files.markdown} and ${charts.join(', ')} (${totalSec} s)`);
}
