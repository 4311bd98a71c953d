import type { NodeInfo } from './ChildApp.js';

const MARK: Record<string, string> = { running: '●', starting: '◌', frozen: '❄', killed: '✗', crashed: '✗', stopped: '○' };

/** The nodes as a table for the terminal (`webtier status`, the `s` key). */
export function statusTable(nodes: NodeInfo[], keys?: Map<string, string>): string {
  const header = ['NODE', 'KIND', 'STATE', 'PID', 'ADDRESS'];
  const rows = nodes.map((n) => [`${MARK[n.state] ?? '?'} ${n.name}`, n.kind, n.state, n.pid ? String(n.pid) : '-', n.address]);
  if (keys) {
    header.unshift('KEY');
    rows.forEach((r, i) => r.unshift(keys.get(nodes[i]!.name) ?? ''));
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
