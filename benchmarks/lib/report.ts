// Shared output of the benchmarks: aligned text tables for the terminal, Markdown tables for
// benchmarks/results/*.md, JSON for machines, and the machine the numbers were measured on.
// Numbers in docs come from these files, never typed by hand.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A table cell: numbers are right-aligned in text tables. */
export type Cell = string | number;

/** Where writeResults puts its files: benchmarks/results/. */
export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

/** The machine a run was measured on; benchmarks put it in every result file. */
export interface MachineInfo {
  cpu: string;
  /** Logical cores (os.cpus().length). */
  cores: number;
  /** What Node may use (cgroup/affinity aware). */
  availableParallelism: number;
  node: string;
  v8: string;
  platform: string;
  arch: string;
  memoryGiB: number;
  /** 1-minute load average when the run started: a busy machine gives lower numbers. */
  loadAverage1m: number;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    availableParallelism: availableParallelism(),
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

/** One line describing the machine, for table captions. */
export function formatMachine(m: MachineInfo = machineInfo()): string {
  return `${m.cpu}, ${m.cores} cores (${m.availableParallelism} usable), Node ${m.node}, ${m.platform}/${m.arch}, load ${m.loadAverage1m}`;
}

/** 1234567.8 → "1,234,568". */
export function formatInteger(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Operations per second, rounded to 3 significant digits: 1234567 → "1,230,000". */
export function formatOps(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return String(n);
  const digits = Math.floor(Math.log10(n)) + 1;
  const scale = 10 ** Math.max(0, digits - 3);
  return formatInteger(Math.round(n / scale) * scale);
}

/** 3.214 → "3.21×". */
export function formatRatio(x: number): string {
  return `${x.toFixed(2)}×`;
}

const isNumeric = (cell: Cell): boolean => typeof cell === 'number' || /^[-+]?[\d,.]+\s*[×x%]?$/.test(cell);

/** An aligned plain-text table: header, a rule, rows; numeric cells right-aligned. */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((row) => headers.map((_, i) => String(row[i] ?? '')));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  const right = headers.map((_, i) => rows.length > 0 && rows.every((row) => row[i] === undefined || isNumeric(row[i]!)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...text.map(line)].join('\n');
}

/** Prints {@link formatTable} to stdout, with an optional title line above it. */
export function printTable(headers: readonly string[], rows: readonly (readonly Cell[])[], title?: string): void {
  const out = formatTable(headers, rows);
  process.stdout.write(`${title === undefined ? '' : `\n${title}\n`}${out}\n`);
}

/** A GitHub-flavoured Markdown table; numeric columns right-aligned. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const escape = (c: Cell) => String(c).replaceAll('|', '\\|');
  const right = headers.map((_, i) => rows.length > 0 && rows.every((row) => row[i] === undefined || isNumeric(row[i]!)));
  return [
    `| ${headers.map(escape).join(' | ')} |`,
    `| ${headers.map((_, i) => (right[i] ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((row) => `| ${headers.map((_, i) => escape(row[i] ?? '')).join(' | ')} |`),
  ].join('\n');
}

/**
 * Writes benchmarks/results/<name>.json (`data` plus `machine` and `date` unless given) and
 * <name>.md (`markdown`). Returns the paths, relative to the current directory.
 */
export function writeResults(name: string, data: Record<string, unknown>, markdown: string): { json: string; markdown: string } {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
    throw new Error(`writeResults: name ${JSON.stringify(name)} must be lowercase letters, digits and dashes (it is a file name)`);
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const jsonPath = join(RESULTS_DIR, `${name}.json`);
  const mdPath = join(RESULTS_DIR, `${name}.md`);
  const full = { name, date: new Date().toISOString(), machine: machineInfo(), ...data };
  writeFileSync(jsonPath, `${JSON.stringify(full, null, 2)}\n`);
  writeFileSync(mdPath, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  return { json: relative(process.cwd(), jsonPath), markdown: relative(process.cwd(), mdPath) };
}
