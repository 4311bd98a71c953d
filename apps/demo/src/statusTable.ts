import type { NodeInfo } from './ChildApp.js';

const MARK: Record<string, string> = { running: '●', starting: '◌', frozen: '❄', killed: '✗', crashed: '✗', stopped: '○' };

interface GatewayStatusLike {
  clusters?: Array<{ endpoints?: Array<{ url?: string; healthy?: boolean; ejected?: boolean; drained?: boolean }> }>;
}

/** url → what the gateway thinks of that endpoint (healthy / unhealthy / ejected / drained), from its /status JSON. */
export function gatewayHealth(status: unknown): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of (status as GatewayStatusLike | undefined)?.clusters ?? []) {
    for (const e of c.endpoints ?? []) {
      if (e.url) out.set(e.url.replace(/\/$/, ''), e.drained ? 'drained' : e.ejected ? 'ejected' : e.healthy ? 'healthy' : 'unhealthy');
    }
  }
  return out;
}

/** The nodes as a table for the terminal (`webtier status`, the `s` key), with the gateway's view of each app node. */
export function statusTable(nodes: NodeInfo[], keys?: Map<string, string>, gateway?: Map<string, string>): string {
  const header = ['NODE', 'KIND', 'STATE', 'PID', 'ADDRESS', ...(gateway ? ['IN GATEWAY'] : [])];
  const rows = nodes.map((n) => [`${MARK[n.state] ?? '?'} ${n.name}`, n.kind, n.state, n.pid ? String(n.pid) : '-', n.address, ...(gateway ? [gateway.get(n.address) ?? ''] : [])]);
  if (keys) {
    header.unshift('KEY');
    rows.forEach((r, i) => r.unshift(keys.get(nodes[i]!.name) ?? ''));
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
