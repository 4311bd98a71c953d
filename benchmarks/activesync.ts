// bench:activesync: thousands of held ActiveSync Pings through a proxy, and what they cost the other
// requests. One ActiveSync-like upstream (activesync/upstream.mjs: holds every Cmd=Ping, answers the
// rest at once), two proxies in turn: webtier's gateway (webtier-gateway CLI, access log on, defaults
// except listener maxConnections) and nginx (1 worker, proxy_read_timeout 3660s, proxy_buffering off).
// For each proxy the held Pings ramp 0 -> 1,000 -> 5,000 -> 10,000 (raw sockets from this process);
// at each step Sync and FolderSync latency (sequential, one keep-alive connection), the proxy's RSS
// and its CPU over the measurement are recorded. The file limit is raised for this process (and so
// for its children) with prlimit, as an operator would with LimitNOFILE.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { freePort } from '@webtier/testkit';
import { ChildNode } from './failover/ChildNode.js';
import { gatewayCli } from './failover/FailoverTopology.js';
import { NGINX_BINARY, nginxPrologue, runNginx } from './gateway/nginx.js';
import { lineChart } from './lib/chart.js';
import { formatMachine, markdownTable, printTable, RESULTS_DIR, writeResults } from './lib/report.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { steps: { type: 'string', default: '0,1000,5000,10000' }, samples: { type: 'string', default: '1000' }, proxies: { type: 'string', default: 'gateway,nginx' }, help: { type: 'boolean' } } });
if (values.help) {
  process.stdout.write('tsx benchmarks/activesync.ts [--steps 0,1000,5000,10000] [--samples 1000] [--proxies gateway,nginx]\n');
  process.exit(0);
}
const REQUESTED_STEPS = values.steps.split(',').map(Number);
let STEPS = REQUESTED_STEPS;
/** Why a step was lowered (the open-file limit), for the report. */
let clampNote = '';
const SAMPLES = Number(values.samples);
if (REQUESTED_STEPS.some((n) => !Number.isInteger(n) || n < 0 || n > 20_000) || !Number.isInteger(SAMPLES) || SAMPLES < 10 || SAMPLES > 10_000) {
  throw new Error('--steps: integers 0..20000; --samples: 10..10000');
}
let MAX_PINGS = Math.max(...STEPS);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const PAGE = Number(execFileSync('getconf', ['PAGESIZE']).toString().trim()) || 4096;

/** Raises this process's open-file limit (children inherit it): each held Ping is 2 sockets in the proxy. */
function raiseOwnFileLimit(want: number): number {
  const read = () => Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'latin1'))?.[1] ?? 0);
  if (read() >= want) return read();
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${want}:${want}`], { stdio: 'ignore', timeout: 5000 });
  } catch {
    try {
      const hard = /Max open files\s+\d+\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'latin1'))?.[1];
      if (hard) execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`], { stdio: 'ignore', timeout: 5000 });
    } catch {
      // reported below
    }
  }
  return read();
}

