// Proxy throughput (issues 4 and 15): requests per second and p50/p99 latency through each proxy to
// the same Node upstream answering 1 KiB, with wrk (-t1 -c50), the targets measured in interleaved
// rounds, medians over the rounds:
//   the upstream directly; the Node limit (node:http + one undici Pool + pool.dispatch straight into
//   the response: what a Node proxy cannot go below); vanilla @fastify/http-proxy; webtier's gateway
//   (its CLI, full features: active health checks, metrics, access log at info level to a file);
//   nginx with 1 worker.
// Before those, head to head: the gateway and the Node limit under load at the same time, pinned to
// one core (and, as the control, the Node limit against a copy of itself), the ratio per round and
// its median: the steadier estimate of issue 15's target on a VM whose speed drifts between runs.
// Every server is its own child process, and so is the load generator (wrk, see gateway/wrk.ts for
// why not autocannon). Each proxy's CPU time per request is read from /proc around every round.
//
//   npm run bench:gateway
//   tsx benchmarks/gateway.ts --duration 5 --warmup 2 --connections 50 --rounds 3 --h2h-rounds 7 [--profile]
//
// --profile runs the Node targets under `node --cpu-prof` and writes where their time went to
// benchmarks/results/gateway-profile.md. Results: benchmarks/results/gateway.{json,md,svg}.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { freePort, type SupervisedProcess } from '@webtier/testkit';
import { renderGatewayChart } from './charts.js';
import { ChildNode } from './failover/ChildNode.js';
import { gatewayCli } from './failover/FailoverTopology.js';
import { summarizeProfile, type ProfileSummary } from './gateway/cpuProfile.js';
import { NGINX_BINARY, startNginx } from './gateway/nginx.js';
import { benchCertificate, H2LOAD_BINARY, h2load, nginxTlsServer } from './gateway/tls.js';
import { benchWorkers } from './gateway/workers.js';
import { canPin, cpuSeconds, median, pin, WRK_BINARY, wrkLoad, type LoadResult } from './gateway/wrk.js';
import { describeRevision, revision } from './failover/revision.js';
import { formatInteger, formatMachine, machineInfo, markdownTable, printTable, RESULTS_DIR, writeResults, type Cell } from './lib/report.js';

const here = dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    profile: { type: 'boolean' },
    rounds: { type: 'string' },
    'h2h-rounds': { type: 'string' },
    targets: { type: 'string' },
    workers: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('tsx benchmarks/gateway.ts [--duration 5 (s per target and round)] [--warmup 2] [--connections 50] [--rounds 3] [--h2h-rounds 7] [--targets direct,nodelimit,vanilla,gateway,nginx,https] [--profile] [--workers N]\n');
  process.exit(0);
}
const num = (name: string, text: string | undefined, fallback: number) => {
  const n = text === undefined ? fallback : Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`gateway: --${name} "${text}" must be a positive number\n`);
    process.exit(2);
  }
  return n;
};
const durationSec = num('duration', values.duration, 5);
const warmupSec = num('warmup', values.warmup, 2);
const connections = Math.round(num('connections', values.connections, 50));
const rounds = Math.round(num('rounds', values.rounds, 3));
const h2hRounds = Math.round(num('h2h-rounds', values['h2h-rounds'], 7));
const profile = values.profile ?? false;
if (!WRK_BINARY) {
  process.stderr.write('gateway: wrk is not installed (Debian package `wrk`; .ci/run installs it): it is the load generator of this benchmark\n');
  process.exit(2);
}
const load = wrkLoad(connections);
// 'https': the gateway and nginx over TLS with the same certificate (keep-alive, Connection: close, h2 via h2load).
const TARGET_IDS = ['direct', 'nodelimit', 'vanilla', 'gateway', 'nginx', 'https'] as const;
const selected = new Set((values.targets ?? TARGET_IDS.join(',')).split(',').map((s) => s.trim()));
for (const id of selected) {
  if (!TARGET_IDS.includes(id as never)) {
    process.stderr.write(`gateway: --targets: unknown target "${id}"; known: ${TARGET_IDS.join(', ')}\n`);
    process.exit(2);
  }
}

interface Target {
  id: (typeof TARGET_IDS)[number];
  name: string;
  url: string | undefined;
  note: string;
  /** The process whose CPU time is the target's (nginx: its master, whose worker is counted with it). */
  pid: () => number | undefined;
}
interface TargetResult {
  id: string;
  name: string;
  note: string;
  /** Median over the rounds. */
  reqPerSec: number | null;
  /** Medians over the rounds of each round's p50/p99 (wrk's latency distribution). */
  p50Ms: number | null;
  p99Ms: number | null;
  /** CPU time (user + system) of the proxy process per request, median over the rounds; null for the upstream itself. */
  cpuUsPerRequest: number | null;
  requests: number;
  non2xx: number;
  errors: number;
  /** req/s of each round. */
  rounds: number[];
  p99Rounds: number[];
}

