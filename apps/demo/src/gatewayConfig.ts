import type { Topology } from './TopologyFile.js';

export interface GatewayConfigInput {
  listenPort: number;
  adminPort: number;
  webmail: string[];
  activesync: string[];
  assets: string[];
  healthCheck: Topology['healthCheck'];
  webmailLbPolicy: Topology['webmail']['lbPolicy'];
  /** Address of the public listener (the multi-host lab binds the gateway host's own addresses). @default '127.0.0.1' */
  listenHost?: string;
  /** Address of the admin listener. @default '127.0.0.1' */
  adminHost?: string;
}

/**
 * The gateway config for the demo, in the format of the gateway's README (issue 4's example):
 * ActiveSync and autodiscover to the activesync cluster (ring hash on DeviceId), /skins and
 * /program/js to the assets (keepalived-style priorities: assets-1 serves, the others stand by),
 * everything else to the webmail cluster.
 */
export function gatewayConfig(input: GatewayConfigInput): Record<string, unknown> {
  const healthCheck = { path: '/healthz', ...input.healthCheck };
  return {
    listeners: [{ host: input.listenHost ?? '127.0.0.1', port: input.listenPort }],
    admin: { host: input.adminHost ?? '127.0.0.1', port: input.adminPort },
    // Ctrl-C should not wait out a 30 s drain for held ActiveSync Pings; the launcher SIGKILLs at 5 s.
    drainTimeoutMs: 3000,
    routes: [
      { match: { prefix: '/Microsoft-Server-ActiveSync', caseInsensitive: true }, cluster: 'activesync' },
      { match: { prefix: '/autodiscover/', caseInsensitive: true }, cluster: 'activesync' },
      { match: { prefix: ['/assets/', '/skins/', '/program/js/', '/static.php'] }, cluster: 'assets' },
      { match: { prefix: '/' }, cluster: 'webmail' },
    ],
    clusters: {
      webmail: { lbPolicy: input.webmailLbPolicy, endpoints: input.webmail.map((url) => ({ url })), healthCheck },
      activesync: { lbPolicy: 'ring_hash', hashOn: { query: 'DeviceId' }, endpoints: input.activesync.map((url) => ({ url })), healthCheck },
      assets: { endpoints: input.assets.map((url, i) => ({ url, priority: i === 0 ? 200 : 100 })), healthCheck },
    },
  };
}
