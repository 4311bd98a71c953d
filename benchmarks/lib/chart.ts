// SVG line charts drawn from benchmark JSON: no browser, no dependency, deterministic output.
// Used for the failover timelines (req/s and p99 per second, one line per system, fault events marked).

export interface Series {
  name: string;
  /** [x, y] points; y null leaves a gap (e.g. a second with no completed request). */
  points: ReadonlyArray<readonly [number, number | null]>;
}

export interface ChartEvent {
  x: number;
  label: string;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  events?: readonly ChartEvent[];
  /** @default 900 */
  width?: number;
  /** @default 360 */
  height?: number;
  /** Log-scale y axis (for latencies spanning orders of magnitude). @default false */
  logY?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** Round step for an axis spanning `span` with about `count` ticks: 1, 2 or 5 × 10^k. */
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

function fmt(n: number): string {
  if (Math.abs(n) >= 1000) return `${Math.round(n / 100) / 10}k`;
  return String(Math.round(n * 100) / 100);
}

/** An SVG line chart as a string. */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 900;
  const height = o.height ?? 360;
  const m = { top: 40, right: 160, bottom: 48, left: 64 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1]).filter((y): y is number => y !== null && Number.isFinite(y)));
  const xMin = Math.min(0, ...xs);
  const xMax = Math.max(1, ...xs, ...(o.events ?? []).map((e) => e.x));
  const logY = o.logY ?? false;
  const yMinRaw = logY ? Math.max(0.1, Math.min(...ys.filter((y) => y > 0), 1)) : 0;
  const yMaxRaw = Math.max(logY ? 1 : 1, ...ys);
  const tY = (y: number) => (logY ? Math.log10(Math.max(y, yMinRaw)) : y);
  const yLo = logY ? Math.floor(tY(yMinRaw)) : 0;
  const yStep = logY ? 1 : niceStep(yMaxRaw, 5);
  const yHi = logY ? Math.ceil(tY(yMaxRaw)) : Math.ceil(yMaxRaw / yStep) * yStep || 1;
  const px = (x: number) => m.left + ((x - xMin) / (xMax - xMin || 1)) * pw;
  const py = (y: number) => m.top + ph - ((tY(y) - yLo) / (yHi - yLo || 1)) * ph;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${m.left}" y="22" font-size="15" font-weight="bold">${esc(o.title)}</text>`);
  // y grid and labels
  for (let v = yLo; v <= yHi + 1e-9; v += yStep) {
    const value = logY ? 10 ** v : v;
    const y = py(value);
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#555">${fmt(value)}</text>`);
  }
  // x grid and labels
  const xStep = niceStep(xMax - xMin, 10);
  for (let v = Math.ceil(xMin / xStep) * xStep; v <= xMax + 1e-9; v += xStep) {
    const x = px(v);
    out.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.top + ph}" y2="${m.top + ph + 4}" stroke="#888"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${m.top + ph + 17}" text-anchor="middle" fill="#555">${fmt(v)}</text>`);
  }
  out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="#888"/>`);
  out.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}" stroke="#888"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${height - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}${logY ? ' (log)' : ''}</text>`);
  // fault events
  (o.events ?? []).forEach((e, i) => {
    const x = px(e.x);
    out.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.top}" y2="${m.top + ph}" stroke="#999" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${(x + 3).toFixed(1)}" y="${m.top + 11 + (i % 3) * 12}" fill="#666" font-size="10">${esc(e.label)}</text>`);
  });
  // series
  o.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const segments: string[][] = [[]];
    for (const [x, y] of s.points) {
      if (y === null || !Number.isFinite(y)) {
        if (segments.at(-1)!.length > 0) segments.push([]);
        continue;
      }
      segments.at(-1)!.push(`${px(x).toFixed(1)},${py(y).toFixed(1)}`);
    }
    for (const seg of segments) {
      if (seg.length === 1) out.push(`<circle cx="${seg[0]!.split(',')[0]}" cy="${seg[0]!.split(',')[1]}" r="2" fill="${color}"/>`);
      else if (seg.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${seg.join(' ')}"/>`);
    }
    const ly = m.top + 10 + i * 18;
    out.push(`<line x1="${m.left + pw + 12}" x2="${m.left + pw + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${m.left + pw + 38}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