/** One head-to-head pair: B's req/s over A's, both loaded at once, per round and the median. */
interface HeadToHeadResult {
  id: string;
  label: string;
  /** Median over the rounds of B / A. */
  ratio: number | null;
  ratios: number[];
  aReqPerSec: number;
  bReqPerSec: number;
  aCpuUsPerRequest: number | null;
  bCpuUsPerRequest: number | null;
  failed: number;
}

/** The gateway's config: one cluster, the production feature set on (its stdout, pino, goes to a file). */
function gatewayConfig(port: number, adminPort: number, upstream: string, tls?: { port: number; certFile: string; keyFile: string }, accessLog = true): Record<string, unknown> {
  return {
    listeners: [{ host: '127.0.0.1', port }, ...(tls ? [{ host: '127.0.0.1', port: tls.port, tls: { certFile: tls.certFile, keyFile: tls.keyFile }, http2: true }] : [])],
    admin: { host: '127.0.0.1', port: adminPort },
    accessLog,
    logLevel: 'info',
    routes: [{ match: { prefix: '/' }, cluster: 'upstream' }],
    clusters: {
      upstream: {
        lbPolicy: 'round_robin',
        endpoints: [{ url: upstream }],
        healthCheck: { path: '/healthz', intervalMs: 1000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 2 },
      },
    },
  };
}

// --workers N: only webtier's gateway, 1 worker vs N (benchmarks/gateway/workers.ts).
if (values.workers !== undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'webtier-gateway-workers-bench-'));
  try {
    await benchWorkers({ workers: Math.round(num('workers', values.workers, 2)), durationSec, warmupSec, rounds, connections, dir, load });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

const machine = machineInfo();
const measured = revision(['packages/gateway']);
const t0 = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'webtier-gateway-bench-'));
const children: ChildNode[] = [];
let nginx: SupervisedProcess | undefined;
console.log(`Proxy throughput on ${formatMachine(machine)}`);
console.log(`wrk -t1 -c${connections}, ${warmupSec} s warm-up, then ${rounds} interleaved rounds of ${durationSec} s per target, 1 KiB responses`);

