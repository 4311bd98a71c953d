import type { GatewayStatus } from './status.js';

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function stateOf(e: GatewayStatus['clusters'][number]['endpoints'][number]): { label: string; cls: string } {
  if (e.drained) return { label: 'drained', cls: 'drained' };
  if (!e.activeHealthy) return { label: 'unhealthy', cls: 'down' };
  if (e.ejected) return { label: 'ejected', cls: 'down' };
  return { label: 'healthy', cls: 'up' };
}

/** The admin /status page: one table per cluster, one row per endpoint. Refreshes every 2 s. */
export function statusPage(status: GatewayStatus): string {
  const clusters = status.clusters
    .map((c) => {
      const rows = c.endpoints
        .map((e) => {
          const s = stateOf(e);
          const check = e.lastCheck ? `${e.lastCheck.ok ? 'pass' : 'fail'}${e.lastCheck.status ? ` (${e.lastCheck.status})` : e.lastCheck.error ? ` (${esc(e.lastCheck.error)})` : ''}` : '—';
          return `<tr class="${s.cls}"><td class="url">${esc(e.url)}</td><td><span class="badge ${s.cls}">${s.label}</span></td><td>${e.priority}${e.backup ? ' <small>backup</small>' : ''}</td><td>${e.weight}</td><td>${e.ejections}${e.ejectedUntil ? ` <small>until ${esc(e.ejectedUntil.slice(11, 19))}</small>` : ''}</td><td>${e.inFlight}</td><td>${e.requests}</td><td>${e.drained ? 'yes' : 'no'}</td><td>${check}</td></tr>`;
        })
        .join('\n');
      const flags = [`lbPolicy ${esc(c.lbPolicy)}`, `${c.healthyEndpoints}/${c.endpoints.length} healthy`, c.activePriority !== null ? `serving priority ${c.activePriority}` : '', c.preempt ? 'preempt' : 'no preempt', c.panic ? '<b class="panic">PANIC: all endpoints get traffic</b>' : '']
        .filter(Boolean)
        .join(' · ');
      return `<section><h2>${esc(c.name)}</h2><p class="meta">${flags}</p>
<table><thead><tr><th>endpoint</th><th>health</th><th>priority</th><th>weight</th><th>ejections</th><th>in flight</th><th>requests</th><th>drained</th><th>last check</th></tr></thead>
<tbody>${rows}</tbody></table></section>`;
    })
    .join('\n');
  const routes = status.routes
    .map((r) => `<tr><td>${r.prefixes.map(esc).join(', ')}${r.caseInsensitive ? ' <small>(any case)</small>' : ''}</td><td>${esc(r.cluster)}</td><td>${r.timeoutMs === 0 ? 'none' : `${r.timeoutMs / 1000} s`}</td><td>${(r.bodyLimitBytes / 1048576).toFixed(0)} MiB</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>webtier gateway status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 4px}.meta{color:#555;margin:0 0 8px}
table{border-collapse:collapse;background:#fff;min-width:720px}th,td{border:1px solid #ddd;padding:6px 10px;text-align:left}
th{background:#f0f0f0;font-weight:600}td.url{font-family:ui-monospace,monospace}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.badge.up{background:#2e7d32}.badge.down{background:#c62828}.badge.drained{background:#777}
tr.down td{background:#fff3f3}tr.drained td{color:#777}.panic{color:#c62828}small{color:#666}
</style></head><body>
<h1>webtier gateway</h1><p class="meta">started ${esc(status.startedAt)}${status.draining ? ' · <b>draining</b>' : ''} · <a href="/status?format=json">JSON</a> · <a href="/metrics">metrics</a></p>
${clusters}
<h2>Routes</h2><table><thead><tr><th>prefix</th><th>cluster</th><th>timeout</th><th>body limit</th></tr></thead><tbody>${routes}</tbody></table>
</body></html>
`;
}
