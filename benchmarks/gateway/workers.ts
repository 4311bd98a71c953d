// `npm run bench:gateway -- --workers N`: webtier's gateway with 1 worker process and with N
// (the CLI's `--workers`), side by side in interleaved rounds, same upstream, same load. The load
// generator (autocannon, in the benchmark process) and the upstream share the machine's cores with
// the gateway: on a 2-core machine, 2 workers compete with them, so the ratio understates what N
// workers give on a machine with cores to spare. The numbers say so in the report.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from '@webtier/testkit';
import { ChildNode } from '../failover/ChildNode.js';
import { gatewayCli } from '../failover/FailoverTopology.js';
import { describeRevision, revision } from '../failover/revision.js';
import { formatInteger, formatMachine, machineInfo, markdownTable, printTable, writeResults, type Cell } from '../lib/report.js';

const here = dirname(fileURLToPath(import.meta.url));

/** One autocannon run: requests, seconds, sorted latencies (what gateway.ts's load() returns). */
export type Load = (url: string, seconds: number, record: boolean) => Promise<{ result: { requests: { total: number }; duration: number; non2xx: number; errors: number; timeouts: number }; latencies: Float64Array }>;

export interface WorkersBenchOptions {
  workers: number;
  durationSec: number;
  warmupSec: number;
  rounds: number;
  connections: number;
  dir: string;
  load: Load;
}

const pct = (sorted: Float64Array, p: number) => (sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! * 100) / 100 : null);

export async function benchWorkers(o: WorkersBenchOptions): Promise<void> {
  const machine = machineInfo();
  const measured = revision(['packages/gateway']);
  const children: ChildNode[] = [];
  const t0 = Date.now();
  console.log(`Gateway workers: 1 vs ${o.workers} on ${formatMachine(machine)}`);
  try {
    const upstreamPort = await freePort();
    const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
    const upstream = new ChildNode({ name: 'upstream', script: join(here, 'upstream.mjs'), args: ['--port', String(upstreamPort)], healthUrl: `${upstreamUrl}/healthz`, logFile: join(o.dir, 'upstream.log') });
    children.push(upstream);
    await upstream.start();
    const targets: Array<{ workers: number; url: string }> = [];
    for (const workers of [1, o.workers]) {
      const [port, adminPort] = [await freePort(), await freePort()];
      const file = join(o.dir, `gateway-${workers}.yaml`);
      writeFileSync(
        file,
        stringify({
          listeners: [{ host: '127.0.0.1', port }],
          admin: { host: '127.0.0.1', port: adminPort },
          workers,
          routes: [{ match: { prefix: '/' }, cluster: 'upstream' }],
          clusters: { upstream: { endpoints: [{ url: upstreamUrl }], healthCheck: { path: '/healthz', intervalMs: 1000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 2 } } },
        }),
      );
      const gw = new ChildNode({ name: `gateway-${workers}`, script: gatewayCli(), args: ['--config', file], healthUrl: `http://127.0.0.1:${adminPort}/readyz`, logFile: join(o.dir, `gateway-${workers}.log`) });
      children.push(gw);
      await gw.start();
      targets.push({ workers, url: `http://127.0.0.1:${port}` });
    }
    for (const t of targets) await o.load(t.url, o.warmupSec, false);
    const acc = targets.map(() => ({ requests: 0, seconds: 0, failed: 0, latencies: [] as Float64Array[], rounds: [] as number[] }));
    for (let round = 0; round < o.rounds; round++) {
      for (const [i, t] of targets.entries()) {
        const { result, latencies } = await o.load(t.url, o.durationSec / o.rounds, true);
        const a = acc[i]!;
        a.requests += result.requests.total;
        a.seconds += result.duration;
        a.failed += result.non2xx + result.errors + result.timeouts;
        a.latencies.push(latencies);
        a.rounds.push(Math.round(result.requests.total / result.duration));
      }
      console.log(`  round ${round + 1}/${o.rounds}: ${targets.map((t, i) => `${t.workers} worker(s) ${formatInteger(acc[i]!.rounds.at(-1)!)}`).join(', ')} req/s`);
    }
    const results = targets.map((t, i) => {
      const a = acc[i]!;
      const all = Float64Array.from(a.latencies.flatMap((l) => [...l])).sort();
      return { workers: t.workers, reqPerSec: Math.round(a.requests / a.seconds), p50Ms: pct(all, 50), p99Ms: pct(all, 99), requests: a.requests, failed: a.failed, rounds: a.rounds };
    });
    const base = results[0]!.reqPerSec;
    const headers = ['workers', 'req/s', 'vs 1 worker', 'p50 ms', 'p99 ms', 'failed', 'req/s per round'];
    const rows: Cell[][] = results.map((r) => [r.workers, formatInteger(r.reqPerSec), `${(r.reqPerSec / base).toFixed(2)}×`, r.p50Ms ?? '', r.p99Ms ?? '', r.failed, r.rounds.map(formatInteger).join(' / ')]);
    printTable(headers, rows, `Gateway workers: 1 vs ${o.workers}`);
    const cores = availableParallelism();
    const note = `${cores} core(s): the load generator (autocannon, one process) and the upstream (one node:http process) run on the same cores as the gateway's ${o.workers} workers and its primary${cores <= o.workers ? ', so the workers cannot each have a core: the ratio shows what is left after the load generator and upstream take theirs, not what the workers would give on a larger machine' : ''}.`;
    console.log(`\n${note}`);
    const totalSec = Math.round((Date.now() - t0) / 1000);
    const md = [
      `# Gateway workers: 1 vs ${o.workers}`,
      '',
      `Produced by \`npm run bench:gateway -- --workers ${o.workers}\` (benchmarks/gateway/workers.ts) on ${formatMachine(machine)}, ${new Date().toISOString()}, in ${totalSec} s; gateway at ${describeRevision(measured)}.`,
      '',
      `autocannon, ${o.connections} connections, ${o.warmupSec} s warm-up, then ${o.durationSec} s per setting in ${o.rounds} interleaved rounds; webtier's gateway CLI with \`workers: 1\` and \`workers: ${o.workers}\` (health checks on, access log at info to a file), both in front of the same Node upstream answering 1 KiB.`,
      '',
      markdownTable(headers, rows),
      '',
      note,
      '',
    ].join('\n');
    const files = writeResults('gateway-workers', { settings: { connections: o.connections, durationSec: o.durationSec, warmupSec: o.warmupSec, rounds: o.rounds, cores }, revision: measured, results, note }, md);
    console.log(`\nwrote ${files.json} and ${files.markdown} (${totalSec} s)`);
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
  }
}