const targets: Target[] = [];
const profiles: Array<{ name: string; summary: ProfileSummary; requests: number }> = [];
try {
  const upstreamPort = await freePort();
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
  const upstream = new ChildNode({ name: 'upstream', script: join(here, 'gateway', 'upstream.mjs'), args: ['--port', String(upstreamPort)], healthUrl: `${upstreamUrl}/healthz`, logFile: join(dir, 'upstream.log') });
  children.push(upstream);
  await upstream.start();
  targets.push({ id: 'direct', name: 'upstream directly', url: upstreamUrl, note: 'node:http, no proxy', pid: () => undefined });

  const profileDir = (name: string) => join(dir, `profile-${name}`);
  const profileArgs = (name: string) => (profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir(name)] : []);
  // A Node proxy of the benchmark's own (the Node limit, the vanilla proxy) in its own process.
  const nodeProxy = async (id: (typeof TARGET_IDS)[number], name: string, script: string, note: string): Promise<ChildNode> => {
    const port = await freePort();
    const child = new ChildNode({
      name: id,
      script,
      args: ['--port', String(port), '--upstream', upstreamUrl],
      healthUrl: `http://127.0.0.1:${port}/healthz`,
      logFile: join(dir, `${id}.log`),
      nodeArgs: profileArgs(id),
    });
    children.push(child);
    await child.start();
    targets.push({ id, name, url: `http://127.0.0.1:${port}`, note, pid: () => child.pid });
    return child;
  };
  const nodeLimit = await nodeProxy('nodelimit', 'Node limit (bare pass-through)', join(here, 'gateway', 'nodeLimit.mjs'), 'node:http + one undici Pool, pool.dispatch into the response; no routing, no logging');
  // A second, identical copy of the Node limit: the head-to-head control (see headToHead below).
  const controlPort = await freePort();
  const control = new ChildNode({ name: 'nodelimit-copy', script: join(here, 'gateway', 'nodeLimit.mjs'), args: ['--port', String(controlPort), '--upstream', upstreamUrl], healthUrl: `http://127.0.0.1:${controlPort}/healthz`, logFile: join(dir, 'nodelimit-copy.log') });
  // The Node limit plus the headers the gateway adds for every request (X-Forwarded-*, X-Request-Id).
  const forwardingPort = await freePort();
  const forwarding = new ChildNode({ name: 'nodelimit-forwarding', script: join(here, 'gateway', 'nodeLimit.mjs'), args: ['--port', String(forwardingPort), '--upstream', upstreamUrl, '--forwarding-headers'], healthUrl: `http://127.0.0.1:${forwardingPort}/healthz`, logFile: join(dir, 'nodelimit-forwarding.log') });
  const headToHeadWanted = selected.has('nodelimit') && selected.has('gateway') && !profile;
  if (headToHeadWanted) {
    children.push(control, forwarding);
    await control.start();
    await forwarding.start();
  }
  const vanilla = await nodeProxy('vanilla', 'vanilla @fastify/http-proxy', join(here, 'failover', 'vanillaProxy.mjs'), 'fastify 5 + @fastify/http-proxy 11, logger off');

  const gatewayPort = await freePort();
  const adminPort = await freePort();
  const https = selected.has('https');
  const cert = https ? benchCertificate(join(dir, 'tls')) : undefined;
  const gatewayTlsPort = await freePort();
  const nginxTlsPort = await freePort();
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(configFile, stringify(gatewayConfig(gatewayPort, adminPort, upstreamUrl, cert ? { port: gatewayTlsPort, ...cert } : undefined)));
  const gateway = new ChildNode({
    name: 'gateway',
    script: gatewayCli(),
    args: ['--config', configFile],
    healthUrl: `http://127.0.0.1:${gatewayPort}/healthz`,
    logFile: join(dir, 'gateway.log'),
    nodeArgs: profileArgs('gateway'),
  });
  try {
    await gateway.start();
    children.push(gateway);
    targets.push({ id: 'gateway', name: "webtier's gateway", url: `http://127.0.0.1:${gatewayPort}`, note: 'health checks, metrics, access log (info) to a file', pid: () => gateway.pid });
  } catch (err) {
    console.error(`webtier's gateway did not start: ${(err as Error).message.split('\n').slice(0, 6).join('\n')}`);
    targets.push({ id: 'gateway', name: "webtier's gateway", url: undefined, note: 'did not start (see the run output)', pid: () => undefined });
  }

  // The same gateway with its access log off, head to head only: what the log costs, for operators
  // who weigh it (and for issue 15's note: where the distance to the Node limit goes).
  const noLogPort = await freePort();
  const noLogConfig = join(dir, 'gateway-nolog.yaml');
  writeFileSync(noLogConfig, stringify(gatewayConfig(noLogPort, await freePort(), upstreamUrl, undefined, false)));
  const noLog = new ChildNode({ name: 'gateway-nolog', script: gatewayCli(), args: ['--config', noLogConfig], healthUrl: `http://127.0.0.1:${noLogPort}/healthz`, logFile: join(dir, 'gateway-nolog.log') });
  if (headToHeadWanted && targets.some((t) => t.id === 'gateway' && t.url)) {
    children.push(noLog);
    await noLog.start();
  }

  if (NGINX_BINARY) {
    const nginxPort = await freePort();
    nginx = await startNginx(join(dir, 'nginx'), nginxPort, `127.0.0.1:${upstreamPort}`, cert ? nginxTlsServer(nginxTlsPort, cert) : '');
    const master = nginx;
    targets.push({ id: 'nginx', name: 'nginx (1 worker)', url: `http://127.0.0.1:${nginxPort}`, note: `${NGINX_BINARY}, keep-alive upstream, access log to a file`, pid: () => master.pid });
  } else targets.push({ id: 'nginx', name: 'nginx (1 worker)', url: undefined, note: 'nginx not installed', pid: () => undefined });

  // Head to head, before anything else has served load (a Node process that served millions of
  // requests was measured up to 15 % slower than a fresh copy of itself): two proxies under load at
  // the same time, each from its own wrk. When the machine has two cores, both proxies are pinned to
  // core 1 (every thread: CFS then splits that core between them, so req/s follow CPU per request)
  // and wrk and the upstream to core 0 (which has room to spare at these rates). Unpinned, the
  // scheduler's placement favours one process for seconds at a time: the same comparison gave 0.86×
  // and 0.98× in two runs, while two fresh copies of one proxy, pinned, agree within 2 %. The control
  // pair is the Node limit against an identical copy of itself.
  const headToHead: HeadToHeadResult[] = [];
  const gatewayTarget = targets.find((t) => t.id === 'gateway' && t.url);
  const limitTarget = targets.find((t) => t.id === 'nodelimit' && t.url);
  const pinned = canPin();
  if (headToHeadWanted && gatewayTarget && limitTarget) {
    const controlTarget = { url: `http://127.0.0.1:${controlPort}`, pid: () => control.pid };
    const noLogTarget = { url: `http://127.0.0.1:${noLogPort}`, pid: () => noLog.pid };
    const forwardingTarget = { url: `http://127.0.0.1:${forwardingPort}`, pid: () => forwarding.pid };
    const h2hLoad = pinned ? wrkLoad(connections, 1, '0') : load;
    const everyCore = `0-${availableParallelism() - 1}`;
    const h2hProcesses = [limitTarget.pid(), gatewayTarget.pid(), controlTarget.pid(), noLogTarget.pid(), forwardingTarget.pid()];
    try {
      if (pinned) {
        for (const pid of h2hProcesses) pin(pid, '1');
        pin(upstream.pid, '0');
      }
      for (const t of [limitTarget, gatewayTarget, controlTarget, noLogTarget, forwardingTarget]) await h2hLoad(t.url!, warmupSec);
      const pairs = [
        { id: 'gateway', label: "webtier's gateway / Node limit", a: limitTarget, b: gatewayTarget },
        { id: 'gateway-nolog', label: "webtier's gateway, access log off / Node limit", a: limitTarget, b: noLogTarget },
        { id: 'forwarding', label: 'the Node limit adding the forwarding headers / Node limit', a: limitTarget, b: forwardingTarget },
        { id: 'control', label: 'control: a second copy of the Node limit / Node limit', a: limitTarget, b: controlTarget },
      ];
      const acc = new Map<string, { ratios: number[]; a: LoadResult[]; b: LoadResult[]; aCpu: number[]; bCpu: number[] }>();
      for (let round = 0; round < h2hRounds; round++) {
        for (const pair of pairs) {
          const a0 = cpuSeconds(pair.a.pid());
          const b0 = cpuSeconds(pair.b.pid());
          // Which wrk is spawned first alternates from round to round.
          const [ra, rb] = round % 2 === 0 ? await Promise.all([h2hLoad(pair.a.url!, durationSec), h2hLoad(pair.b.url!, durationSec)]) : ((await Promise.all([h2hLoad(pair.b.url!, durationSec), h2hLoad(pair.a.url!, durationSec)])).reverse() as [LoadResult, LoadResult]);
          const aCpu = cpuSeconds(pair.a.pid()) - a0;
          const bCpu = cpuSeconds(pair.b.pid()) - b0;
          const x = acc.get(pair.id) ?? { ratios: [], a: [], b: [], aCpu: [], bCpu: [] };
          x.a.push(ra);
          x.b.push(rb);
          if (ra.reqPerSec > 0) x.ratios.push(rb.reqPerSec / ra.reqPerSec);
          if (ra.requests > 0) x.aCpu.push((aCpu * 1e6) / ra.requests);
          if (rb.requests > 0) x.bCpu.push((bCpu * 1e6) / rb.requests);
          acc.set(pair.id, x);
        }
        console.log(`  head to head ${round + 1}/${h2hRounds}${pinned ? ' (pinned)' : ''}: ${pairs.map((p) => `${p.id} ${acc.get(p.id)!.ratios.at(-1)?.toFixed(3) ?? 'n/a'}×`).join(', ')}`);
      }
      for (const pair of pairs) {
        const x = acc.get(pair.id)!;
        const m = median(x.ratios);
        const cpuA = median(x.aCpu);
        const cpuB = median(x.bCpu);
        headToHead.push({
          id: pair.id,
          label: pair.label,
          ratio: m === null ? null : Math.round(m * 1000) / 1000,
          ratios: x.ratios.map((r) => Math.round(r * 1000) / 1000),
          aReqPerSec: Math.round(median(x.a.map((r) => r.reqPerSec)) ?? 0),
          bReqPerSec: Math.round(median(x.b.map((r) => r.reqPerSec)) ?? 0),
          aCpuUsPerRequest: cpuA === null ? null : Math.round(cpuA * 10) / 10,
          bCpuUsPerRequest: cpuB === null ? null : Math.round(cpuB * 10) / 10,
          failed: [...x.a, ...x.b].reduce((n, r) => n + r.errors + r.non2xx, 0),
        });
      }
    } finally {
      // The rest of the benchmark runs unpinned, as before; the copy is not needed any more.
      if (pinned) for (const pid of [...h2hProcesses, upstream.pid]) if (pid !== undefined) pin(pid, everyCore);
      await control.stop();
      await noLog.stop();
      await forwarding.stop();
    }
  }

  const results: TargetResult[] = [];
  // Rounds interleave the targets (A B C D A B C D): a neighbour's burst of work on this shared
  // machine then slows every target alike instead of the one that happened to be running.
  const measuredTargets = targets.filter((x) => x.id !== 'https' && selected.has(x.id) && x.url);
  const served = new Map<string, number>();
  for (const t of measuredTargets) served.set(t.id, (await load(t.url!, warmupSec)).requests);
  const acc = new Map<string, { runs: LoadResult[]; cpu: number[] }>();
  for (let round = 0; round < rounds; round++) {
    for (const t of measuredTargets) {
      const cpu0 = cpuSeconds(t.pid());
      const r = await load(t.url!, durationSec);
      const cpu = cpuSeconds(t.pid()) - cpu0;
      const a = acc.get(t.id) ?? { runs: [], cpu: [] };
      a.runs.push(r);
      if (t.pid() !== undefined && r.requests > 0) a.cpu.push((cpu * 1e6) / r.requests);
      served.set(t.id, (served.get(t.id) ?? 0) + r.requests);
      acc.set(t.id, a);
    }
    console.log(`  round ${round + 1}/${rounds}: ${measuredTargets.map((t) => `${t.id} ${formatInteger(acc.get(t.id)!.runs.at(-1)!.reqPerSec)}`).join(', ')} req/s (load ${machineInfo().loadAverage1m})`);
  }
  const round2 = (n: number | null) => (n === null ? null : Math.round(n * 100) / 100);
  for (const t of targets.filter((x) => selected.has(x.id) && x.id !== 'https')) {
    const a = acc.get(t.id);
    if (!t.url || !a) {
      results.push({ id: t.id, name: t.name, note: t.note, reqPerSec: null, p50Ms: null, p99Ms: null, cpuUsPerRequest: null, requests: 0, non2xx: 0, errors: 0, rounds: [], p99Rounds: [] });
      continue;
    }
    const sum = (f: (r: LoadResult) => number) => a.runs.reduce((n, r) => n + f(r), 0);
    const cpu = median(a.cpu);
    const r: TargetResult = {
      id: t.id,
      name: t.name,
      note: t.note,
      reqPerSec: Math.round(median(a.runs.map((x) => x.reqPerSec))!),
      p50Ms: round2(median(a.runs.flatMap((x) => (x.p50Ms === null ? [] : [x.p50Ms])))),
      p99Ms: round2(median(a.runs.flatMap((x) => (x.p99Ms === null ? [] : [x.p99Ms])))),
      cpuUsPerRequest: cpu === null ? null : Math.round(cpu * 10) / 10,
      requests: sum((x) => x.requests),
      non2xx: sum((x) => x.non2xx),
      errors: sum((x) => x.errors),
      rounds: a.runs.map((x) => x.reqPerSec),
      p99Rounds: a.runs.map((x) => x.p99Ms ?? NaN),
    };
    results.push(r);
    console.log(`  ${t.name.padEnd(30)} ${formatInteger(r.reqPerSec!).padStart(7)} req/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  CPU ${r.cpuUsPerRequest ?? '-'} µs/req  non-2xx ${r.non2xx}  errors ${r.errors}`);
  }

  // HTTPS: the gateway's TLS listener (h2 + http/1.1) vs nginx's ssl http2 server, same certificate.
  const httpsRows: Cell[][] = [];
  let httpsVerdict = '';
  const gatewayUp = targets.some((t) => t.id === 'gateway' && t.url);
  if (https && gatewayUp && nginx) {
    const tlsTargets = [
      { id: 'gateway', name: "webtier's gateway (TLS, http2: true)", url: `https://127.0.0.1:${gatewayTlsPort}` },
      { id: 'nginx', name: 'nginx (1 worker, ssl http2)', url: `https://127.0.0.1:${nginxTlsPort}` },
    ];
    const modes = [
      { id: 'keepalive', headers: undefined },
      { id: 'close', headers: { connection: 'close' } },
    ];
    const tacc = new Map<string, LoadResult[]>();
    for (const t of tlsTargets) await load(t.url, warmupSec);
    for (let round = 0; round < rounds; round++) {
      for (const m of modes) {
        for (const t of tlsTargets) {
          const r = await load(t.url, durationSec, m.headers);
          const key = `${t.id}/${m.id}`;
          tacc.set(key, [...(tacc.get(key) ?? []), r]);
        }
      }
      console.log(`  https round ${round + 1}/${rounds} done`);
    }
    const h2 = new Map<string, number | undefined>();
    for (const t of tlsTargets) h2.set(t.id, H2LOAD_BINARY ? h2load(`${t.url}/`, Math.max(2, durationSec), connections, 10)?.reqPerSec : undefined);
    const rate = (key: string) => Math.round(median(tacc.get(key)!.map((r) => r.reqPerSec))!);
    const p99 = (key: string) => round2(median(tacc.get(key)!.flatMap((r) => (r.p99Ms === null ? [] : [r.p99Ms]))));
    const failed = (key: string) => tacc.get(key)!.reduce((n, r) => n + r.errors + r.non2xx, 0);
    for (const t of tlsTargets) {
      const h = h2.get(t.id);
      httpsRows.push([t.name, formatInteger(rate(`${t.id}/keepalive`)), p99(`${t.id}/keepalive`) ?? '', formatInteger(rate(`${t.id}/close`)), h === undefined ? (H2LOAD_BINARY ? 'failed' : 'h2load not installed') : formatInteger(h), failed(`${t.id}/keepalive`) + failed(`${t.id}/close`)]);
    }
    const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}×` : 'n/a');
    httpsVerdict = `HTTPS, gateway / nginx: keep-alive ${ratio(rate('gateway/keepalive'), rate('nginx/keepalive'))}, Connection: close (a handshake per request) ${ratio(rate('gateway/close'), rate('nginx/close'))}, h2 (h2load, ${connections} clients × 10 streams) ${ratio(h2.get('gateway'), h2.get('nginx'))}.`;
    printTable(['target', 'keep-alive req/s', 'p99 ms', 'Connection: close req/s', 'h2 req/s (h2load)', 'errors'], httpsRows, 'HTTPS (same certificate, P-256)');
    console.log(`\n${httpsVerdict}`);
  } else if (https) {
    httpsVerdict = `HTTPS rounds not run: ${gatewayUp ? '' : 'the gateway did not start; '}${nginx ? '' : 'nginx is not installed'}`;
    console.log(httpsVerdict);
  }

  if (profile) {
    const profiled = [
      [nodeLimit, 'Node limit (bare pass-through)', 'nodelimit'],
      [vanilla, 'vanilla @fastify/http-proxy', 'vanilla'],
      [gateway, "webtier's gateway", 'gateway'],
    ] as const;
    for (const [node, name, id] of profiled) {
      await node.stop(10_000);
      let files: string[] = [];
      try {
        files = readdirSync(profileDir(node.name)).filter((f) => f.endsWith('.cpuprofile'));
      } catch {
        // not started
      }
      if (files[0]) profiles.push({ name, summary: summarizeProfile(join(profileDir(node.name), files[0])), requests: served.get(id) ?? 0 });
      else console.error(`no .cpuprofile from ${name}: it did not exit cleanly on SIGTERM`);
    }
  }

  const byId = (id: string) => results.find((r) => r.id === id);
  const vanillaResult = byId('vanilla');
  const limitResult = byId('nodelimit');
  const gatewayResult = byId('gateway');
  const ratioTo = (r: TargetResult, base: TargetResult | undefined) => (base?.reqPerSec && r.reqPerSec ? `${(r.reqPerSec / base.reqPerSec).toFixed(2)}×` : 'n/a');
  const headers = ['target', 'req/s', 'p50 ms', 'p99 ms', 'vs Node limit', 'vs vanilla proxy', 'p99 Δ vs vanilla (ms)', 'CPU µs/request', 'non-2xx', 'errors', 'req/s per round', 'setup'];
  const rows: Cell[][] = results.map((r) =>
    r.reqPerSec === null
      ? [r.name, r.note, '', '', '', '', '', '', '', '', '', '']
      : [
          r.name,
          formatInteger(r.reqPerSec),
          r.p50Ms ?? '',
          r.p99Ms ?? '',
          ratioTo(r, limitResult),
          ratioTo(r, vanillaResult),
          vanillaResult?.p99Ms != null && r.p99Ms != null ? (r.p99Ms - vanillaResult.p99Ms >= 0 ? '+' : '') + (r.p99Ms - vanillaResult.p99Ms).toFixed(2) : 'n/a',
          r.cpuUsPerRequest ?? '',
          r.non2xx,
          r.errors,
          r.rounds.map(formatInteger).join(' / '),
          r.note,
        ],
  );
  printTable(headers, rows, 'Proxy throughput');
  const h2hHeaders = ['pair (B / A)', 'median ratio', 'ratio per round', 'A req/s', 'B req/s', 'A CPU µs/request', 'B CPU µs/request', 'failed'];
  const h2hRows: Cell[][] = headToHead.map((h) => [h.label, h.ratio === null ? 'n/a' : `${h.ratio.toFixed(3)}×`, h.ratios.map((r) => r.toFixed(3)).join(' / '), formatInteger(h.aReqPerSec), formatInteger(h.bReqPerSec), h.aCpuUsPerRequest ?? '', h.bCpuUsPerRequest ?? '', h.failed]);
  if (headToHead.length > 0) printTable(h2hHeaders, h2hRows, 'Head to head (both under load at once)');
  const verdicts: string[] = [];
  if (gatewayResult?.reqPerSec && limitResult?.reqPerSec && vanillaResult?.p99Ms != null && gatewayResult.p99Ms != null) {
    const ratio = gatewayResult.reqPerSec / limitResult.reqPerSec;
    const cpuRatio = gatewayResult.cpuUsPerRequest && limitResult.cpuUsPerRequest ? limitResult.cpuUsPerRequest / gatewayResult.cpuUsPerRequest : undefined;
    const h2h = headToHead.find((h) => h.id === 'gateway');
    const h2hControl = headToHead.find((h) => h.id === 'control');
    const h2hNoLog = headToHead.find((h) => h.id === 'gateway-nolog');
    const h2hForwarding = headToHead.find((h) => h.id === 'forwarding');
    // Head to head is the steadier estimate when it ran; the interleaved ratio is given beside it.
    const decisive = h2h?.ratio ?? ratio;
    verdicts.push(
      `Target (issue 15): the gateway at ≥ 0.95× the Node limit's req/s, its p99 no worse than the vanilla proxy's. Measured: ` +
        (h2h?.ratio != null ? `${h2h.ratio.toFixed(2)}× head to head (control ${h2hControl?.ratio?.toFixed(2) ?? 'n/a'}×; the same gateway with its access log off ${h2hNoLog?.ratio?.toFixed(2) ?? 'n/a'}×; the Node limit itself, adding the forwarding headers the gateway adds, ${h2hForwarding?.ratio?.toFixed(2) ?? 'n/a'}×), ${ratio.toFixed(2)}× in the interleaved rounds` : `${ratio.toFixed(2)}×`) +
        ` (${decisive >= 0.95 ? 'met' : 'not met'}), p99 ${gatewayResult.p99Ms} ms vs ${vanillaResult.p99Ms} ms (${gatewayResult.p99Ms <= vanillaResult.p99Ms ? 'met' : 'not met'})` +
        (cpuRatio ? `; by CPU per request in the interleaved rounds the gateway does ${cpuRatio.toFixed(2)}× the Node limit's work rate (${gatewayResult.cpuUsPerRequest} vs ${limitResult.cpuUsPerRequest} µs).` : '.'),
    );
  }
  if (gatewayResult?.reqPerSec && vanillaResult?.reqPerSec && gatewayResult.p99Ms != null && vanillaResult.p99Ms != null) {
    const ratio = gatewayResult.reqPerSec / vanillaResult.reqPerSec;
    const delta = gatewayResult.p99Ms - vanillaResult.p99Ms;
    verdicts.push(`Target (issue 4): the gateway at ≥ 1.3× the vanilla proxy's req/s and its p99 within 2 ms of the vanilla proxy's. Measured: ${ratio.toFixed(2)}× (${ratio >= 1.3 ? 'met' : 'not met'}), p99 ${delta >= 0 ? '+' : ''}${delta.toFixed(2)} ms (${delta <= 2 ? 'met' : 'not met'}).`);
  }
  const verdict = verdicts.length > 0 ? verdicts.join('\n\n') : "webtier's gateway was not measured.";
  console.log(`\n${verdict}`);
  const loadAfter = machineInfo().loadAverage1m;

  const totalSec = Math.round((Date.now() - t0) / 1000);
  const md = [
    '# Proxy throughput benchmark',
    '',
    `Produced by \`npm run bench:gateway\` (benchmarks/gateway.ts) on ${formatMachine(machine)} (load ${loadAfter} at the end), ${new Date().toISOString()}, in ${totalSec} s; gateway at ${describeRevision(measured)}.`,
    '',
    `wrk -t1 -c${connections} --latency (its own process: C, one thread, much less CPU per request than any proxy here, so the proxy and not the load generator runs out of CPU), ${warmupSec} s warm-up per target, then ${rounds} interleaved rounds of ${durationSec} s per target (every target once per round, so that other work on the machine hits all alike). req/s, p50 and p99 are the medians over the rounds of each round's value. Every target proxies to the same Node upstream (node:http answering 1 KiB, its own process); each proxy is its own process. On a 2-core machine the load generator, the proxy and the upstream share the cores, so these are relative numbers. "CPU µs/request" is the proxy process's user + system time (from /proc, nginx's worker included) over the requests of a round, median over the rounds: it does not depend on how the cores were shared and is the steadier number on a busy machine. The Node limit is node:http + one undici Pool + \`pool.dispatch\` straight into the response (benchmarks/gateway/nodeLimit.mjs): no routing, no logging, no retries.`,
    '',
    markdownTable(headers, rows),
    '',
    verdict,
    '',
    '![requests per second per target](gateway.svg)',
    '',
    ...(headToHead.length > 0
      ? [
          '## Head to head',
          '',
          `Before the interleaved rounds (while every proxy is fresh: a Node process that had served millions of requests was measured up to 15 % slower than a new copy of itself), two proxies under load at the same time, each from its own wrk (-t1 -c${connections}), ${h2hRounds} rounds of ${durationSec} s (which wrk starts first alternates), every pair in every round; the ratio is B's req/s over A's in each round, and its median. ${pinned ? 'Both proxies ran on core 1 (every thread, so CFS split that core between them and req/s follow CPU per request), wrk and the upstream on core 0.' : 'Not pinned (taskset or a second core missing): read the control row for how far the method is off.'} In the interleaved rounds, runs seconds apart are compared, and unpinned the scheduler's placement favours one process for seconds at a time (the same comparison gave 0.86× and 0.98× in two scratch runs); pinned, two fresh copies of one proxy agree within about 2 %. The req/s here are those of a shared core, so only the ratios mean something. The control pair is the Node limit against a second, identical copy of itself: how far from 1.00× the method itself lands. The access-log-off pair is a second gateway with the same config but \`accessLog: false\`: what the access line costs. The forwarding-headers pair is the Node limit adding, as the gateway does for a client it does not trust, X-Forwarded-For, -Proto, -Host, -Port and a new X-Request-Id to each upstream request (\`nodeLimit.mjs --forwarding-headers\`): what those headers alone cost the least a Node proxy can do. Two proxies sharing a core also share its caches and wake-ups, so a difference in CPU per request can show a little larger here than it would alone.`,
          '',
          markdownTable(h2hHeaders, h2hRows),
          '',
        ]
      : []),
    ...(httpsRows.length > 0
      ? [
          '## HTTPS',
          '',
          `The gateway's TLS listener (\`http2: true\`: h2 through ALPN, http/1.1 for the rest) and nginx (\`listen ... ssl http2\`, session cache and tickets off) with the same self-signed P-256 certificate made by openssl for this run, both proxying to the same upstream over plain HTTP. wrk: ${connections} keep-alive connections, then the same with \`Connection: close\` (every request pays a full handshake), interleaved over ${rounds} rounds, medians; h2: \`h2load -c ${connections} -m 10\` when nghttp2-client is installed.`,
          '',
          markdownTable(['target', 'keep-alive req/s', 'p99 ms', 'Connection: close req/s', 'h2 req/s (h2load)', 'errors'], httpsRows),
          '',
          httpsVerdict,
          '',
        ]
      : []),
  ].join('\n');
  const partial = TARGET_IDS.some((id) => !selected.has(id));
  if (partial) console.log('\n--targets selects a subset: results/gateway.* left as they were');
  const files = partial ? undefined : writeResults('gateway', { settings: { connections, durationSec, warmupSec, rounds, headToHeadRounds: h2hRounds, headToHeadPinned: pinned, responseBytes: 1024, loadGenerator: 'wrk -t1', loadAverageAtEnd: loadAfter }, revision: measured, targets: results, headToHead, verdict, https: { rows: httpsRows, verdict: httpsVerdict } }, md);
  if (files) {
    console.log(`\nwrote ${files.json} and ${files.markdown}`);
    for (const f of renderGatewayChart()) console.log(`wrote ${f}`);
  }
  if (profiles.length > 0) {
    const lines = (l: ProfileSummary['selfTop']) => l.map((x) => [x.name, x.where, x.ms, `${x.percent}%`] as Cell[]);
    const md: string[] = [
      '# Where the proxies spend their time',
      '',
      `\`tsx benchmarks/gateway.ts --profile${values.targets ? ` --targets ${values.targets}` : ''}\` on ${formatMachine(machine)}, ${new Date().toISOString()}, gateway at ${describeRevision(measured)}: each Node proxy ran under \`node --cpu-prof\` from start to SIGTERM. Shares are of the CPU time the proxy used (idle samples left out); "CPU per request" divides it by the requests the proxy served (warm-up included). The profiler's sampling adds its own cost; compare the proxies with each other, not with the unprofiled numbers.`,
      '',
    ];
    for (const { name, summary: p, requests } of profiles) {
      const perRequest = requests ? `, ${Math.round((p.activeMs * 1000) / requests)} µs of CPU per request (${formatInteger(requests)} requests)` : '';
      console.log(`\n${name}: ${formatInteger(p.activeMs)} ms of CPU${perRequest}`);
      md.push(`## ${name}: ${formatInteger(p.activeMs)} ms of CPU${perRequest}`, '', '### Self time by package', '', markdownTable(['package', '', 'ms', 'share'], lines(p.byPackage)), '');
      md.push('### Self time by function', '', markdownTable(['function', 'where', 'ms', 'share'], lines(p.selfTop)), '');
      md.push('### Inclusive time by function', '', markdownTable(['function', 'where', 'ms', 'share'], lines(p.inclusiveTop)), '');
      printTable(['package', '', 'ms', 'share'], lines(p.byPackage), `${name}: self time by package`);
      printTable(['function', 'where', 'ms', 'share'], lines(p.selfTop), `${name}: self time by function`);
      printTable(['function', 'where', 'ms', 'share'], lines(p.inclusiveTop), `${name}: inclusive time by function`);
    }
    // Where the gateway's extra time per request goes: self time per file, per request served, the
    // gateway's minus the Node limit's. Syscalls (writev, writeLatin1String) are native rows: their
    // cost moves with how the cores were shared, so read small differences there as noise.
    const limitProfile = profiles.find((x) => x.name.startsWith('Node limit'));
    const gatewayProfile = profiles.find((x) => x.name === "webtier's gateway");
    if (limitProfile?.requests && gatewayProfile?.requests) {
      const perRequest = (x: typeof limitProfile) => new Map(x.summary.byFile.map((l) => [l.name, (l.ms * 1000) / x.requests]));
      const a = perRequest(limitProfile);
      const b = perRequest(gatewayProfile);
      const files = new Set([...a.keys(), ...b.keys()]);
      const diff = [...files].map((f) => ({ file: f, limit: a.get(f) ?? 0, gateway: b.get(f) ?? 0 })).sort((x, y) => y.gateway - y.limit - (x.gateway - x.limit));
      const sum = (f: (d: (typeof diff)[number]) => number) => diff.reduce((n, d) => n + f(d), 0);
      const fmt = (n: number) => n.toFixed(2);
      const signed = (n: number) => `${n >= 0 ? '+' : ''}${fmt(n)}`;
      const rowsDiff: Cell[][] = diff.slice(0, 25).map((d) => [d.file, fmt(d.limit), fmt(d.gateway), signed(d.gateway - d.limit)]);
      rowsDiff.push(['all files', fmt(sum((d) => d.limit)), fmt(sum((d) => d.gateway)), signed(sum((d) => d.gateway - d.limit))]);
      const head = ['file (self time)', 'Node limit µs/request', 'gateway µs/request', 'gateway − Node limit'];
      md.splice(4, 0, '## Where the gateway spends more than the Node limit', '', 'Self time per source file (node internals per module, native code such as the writev syscall by name), per request each proxy served, the 25 files where the gateway spends the most more. Native rows move with how the cores were shared from one run to the next: read a difference of a few tenths there as noise.', '', markdownTable(head, rowsDiff), '');
      printTable(head, rowsDiff, 'gateway minus Node limit, self time per request');
    }
    writeFileSync(join(RESULTS_DIR, 'gateway-profile.md'), md.join('\n'));
    console.log('wrote benchmarks/results/gateway-profile.md');
  }
  console.log(`(${totalSec} s)`);
} finally {
  await Promise.allSettled(children.map((c) => c.stop()));
  await nginx?.stop();
  rmSync(dir, { recursive: true, force: true });
}