function procStat(pid: number): { cpuTicks: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { cpuTicks: Number(f[11]) + Number(f[12]), rssBytes: Number(f[21]) * PAGE };
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/** One request on a keep-alive agent; its latency in ms (throws on a non-200 or after 5 s). */
function timed(agent: Agent, port: number, cmd: string, i: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/Microsoft-Server-ActiveSync?Cmd=${cmd}&User=u&DeviceId=m${i}&DeviceType=SmartPhone`, agent, headers: { 'content-length': '0' }, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`${cmd}: status ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`${cmd}: no answer within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function upstreamCount(port: number, path: '/held' | '/release'): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: path === '/held' ? 'GET' : 'POST', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(Number(body)));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(-1));
    req.end();
  });
}

/** Held Pings on raw sockets, opened `batch` at a time (a burst of thousands of SYNs overflows the backlog). */
class PingFleet {
  readonly sockets: Socket[] = [];
  answered = 0;
  async grow(port: number, to: number, batch = 250): Promise<void> {
    while (this.sockets.length < to) {
      const started: Array<Promise<void>> = [];
      for (let n = Math.min(batch, to - this.sockets.length); n > 0; n--) {
        const i = this.sockets.length;
        const s = connect(port, '127.0.0.1');
        this.sockets.push(s);
        s.once('data', () => this.answered++);
        s.on('error', () => undefined);
        started.push(new Promise((r) => s.once('connect', () => r()).once('error', () => r())));
        s.write(`POST /Microsoft-Server-ActiveSync?Cmd=Ping&User=u&DeviceId=p${i}&DeviceType=SmartPhone HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`);
      }
      await Promise.all(started);
    }
  }
  close(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.length = 0;
  }
}

interface Step {
  heldPings: number;
  syncP50Ms: number;
  syncP99Ms: number;
  folderSyncP50Ms: number;
  folderSyncP99Ms: number;
  rssMiB: number;
  cpuPercent: number;
  errors: number;
}

interface ProxyRun {
  id: string;
  name: string;
  steps: Step[];
  bytesPerHeldPing: number | null;
  note?: string;
}

function nginxConf(dir: string, port: number, upstream: string, nofileFor: number): string {
  return `${nginxPrologue(dir, { workerConnections: 30_000, workerRlimitNofile: nofileFor })}  keepalive_timeout 3700s;
  upstream activesync {
    server ${upstream};
    keepalive 256;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://activesync;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 3660s;
      proxy_buffering off;
    }
  }
}
`;
}

const cleanup: Array<() => Promise<unknown>> = [];
async function main(): Promise<void> {
  const nofile = raiseOwnFileLimit(65_536);
  // A held Ping is two sockets in the proxy (client side, upstream side): a proxy process under an
  // open-file limit of N holds at most (N - reserve) / 2 of them. Steps above that are lowered and said.
  const feasible = Math.floor((nofile - 200) / 2 / 100) * 100;
  if (MAX_PINGS > feasible) {
    clampNote = `The hard open-file limit of this machine is ${nofile} and cannot be raised here (no CAP_SYS_RESOURCE), so the step of ${MAX_PINGS} held Pings was run with ${feasible} (each held Ping takes two descriptors in the proxy).`;
    process.stdout.write(`${clampNote}\n`);
    STEPS = [...new Set(STEPS.map((n) => Math.min(n, feasible)))];
    MAX_PINGS = feasible;
  }
  const dir = mkdtempSync(join(tmpdir(), 'webtier-bench-activesync-'));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  const upPort = await freePort();
  const upstream = new ChildNode({ name: 'upstream', script: join(here, 'activesync', 'upstream.mjs'), args: [String(upPort)], healthUrl: `http://127.0.0.1:${upPort}/healthz`, logFile: join(dir, 'upstream.log') });
  await upstream.start();
  cleanup.push(() => upstream.stop());

  const runs: ProxyRun[] = [];
  const proxies = values.proxies.split(',');
  for (const id of proxies) {
    const port = await freePort();
    let pid: number | undefined;
    let stop: () => Promise<void>;
    let name: string;
    if (id === 'gateway') {
      name = 'webtier gateway';
      const adminPort = await freePort();
      const configFile = join(dir, 'gateway.yaml');
      writeFileSync(
        configFile,
        stringify({
          listeners: [{ host: '127.0.0.1', port, maxConnections: 30_000 }],
          admin: { host: '127.0.0.1', port: adminPort },
          accessLog: true,
          routes: [{ match: { prefix: '/' }, cluster: 'activesync' }],
          clusters: { activesync: { endpoints: [{ url: `http://127.0.0.1:${upPort}` }] } },
        }),
      );
      const gw = new ChildNode({ name: 'gateway', script: gatewayCli(), args: ['--config', configFile], healthUrl: `http://127.0.0.1:${adminPort}/readyz`, logFile: join(dir, 'gateway.log') });
      await gw.start();
      pid = gw.pid;
      stop = () => gw.stop(5000);
    } else if (id === 'nginx') {
      name = 'nginx (1 worker)';
      if (!NGINX_BINARY) {
        runs.push({ id, name, steps: [], bytesPerHeldPing: null, note: 'nginx is not installed (Debian package nginx)' });
        continue;
      }
      const ndir = join(dir, 'nginx');
      mkdirSync(ndir, { recursive: true });
      const nginx = await runNginx(ndir, nginxConf(ndir, port, `127.0.0.1:${upPort}`, nofile), `http://127.0.0.1:${port}/healthz`, 'SIGTERM');
      // Measure the worker (the master only supervises).
      pid = childPids(nginx.pid!)[0] ?? nginx.pid;
      stop = () => nginx.stop();
    } else throw new Error(`--proxies: unknown proxy ${id} (gateway, nginx)`);

    const fleet = new PingFleet();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const steps: Step[] = [];
    try {
      for (const target of STEPS) {
        await fleet.grow(port, target);
        const deadline = Date.now() + 120_000;
        while ((await upstreamCount(upPort, '/held')) < target) {
          if (Date.now() > deadline) throw new Error(`${name}: the upstream holds ${await upstreamCount(upPort, '/held')} of ${target} Pings after 120 s`);
          await sleep(200);
        }
        await sleep(1000);
        const sync: number[] = [];
        const folderSync: number[] = [];
        let errors = 0;
        // Warm up (JIT, the measuring connection; not counted), then interleave the two commands.
        for (let i = 0; i < 200; i++) await timed(agent, port, i % 2 ? 'Sync' : 'FolderSync', i).catch(() => errors++);
        const before = procStat(pid!);
        const t0 = performance.now();
        for (let i = 0; i < SAMPLES; i++) {
          await timed(agent, port, 'Sync', i).then((ms) => sync.push(ms), () => errors++);
          await timed(agent, port, 'FolderSync', i).then((ms) => folderSync.push(ms), () => errors++);
        }
        const wallMs = performance.now() - t0;
        const after = procStat(pid!);
        sync.sort((a, b) => a - b);
        folderSync.sort((a, b) => a - b);
        const step: Step = {
          heldPings: target,
          syncP50Ms: round(percentile(sync, 50)),
          syncP99Ms: round(percentile(sync, 99)),
          folderSyncP50Ms: round(percentile(folderSync, 50)),
          folderSyncP99Ms: round(percentile(folderSync, 99)),
          rssMiB: round(after.rssBytes / 2 ** 20, 1),
          cpuPercent: round((((after.cpuTicks - before.cpuTicks) / CLK_TCK) * 1000 * 100) / wallMs, 1),
          errors,
        };
        steps.push(step);
        process.stdout.write(`${name}: ${JSON.stringify(step)}\n`);
      }
      if (fleet.answered > 0) process.stdout.write(`${name}: ${fleet.answered} held Pings were answered early (expected 0)\n`);
    } finally {
      agent.destroy();
      fleet.close();
      await upstreamCount(upPort, '/release');
      await stop();
      await sleep(500);
    }
    const first = steps[0];
    const last = steps.at(-1);
    const perPing = first && last && last.heldPings > first.heldPings ? Math.round(((last.rssMiB - first.rssMiB) * 2 ** 20) / (last.heldPings - first.heldPings)) : null;
    runs.push({ id, name, steps, bytesPerHeldPing: perPing });
  }
  report(runs, nofile);
}

