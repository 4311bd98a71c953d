// SVG charts drawn from the results JSON, never from numbers typed by hand:
//   failover-rps.svg, failover-errors.svg, failover-p99.svg (and failover-lab-*.svg)
//                                       timelines, one line per system, fault events marked
//   gateway.svg                         req/s per proxy (bars, p99 written beside)
//   concurrency.svg                     updates lost per session store (bars)
// Run alone with `tsx benchmarks/charts.ts`; benchmarks/failover.ts, gateway.ts and all.ts call it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lineChart } from './lib/chart.js';
import { RESULTS_DIR } from './lib/report.js';

interface FailoverJson {
  settings: { durationSec: number; connections: number };
  timeline: Array<{ atSec: number; label: string; chartLabel?: string }>;
  runs: Array<{
    system: { short: string; label: string };
    error?: string;
    seconds: Array<{ t: number; requests: number; ok?: number; non2xx: number; errors: number; loginRequired: number; p99Ms: number | null }>;
  }>;
}

interface GatewayJson {
  settings: { connections: number; durationSec: number };
  targets: Array<{ name: string; reqPerSec: number | null; p50Ms: number | null; p99Ms: number | null; note?: string }>;
}

function write(name: string, svg: string): string {
  const file = join(RESULTS_DIR, name);
  writeFileSync(file, svg);
  return relative(process.cwd(), file);
}

/** failover-rps.svg, failover-errors.svg and failover-p99.svg from results/failover.json; returns the files written. */
export function renderFailoverCharts(jsonFile = join(RESULTS_DIR, 'failover.json'), prefix = 'failover'): string[] {
  if (!existsSync(jsonFile)) return [];
  const data = JSON.parse(readFileSync(jsonFile, 'utf8')) as FailoverJson;
  const runs = data.runs.filter((r) => !r.error && r.seconds.length > 0);
  // A second's numbers are drawn at its middle: an event at t=10 falls between seconds 9 and 10.
  const events = data.timeline.map((e) => ({ x: e.atSec, label: e.chartLabel ?? e.label }));
  const sub = `${data.settings.connections} logged-in users`;
  const rps = lineChart({
    title: `Successful requests per second through the faults (${sub})`,
    xLabel: 'time (s)',
    yLabel: 'successful requests/s',
    width: 980,
    height: 400,
    series: runs.map((r) => ({ name: r.system.short, points: r.seconds.map((s) => [s.t + 0.5, s.ok ?? s.requests - s.non2xx] as const) })),
    events,
  });
  // Errors and "login required" per second; a second without any leaves a gap (log scale).
  const failed = lineChart({
    title: `Failed requests per second: errors + "login required" (${sub}; no line = none)`,
    xLabel: 'time (s)',
    yLabel: 'failed requests/s',
    width: 980,
    height: 400,
    logY: true,
    series: runs.map((r) => ({ name: r.system.short, points: r.seconds.map((s) => [s.t + 0.5, s.errors + s.loginRequired || null] as const) })),
    events,
  });
  const p99 = lineChart({
    title: `p99 latency of the successful requests, per second (${sub})`,
    xLabel: 'time (s)',
    yLabel: 'p99 latency (ms)',
    width: 980,
    height: 400,
    logY: true,
    series: runs.map((r) => ({ name: r.system.short, points: r.seconds.map((s) => [s.t + 0.5, s.p99Ms] as const) })),
    events,
  });
  // A burst of errors within one second is a single point between gaps: drawn bigger than lineChart's
  // dots, the first series' (webtier, blue) biggest so that another system's dot on it leaves a ring.
  const failedDots = failed.replaceAll(' r="2" fill="#1f77b4"', ' r="7" fill="#1f77b4"').replaceAll(' r="2" ', ' r="4" ');
  return [write(`${prefix}-rps.svg`, rps), write(`${prefix}-errors.svg`, failedDots), write(`${prefix}-p99.svg`, p99)];
}

const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** Horizontal bars: one per target, req/s, with p50/p99 written beside. */
export function barChart(title: string, rows: Array<{ name: string; value: number | null; note: string; highlight?: boolean }>, unit: string): string {
  const width = 900;
  const rowH = 34;
  const left = 230;
  const right = 250;
  const top = 44;
  const height = top + rows.length * rowH + 36;
  const max = Math.max(1, ...rows.map((r) => r.value ?? 0));
  const pw = width - left - right;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="16" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`);
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    out.push(`<text x="${left - 8}" y="${y + 20}" text-anchor="end">${esc(r.name)}</text>`);
    if (r.value === null) {
      out.push(`<text x="${left + 4}" y="${y + 20}" fill="#888">${esc(r.note)}</text>`);
      return;
    }
    const w = (r.value / max) * pw;
    out.push(`<rect x="${left}" y="${y + 6}" width="${w.toFixed(1)}" height="${rowH - 12}" fill="${r.highlight ? '#d62728' : i === 0 ? '#999' : '#1f77b4'}"/>`);
    out.push(`<text x="${(left + w + 6).toFixed(1)}" y="${y + 20}">${Math.round(r.value).toLocaleString('en-US')} ${esc(unit)}  ${esc(r.note)}</text>`);
  });
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + rows.length * rowH}" stroke="#888"/>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** gateway.svg from results/gateway.json. */
export function renderGatewayChart(jsonFile = join(RESULTS_DIR, 'gateway.json')): string[] {
  if (!existsSync(jsonFile)) return [];
  const data = JSON.parse(readFileSync(jsonFile, 'utf8')) as GatewayJson;
  const rows = data.targets.map((t) => ({
    name: t.name,
    value: t.reqPerSec,
    note: t.reqPerSec === null ? (t.note ?? 'not measured') : `p50 ${t.p50Ms} ms, p99 ${t.p99Ms} ms`,
    highlight: t.name.includes('gateway'),
  }));
  return [write('gateway.svg', barChart(`Proxy throughput, ${data.settings.connections} connections, 1 KiB responses`, rows, 'req/s'))];
}

interface ConcurrencyJson {
  settings: { USERS: number; ROUNDS: number };
  lostUpdates: Array<{ system: string; updates: number; lost: number; errors: number }>;
}

/** concurrency.svg from results/concurrency.json: the share of updates each store lost. */
export function renderConcurrencyChart(jsonFile = join(RESULTS_DIR, 'concurrency.json')): string[] {
  if (!existsSync(jsonFile)) return [];
  const data = JSON.parse(readFileSync(jsonFile, 'utf8')) as ConcurrencyJson;
  const rows = data.lostUpdates.map((r) => ({
    name: r.system.replace(/concurrentWrites '([^']+)'/, '$1'),
    value: (100 * r.lost) / r.updates,
    note: `(${r.lost} of ${r.updates} updates${r.errors ? `, ${r.errors} errors` : ''})`,
    highlight: r.system.includes("'merge'"),
  }));
  return [write('concurrency.svg', barChart(`Updates lost by two overlapping requests per user (${data.settings.USERS} users x ${data.settings.ROUNDS} rounds)`, rows, '% lost'))];
}

export function renderAllCharts(): string[] {
  return [...renderFailoverCharts(), ...renderFailoverCharts(join(RESULTS_DIR, 'failover-lab.json'), 'failover-lab'), ...renderGatewayChart(), ...renderConcurrencyChart()];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const f of renderAllCharts()) console.log(`wrote ${f}`);
}
