// Proxy throughput (issue 4): requests per second and p50/p99 latency through each proxy to the
// same Node upstream answering 1 KiB, with autocannon, the targets measured in interleaved rounds:
//   the upstream directly, vanilla @fastify/http-proxy, webtier's gateway (its CLI, full features:
//   active health checks, metrics, access log at info level to a file), nginx with 1 worker.
// Every server is its own child process; the load generator is this process.
//
//   npm run bench:gateway
//   tsx benchmarks/gateway.ts --duration 8 --warmup 2 --connections 50 --rounds 2 [--profile]
//
// --profile runs the gateway and the vanilla proxy under `node --cpu-prof` and writes where their
// time went to benchmarks/results/gateway-profile.md. Results: benchmarks/results/gateway.{json,md,svg}.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
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
import { describeRevision, revision } from './failover/revision.js';
import { formatInteger, formatMachine, machineInfo, markdownTable, printTable, RESULTS_DIR, writeResults, type Cell } from './lib/report.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => PromiseLike<AutocannonResult> & {
  on(event: 'response', fn: (client: unknown, status: number, bytes: number, latencyMs: number) => void): void;
};
interface AutocannonResult {
  requests: { total: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    profile: { type: 'boolean' },
    rounds: { type: 'string' },
    targets: { type: 'string' },
    workers: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('tsx benchmarks/gateway.ts [--duration 8] [--warmup 2] [--connections 50] [--rounds 2] [--targets direct,vanilla,gateway,nginx,https] [--profile] [--workers N]\n');
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
const durationSec = num('duration', values.duration, 8);
const warmupSec = num('warmup', values.warmup, 2);
const connections = Math.round(num('connections', values.connections, 50));
const rounds = Math.round(num('rounds', values.rounds, 2));
const profile = values.profile ?? false;
// 'https': the gateway and nginx over TLS with the same certificate (keep-alive, Connection: close, h2 via h2load).
const TARGET_IDS = ['direct', 'vanilla', 'gateway', 'nginx', 'https'] as const;
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
}
interface TargetResult {
  name: string;
  note: string;
  reqPerSec: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  requests: number;
  non2xx: number;
  errors: number;
  /** req/s of each round. */
  rounds: number[];
}

/** The gateway's config: one cluster, the production feature set on (its stdout, pino, goes to a file). */
function gatewayConfig(port: number, adminPort: number, upstream: string, tls?: { port: number; certFile: string; keyFile: string }): Record<string, unknown> {
  return {
    listeners: [{ host: '127.0.0.1', port }, ...(tls ? [{ host: '127.0.0.1', port: tls.port, tls: { certFile: tls.certFile, keyFile: tls.keyFile }, http2: true }] : [])],
    admin: { host: '127.0.0.1', port: adminPort },
    accessLog: true,
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

async function load(url: string, seconds: number, record: boolean, headers?: Record<string, string>): Promise<{ result: AutocannonResult; latencies: Float64Array }> {
  const latencies: number[] = [];
  const instance = autocannon({ url, connections, duration: seconds, timeout: 10, ...(headers ? { headers } : {}) });
  if (record) instance.on('response', (_c, _s, _b, ms) => latencies.push(ms));
  const result = await instance;
  return { result, latencies: Float64Array.from(latencies).sort() };
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

const pct = (sorted: Float64Array, p: number) => (sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! * 100) / 100 : null);

const machine = machineInfo();
const measured = revision(['packages/gateway']);
const t0 = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'webtier-gateway-bench-'));
const children: ChildNode[] = [];
let nginx: SupervisedProcess | undefined;
console.log(`Proxy throughput on ${formatMachine(machine)}`);
console.log(`autocannon, ${connections} connections, ${warmupSec} s warm-up + ${durationSec} s per target in ${rounds} interleaved rounds, 1 KiB responses`);

const targets: Target[] = [];
const profiles: Array<{ name: string; summary: ProfileSummary; requests: number }> = [];
try {
  const upstreamPort = await freePort();
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
  const upstream = new ChildNode({ name: 'upstream', script: join(here, 'gateway', 'upstream.mjs'), args: ['--port', String(upstreamPort)], healthUrl: `${upstreamUrl}/healthz`, logFile: join(dir, 'upstream.log') });
  children.push(upstream);
  await upstream.start();
  targets.push({ id: 'direct', name: 'upstream directly', url: upstreamUrl, note: 'node:http, no proxy' });

  const vanillaPort = await freePort();
  const profileDir = (name: string) => join(dir, `profile-${name}`);
  const profileArgs = (name: string) => (profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir(name)] : []);
  const vanilla = new ChildNode({
    name: 'vanilla',
    script: join(here, 'failover', 'vanillaProxy.mjs'),
    args: ['--port', String(vanillaPort), '--upstream', upstreamUrl],
    healthUrl: `http://127.0.0.1:${vanillaPort}/healthz`,
    logFile: join(dir, 'vanilla.log'),
    nodeArgs: profileArgs('vanilla'),
  });
  children.push(vanilla);
  await vanilla.start();
  targets.push({ id: 'vanilla', name: 'vanilla @fastify/http-proxy', url: `http://127.0.0.1:${vanillaPort}`, note: 'fastify 5 + @fastify/http-proxy 11, logger off' });

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
    targets.push({ id: 'gateway', name: "webtier's gateway", url: `http://127.0.0.1:${gatewayPort}`, note: 'health checks, metrics, access log (info) to a file' });
  } catch (err) {
    console.error(`webtier's gateway did not start: ${(err as Error).message.split('\n').slice(0, 6).join('\n')}`);
    targets.push({ id: 'gateway', name: "webtier's gateway", url: undefined, note: 'did not start (see the run output)' });
  }

  if (NGINX_BINARY) {
    const nginxPort = await freePort();
    nginx = await startNginx(join(dir, 'nginx'), nginxPort, `127.0.0.1:${upstreamPort}`, cert ? nginxTlsServer(nginxTlsPort, cert) : '');
    targets.push({ id: 'nginx', name: 'nginx (1 worker)', url: `http://127.0.0.1:${nginxPort}`, note: `${NGINX_BINARY}, keep-alive upstream, access log to a file` });
  } else targets.push({ id: 'nginx', name: 'nginx (1 worker)', url: undefined, note: 'nginx not installed' });

  const results: TargetResult[] = [];
  // Rounds interleave the targets (A B C D A B C D): a neighbour's burst of work on this shared
  // machine then slows every target alike instead of the one that happened to be running.
  const measuredTargets = targets.filter((x) => x.id !== 'https' && selected.has(x.id) && x.url);
  const served = new Map<string, number>();
  for (const t of measuredTargets) served.set(t.id, (await load(t.url!, warmupSec, false)).result.requests.total);
  const acc = new Map<string, { requests: number; seconds: number; non2xx: number; errors: number; latencies: Float64Array[]; rounds: number[] }>();
  for (let round = 0; round < rounds; round++) {
    for (const t of measuredTargets) {
      const { result, latencies } = await load(t.url!, durationSec / rounds, true);
      const a = acc.get(t.id) ?? { requests: 0, seconds: 0, non2xx: 0, errors: 0, latencies: [], rounds: [] };
      a.requests += result.requests.total;
      a.seconds += result.duration;
      a.non2xx += result.non2xx;
      a.errors += result.errors + result.timeouts;
      a.latencies.push(latencies);
      a.rounds.push(Math.round(result.requests.total / result.duration));
      served.set(t.id, (served.get(t.id) ?? 0) + result.requests.total);
      acc.set(t.id, a);
    }
    console.log(`  round ${round + 1}/${rounds}: ${measuredTargets.map((t) => `${t.id} ${formatInteger(acc.get(t.id)!.rounds.at(-1)!)}`).join(', ')} req/s`);
  }
  for (const t of targets.filter((x) => selected.has(x.id))) {
    const a = acc.get(t.id);
    if (!t.url || !a) {
      results.push({ name: t.name, note: t.note, reqPerSec: null, p50Ms: null, p99Ms: null, requests: 0, non2xx: 0, errors: 0, rounds: [] });
      continue;
    }
    const all = Float64Array.from(a.latencies.flatMap((l) => [...l])).sort();
    const r: TargetResult = {
      name: t.name,
      note: t.note,
      reqPerSec: Math.round(a.requests / a.seconds),
      p50Ms: pct(all, 50),
      p99Ms: pct(all, 99),
      requests: a.requests,
      non2xx: a.non2xx,
      errors: a.errors,
      rounds: a.rounds,
    };
    results.push(r);
    console.log(`  ${t.name.padEnd(28)} ${formatInteger(r.reqPerSec!).padStart(7)} req/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  non-2xx ${r.non2xx}  errors ${r.errors}`);
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
    const tacc = new Map<string, { requests: number; seconds: number; errors: number; latencies: Float64Array[] }>();
    for (const t of tlsTargets) await load(t.url, warmupSec, false);
    for (let round = 0; round < rounds; round++) {
      for (const m of modes) {
        for (const t of tlsTargets) {
          const { result, latencies } = await load(t.url, durationSec / rounds, true, m.headers);
          const key = `${t.id}/${m.id}`;
          const a = tacc.get(key) ?? { requests: 0, seconds: 0, errors: 0, latencies: [] };
          a.requests += result.requests.total;
          a.seconds += result.duration;
          a.errors += result.errors + result.timeouts + result.non2xx;
          a.latencies.push(latencies);
          tacc.set(key, a);
        }
      }
      console.log(`  https round ${round + 1}/${rounds} done`);
    }
    const h2 = new Map<string, number | undefined>();
    for (const t of tlsTargets) h2.set(t.id, H2LOAD_BINARY ? h2load(`${t.url}/`, Math.max(2, Math.round(durationSec / 2)), connections, 10)?.reqPerSec : undefined);
    const rate = (key: string) => {
      const a = tacc.get(key)!;
      return Math.round(a.requests / a.seconds);
    };
    const p99 = (key: string) => pct(Float64Array.from(tacc.get(key)!.latencies.flatMap((l) => [...l])).sort(), 99);
    for (const t of tlsTargets) {
      const h = h2.get(t.id);
      httpsRows.push([t.name, formatInteger(rate(`${t.id}/keepalive`)), p99(`${t.id}/keepalive`) ?? '', formatInteger(rate(`${t.id}/close`)), h === undefined ? (H2LOAD_BINARY ? 'failed' : 'h2load not installed') : formatInteger(h), tacc.get(`${t.id}/keepalive`)!.errors + tacc.get(`${t.id}/close`)!.errors]);
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
    for (const [node, name, id] of [[vanilla, 'vanilla @fastify/http-proxy', 'vanilla'], [gateway, "webtier's gateway", 'gateway']] as const) {
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

  const vanillaResult = results.find((r) => r.name.startsWith('vanilla'));
  const gatewayResult = results.find((r) => r.name.includes('gateway'));
  const headers = ['target', 'req/s', 'p50 ms', 'p99 ms', 'vs vanilla proxy', 'p99 Δ vs vanilla (ms)', 'non-2xx', 'errors', 'setup'];
  const rows: Cell[][] = results.map((r) =>
    r.reqPerSec === null
      ? [r.name, r.note, '', '', '', '', '', '', '']
      : [
          r.name,
          formatInteger(r.reqPerSec),
          r.p50Ms ?? '',
          r.p99Ms ?? '',
          vanillaResult?.reqPerSec ? `${(r.reqPerSec / vanillaResult.reqPerSec).toFixed(2)}×` : 'n/a',
          vanillaResult?.p99Ms != null && r.p99Ms != null ? (r.p99Ms - vanillaResult.p99Ms >= 0 ? '+' : '') + (r.p99Ms - vanillaResult.p99Ms).toFixed(2) : 'n/a',
          r.non2xx,
          r.errors,
          r.note,
        ],
  );
  printTable(headers, rows, 'Proxy throughput');
  let verdict = "webtier's gateway was not measured.";
  if (gatewayResult?.reqPerSec && vanillaResult?.reqPerSec && gatewayResult.p99Ms != null && vanillaResult.p99Ms != null) {
    const ratio = gatewayResult.reqPerSec / vanillaResult.reqPerSec;
    const delta = gatewayResult.p99Ms - vanillaResult.p99Ms;
    verdict = `Target (issue 4): the gateway at ≥ 1.3× the vanilla proxy's req/s and its p99 within 2 ms of the vanilla proxy's. Measured: ${ratio.toFixed(2)}× (${ratio >= 1.3 ? 'met' : 'not met'}), p99 ${delta >= 0 ? '+' : ''}${delta.toFixed(2)} ms (${delta <= 2 ? 'met' : 'not met'}).`;
  }
  console.log(`\n${verdict}`);

  const totalSec = Math.round((Date.now() - t0) / 1000);
  const md = [
    '# Proxy throughput benchmark',
    '',
    `Produced by \`npm run bench:gateway\` (benchmarks/gateway.ts) on ${formatMachine(machine)}, ${new Date().toISOString()}, in ${totalSec} s; gateway at ${describeRevision(measured)}.`,
    '',
    `autocannon (in the benchmark process), ${connections} connections, ${warmupSec} s warm-up, then ${durationSec} s per target measured in ${rounds} interleaved rounds (every target once per round, so that other work on the machine hits all alike); every target proxies to the same Node upstream (node:http answering 1 KiB, its own process). Each proxy is its own process. On a 2-core machine the load generator, the proxy and the upstream share the cores, so these are relative numbers. p50/p99 are over every response of the measured run; "p99 Δ" is the difference to the vanilla proxy's p99.`,
    '',
    markdownTable(headers, rows),
    '',
    verdict,
    '',
    '![requests per second per target](gateway.svg)',
    '',
    ...(httpsRows.length > 0
      ? [
          '## HTTPS',
          '',
          `The gateway's TLS listener (\`http2: true\`: h2 through ALPN, http/1.1 for the rest) and nginx (\`listen ... ssl http2\`, session cache and tickets off) with the same self-signed P-256 certificate made by openssl for this run, both proxying to the same upstream over plain HTTP. autocannon: ${connections} keep-alive connections, then the same with \`Connection: close\` (every request pays a full handshake), interleaved over ${rounds} rounds; h2: \`h2load -c ${connections} -m 10\` when nghttp2-client is installed.`,
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
  const files = partial ? undefined : writeResults('gateway', { settings: { connections, durationSec, warmupSec, rounds, responseBytes: 1024 }, revision: measured, targets: results, verdict, https: { rows: httpsRows, verdict: httpsVerdict } }, md);
  if (files) {
    console.log(`\nwrote ${files.json} and ${files.markdown}`);
    for (const f of renderGatewayChart()) console.log(`wrote ${f}`);
  }
  if (profiles.length > 0) {
    const lines = (l: ProfileSummary['selfTop']) => l.map((x) => [x.name, x.where, x.ms, `${x.percent}%`] as Cell[]);
    const md: string[] = [
      '# Where the proxies spend their time',
      '',
      `\`tsx benchmarks/gateway.ts --profile${values.targets ? ` --targets ${values.targets}` : ''}\` on ${formatMachine(machine)}, ${new Date().toISOString()}, gateway at ${describeRevision(measured)}: each proxy ran under \`node --cpu-prof\` from start to SIGTERM. Shares are of the CPU time the proxy used (idle samples left out); "CPU per request" divides it by the requests the proxy served (warm-up included).`,
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
    writeFileSync(join(RESULTS_DIR, 'gateway-profile.md'), md.join('\n'));
    console.log('wrote benchmarks/results/gateway-profile.md');
  }
  console.log(`(${totalSec} s)`);
} finally {
  await Promise.allSettled(children.map((c) => c.stop()));
  await nginx?.stop();
  rmSync(dir, { recursive: true, force: true });
}
