// `npm run bench:gateway -- --workers N`: webtier's gateway with 1 worker process and with N
// (the CLI's `--workers`), side by side in interleaved rounds, same upstream, same load. The load
// generator (wrk -t1, its own process) and the upstream share the machine's cores with
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
import { median, type Load, type LoadResult } from './wrk.js';
import { formatInteger, formatMachine, machineInfo, markdownTable, printTable, writeResults, type Cell } from '../lib/report.js';

const here = dirname(fileURLToPath(import.meta.url));


export interface WorkersBenchOptions {
  workers: number;
  durationSec: number;
  warmupSec: number;
  rounds: number;
  connections: number;
  dir: string;
  load: Load;
}

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
    for (const t of targets) await o.load(t.url, o.warmupSec);
    const acc = targets.map(() => [] as LoadResult[]);
    for (let round = 0; round < o.rounds; round++) {
      for (const [i, t] of targets.entries()) acc[i]!.push(await o.load(t.url, o.durationSec));
      console.log(`  round ${round + 1}/${o.rounds}: ${targets.map((t, i) => `${t.workers} worker(s) ${formatInteger(acc[i]!.at(-1)!.reqPerSec)}`).join(', ')} req/s`);
    }
    const med = (runs: LoadResult[], f: (r: LoadResult) => number | null) => median(runs.flatMap((r) => { const v = f(r); return v === null ? [] : [v]; }));
    const results = targets.map((t, i) => {
      const runs = acc[i]!;
      return { workers: t.workers, reqPerSec: Math.round(med(runs, (r) => r.reqPerSec)!), p50Ms: med(runs, (r) => r.p50Ms), p99Ms: med(runs, (r) => r.p99Ms), requests: runs.reduce((n, r) => n + r.requests, 0), failed: runs.reduce((n, r) => n + r.non2xx + r.errors, 0), rounds: runs.map((r) => r.reqPerSec) };
    });
    const base = results[0]!.reqPerSec;
    const headers = ['workers', 'req/s', 'vs 1 worker', 'p50 ms', 'p99 ms', 'failed', 'req/s per round'];
    const rows: Cell[][] = results.map((r) => [r.workers, formatInteger(r.reqPerSec), `${(r.reqPerSec / base).toFixed(2)}×`, r.p50Ms ?? '', r.p99Ms ?? '', r.failed, r.rounds.map(formatInteger).join(' / ')]);
    printTable(headers, rows, `Gateway workers: 1 vs ${o.workers}`);
    const cores = availableParallelism();
    const note = `${cores} core(s): the load generator (wrk, one thread) and the upstream (one node:http process) run on the same cores as the gateway's ${o.workers} workers and its primary${cores <= o.workers ? ', so the workers cannot each have a core: the ratio shows what is left after the load generator and upstream take theirs, not what the workers would give on a larger machine' : ''}.`;
    console.log(`\n${note}`);
    const totalSec = Math.round((Date.now() - t0) / 1000);
    const md = [
      `# Gateway workers: 1 vs ${o.workers}`,
      '',
      `Produced by \`npm run bench:gateway -- --workers ${o.workers}\` (benchmarks/gateway/workers.ts) on ${formatMachine(machine)}, ${new Date().toISOString()}, in ${totalSec} s; gateway at ${describeRevision(measured)}.`,
      '',
      `wrk -t1 -c${o.connections}, ${o.warmupSec} s warm-up, then ${o.rounds} interleaved rounds of ${o.durationSec} s per setting (medians); webtier's gateway CLI with \`workers: 1\` and \`workers: ${o.workers}\` (health checks on, access log at info to a file), both in front of the same Node upstream answering 1 KiB.`,
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
