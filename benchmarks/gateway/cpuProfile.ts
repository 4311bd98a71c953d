// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time per function,
// inclusive time per function, and self time per package (node_modules/<pkg>, a workspace
// package, node internals, GC); shares are of the CPU time used (idle samples left out). Used by `tsx benchmarks/gateway.ts --profile`.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileLine {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Samples not idle: the CPU time the process used. Shares below are of this. */
  activeMs: number;
  selfTop: ProfileLine[];
  inclusiveTop: ProfileLine[];
  byPackage: ProfileLine[];
  /** Self time per source file (node internals by module, native code by function name), every file. */
  byFile: ProfileLine[];
}

function packageOf(url: string, name: string): string {
  if (name === '(garbage collector)') return '(gc)';
  if (name === '(idle)' || name === '(program)') return name;
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const ws = /\/(packages|apps)\/([^/]+)\//.exec(url);
  if (ws) return `${ws[1]}/${ws[2]}`;
  return url.replace(/^file:\/\//, '');
}

/** The file a frame's code is in, short; native code (a syscall such as writev, GC) by its name. */
function fileOf(url: string, name: string): string {
  if (!url) return name || '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  return url.replace(/^file:\/\/.*?\/(packages|apps|benchmarks)\//, '$1/');
}

function shortUrl(url: string, line: number): string {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  const s = nm >= 0 ? url.slice(nm + '/node_modules/'.length) : url.replace(/^file:\/\/.*?\/(packages|apps)\//, '$1/');
  return `${s}:${line + 1}`;
}

export function summarizeProfile(file: string, top = 20): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000));
  const totalMs = [...self.values()].reduce((a, b) => a + b, 0);
  let idleMs = 0;
  for (const [id, ms] of self) if (byId.get(id)!.callFrame.functionName === '(idle)') idleMs += ms;
  const activeMs = totalMs - idleMs;
  const key = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}|${shortUrl(n.callFrame.url, n.callFrame.lineNumber)}`;
  const selfBy = new Map<string, number>();
  const pkgBy = new Map<string, number>();
  const fileBy = new Map<string, number>();
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const file = fileOf(n.callFrame.url, n.callFrame.functionName);
    fileBy.set(file, (fileBy.get(file) ?? 0) + ms);
    selfBy.set(key(n), (selfBy.get(key(n)) ?? 0) + ms);
    const pkg = packageOf(n.callFrame.url, n.callFrame.functionName);
    pkgBy.set(pkg, (pkgBy.get(pkg) ?? 0) + ms);
  }
  // Inclusive: each node's subtree time, counted once per frame key along a path (recursion).
  const incl = new Map<string, number>();
  const subtree = new Map<number, number>();
  const total = (n: ProfileNode): number => {
    const cached = subtree.get(n.id);
    if (cached !== undefined) return cached;
    let t = self.get(n.id) ?? 0;
    for (const c of n.children ?? []) t += total(byId.get(c)!);
    subtree.set(n.id, t);
    return t;
  };
  const root = p.nodes[0]!;
  const walk = (n: ProfileNode, active: Set<string>) => {
    const k = key(n);
    const fresh = !active.has(k);
    if (fresh) {
      incl.set(k, (incl.get(k) ?? 0) + total(n));
      active.add(k);
    }
    for (const c of n.children ?? []) walk(byId.get(c)!, active);
    if (fresh) active.delete(k);
  };
  walk(root, new Set());
  const lines = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .filter(([k]) => !k.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, ms]) => {
        const [name, where] = k.split('|');
        return { name: name!, where: where ?? '', ms: Math.round(ms), percent: Math.round((ms / activeMs) * 1000) / 10 };
      });
  incl.delete(key(root));
  return { totalMs: Math.round(totalMs), activeMs: Math.round(activeMs), selfTop: lines(selfBy, top), inclusiveTop: lines(incl, top), byPackage: lines(pkgBy, 15), byFile: lines(fileBy, Infinity).map((l) => ({ ...l, where: '' })) };
}

/**
 * CPU time (ms) spent in, or below, functions whose script URL passes `test` (each sample counted
 * once however many such frames its stack holds), and its share of the CPU time used.
 */
export function timeUnder(file: string, test: (url: string) => boolean): { ms: number; percent: number } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const under = new Map<number, boolean>();
  const isUnder = (id: number): boolean => {
    let v = under.get(id);
    if (v === undefined) {
      const up = parent.get(id);
      v = test(byId.get(id)!.callFrame.url) || (up !== undefined && isUnder(up));
      under.set(id, v);
    }
    return v;
  };
  let ms = 0;
  let activeMs = 0;
  p.samples.forEach((id, i) => {
    if (byId.get(id)!.callFrame.functionName === '(idle)') return;
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    activeMs += dt;
    if (isUnder(id)) ms += dt;
  });
  return { ms: Math.round(ms), percent: activeMs > 0 ? Math.round((ms / activeMs) * 1000) / 10 : 0 };
}
