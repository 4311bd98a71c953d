// The front-door benchmark's timeline charts, drawn from its results JSON (never from numbers typed
// by hand): gateway-ha-timeline.svg (successful requests/s) and gateway-ha-failed.svg (failed
// requests and Ping reconnects per second), one line per front door, the faults marked.
// Run alone with `tsx benchmarks/gatewayHa/charts.ts`; benchmarks/gatewayHa.ts calls it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lineChart } from '../lib/chart.js';
import { RESULTS_DIR } from '../lib/report.js';

interface GatewayHaJson {
  settings: { users: number };
  runs: Array<{
    door: { id: string; label: string };
    error?: string;
    faults: Array<{ kind: string; host: string; atSec: number }>;
    seconds: Array<{ t: number; ok: number; failed: number; pingReconnects: number }>;
  }>;
}

/** Writes the two charts for results/<prefix>.json; returns the files written. */
export function renderGatewayHaCharts(prefix = 'gateway-ha'): string[] {
  const jsonFile = join(RESULTS_DIR, `${prefix}.json`);
  if (!existsSync(jsonFile)) return [];
  const data = JSON.parse(readFileSync(jsonFile, 'utf8')) as GatewayHaJson;
  const ok = data.runs.filter((r) => !r.error && r.seconds.length > 0);
  const ref = ok[0];
  // Every front door gets the same plan at nearly the same times: the first run's are marked.
  const events = (ref?.faults ?? []).map((f) => ({ x: f.atSec, label: `${f.kind} ${f.host}` }));
  const timeline = lineChart({
    title: `Successful session requests per second through the faults (${data.settings.users} users)`,
    xLabel: `time (s); faults at the "${ref?.door.id ?? ''}" run's times`,
    yLabel: 'successful requests/s',
    width: 980,
    height: 400,
    series: ok.map((r) => ({ name: r.door.id, points: r.seconds.map((s) => [s.t + 0.5, s.ok] as const) })),
    events,
  });
  const failed = lineChart({
    title: 'Failed requests and Ping reconnects per second (log scale; no line = none)',
    xLabel: 'time (s)',
    yLabel: 'per second',
    width: 980,
    height: 400,
    logY: true,
    series: ok.flatMap((r) => [
      { name: `${r.door.id}: failed`, points: r.seconds.map((s) => [s.t + 0.5, s.failed || null] as const) },
      { name: `${r.door.id}: Pings`, points: r.seconds.map((s) => [s.t + 0.5, s.pingReconnects || null] as const) },
    ]),
    events,
  });
  const out: string[] = [];
  for (const [name, svg] of [[`${prefix}-timeline.svg`, timeline], [`${prefix}-failed.svg`, failed]] as const) {
    writeFileSync(join(RESULTS_DIR, name), svg);
    out.push(`benchmarks/results/${name}`);
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const f of renderGatewayHaCharts()) console.log(`wrote ${f}`);
}