function report(runs: ProxyRun[], nofile: number): void {
  const gw = runs.find((r) => r.id === 'gateway');
  const ng = runs.find((r) => r.id === 'nginx');
  const headers = ['proxy', 'held Pings', 'Sync p50 ms', 'Sync p99 ms', 'FolderSync p50 ms', 'FolderSync p99 ms', 'RSS MiB', 'CPU %', 'errors'];
  const rows = runs.flatMap((r) => r.steps.map((s) => [r.name, s.heldPings, s.syncP50Ms, s.syncP99Ms, s.folderSyncP50Ms, s.folderSyncP99Ms, s.rssMiB, s.cpuPercent, s.errors]));
  printTable(headers, rows, 'bench:activesync');
  const at = (r: ProxyRun | undefined, n: number) => r?.steps.find((s) => s.heldPings === n);
  const ratioLines: string[] = [];
  for (const n of STEPS) {
    const g = at(gw, n);
    const x = at(ng, n);
    if (g && x) ratioLines.push(`| ${n} | ${round(g.syncP99Ms / x.syncP99Ms)}× | ${round(g.rssMiB / x.rssMiB)}× |`);
  }
  const g0 = gw?.steps[0];
  const gMax = gw?.steps.at(-1);
  const syncTarget = g0 && gMax ? round(gMax.syncP99Ms / g0.syncP99Ms) : null;
  const memRatio = gw?.bytesPerHeldPing && ng?.bytesPerHeldPing ? round(gw.bytesPerHeldPing / ng.bytesPerHeldPing) : null;
  const svg = lineChart({
    title: 'Sync p99 latency while Pings are held',
    xLabel: 'held Pings',
    yLabel: 'Sync p99 (ms)',
    series: runs.filter((r) => r.steps.length).map((r) => ({ name: r.name, points: r.steps.map((s) => [s.heldPings, s.syncP99Ms] as const) })),
  });
  writeFileSync(join(RESULTS_DIR, 'activesync.svg'), svg);
  const rssSvg = lineChart({
    title: 'Proxy RSS while Pings are held',
    xLabel: 'held Pings',
    yLabel: 'RSS (MiB)',
    series: runs.filter((r) => r.steps.length).map((r) => ({ name: r.name, points: r.steps.map((s) => [s.heldPings, s.rssMiB] as const) })),
  });
  writeFileSync(join(RESULTS_DIR, 'activesync-rss.svg'), rssSvg);
  const md = [
    '# ActiveSync: held Pings and everything else',
    '',
    `Generated by \`npm run bench:activesync\` (benchmarks/activesync.ts). ${formatMachine()}; open-file limit ${nofile} (raised with prlimit for the benchmark and its children). The machine was shared with other work: compare within the table.`,
    '',
    `One ActiveSync-like upstream (holds every \`Cmd=Ping\`, answers the rest at once) behind each proxy in turn: the webtier gateway (webtier-gateway CLI, access log on, default \`connectionsPerEndpoint\` 256 and \`maxLongPolls\` 10,000) and nginx (1 worker, \`proxy_read_timeout 3660s\`, \`proxy_buffering off\`, keep-alive upstream). The held Pings ramp ${STEPS.join(' → ')} on raw sockets; at each step, after 200 warm-up requests, ${SAMPLES} Syncs and ${SAMPLES} FolderSyncs go one after another on one keep-alive connection. RSS and CPU are the proxy process's (nginx: its worker) from /proc, CPU over the latency measurement.`,
    '',
    markdownTable(headers, rows),
    '',
    '![Sync p99 while Pings are held](activesync.svg)',
    '',
    '![Proxy RSS while Pings are held](activesync-rss.svg)',
    '',
    '### Gateway / nginx',
    '',
    '| held Pings | Sync p99 | RSS |',
    '|---:|---:|---:|',
    ...ratioLines,
    '',
    `Memory per held Ping (RSS growth from ${STEPS[0]} to ${MAX_PINGS} held, both sockets and all state): gateway ${gw?.bytesPerHeldPing ?? 'n/a'} bytes, nginx ${ng?.bytesPerHeldPing ?? 'n/a'} bytes${memRatio ? ` (${memRatio}× nginx's; goal ≤ 3×)` : ''}.`,
    '',
    clampNote,
    '',
    syncTarget !== null ? `Gateway Sync p99 with ${MAX_PINGS} Pings held is ${syncTarget}× its p99 with ${STEPS[0]} held (goal ≤ 2×).` : '',
    ...runs.filter((r) => r.note).map((r) => `${r.name}: ${r.note}`),
  ].join('\n');
  const out = writeResults('activesync', { settings: { steps: STEPS, requestedSteps: REQUESTED_STEPS, clampNote, samples: SAMPLES, nofile }, runs, syncP99Growth: syncTarget, memoryRatioToNginx: memRatio }, md);
  process.stdout.write(`wrote ${out.json}, ${out.markdown}\n`);
}

main()
  .catch((err: Error) => {
    process.stderr.write(`bench:activesync failed: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    process.exit();
  });
