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
  /**
   * Serve HTTPS (HTTP/2 through ALPN) on `tls.port` with this certificate, and turn the `listenPort`
   * listener into a 308 redirect to it. The demo passes it; the lab does not (plain HTTP).
   * @default undefined (one plain HTTP listener on listenPort)
   */
  tls?: GatewayTlsInput;
}

/** The HTTPS listener of the demo's gateway. */
export interface GatewayTlsInput {
  /** Port of the HTTPS listener. */
  port: number;
  /** PEM certificate (chain) file. */
  certFile: string;
  /** PEM private key file. */
  keyFile: string;
}

/**
 * The public listeners: plain HTTP on listenPort, or with `tls` HTTPS + h2 on tls.port and a 308
 * redirect on listenPort. No HSTS: the demo's certificate is self-signed and on localhost, and HSTS
 * binds a host name, not a port: a browser would then refuse plain http://localhost for every other
 * local development server for max-age.
 */
function listeners(input: GatewayConfigInput): Array<Record<string, unknown>> {
  const host = input.listenHost ?? '127.0.0.1';
  if (!input.tls) return [{ host, port: input.listenPort }];
  return [
    { host, port: input.tls.port, tls: { certFile: input.tls.certFile, keyFile: input.tls.keyFile }, http2: true },
    { host, port: input.listenPort, redirectToHttps: true, redirectPort: input.tls.port },
  ];
}

/**
 * The gateway config for the demo, in the format of the gateway's README (issue 4's example):
 * ActiveSync and autodiscover to the activesync cluster (ring hash on DeviceId), /skins and
 * /program/js to the assets (keepalived-style priorities: assets-1 serves, the others stand by),
 * everything else to the webmail cluster. With `tls`, HTTPS on tls.port and a redirect on listenPort.
 */
export function gatewayConfig(input: GatewayConfigInput): Record<string, unknown> {
  const healthCheck = { path: '/healthz', ...input.healthCheck };
  return {
    listeners: listeners(input),
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
      // Named, not left to the gateway's clusterDefaults: Ping is ActiveSync's long poll; assets answer fast.
      activesync: { lbPolicy: 'ring_hash', hashOn: { query: 'DeviceId' }, longPoll: { query: { Cmd: 'Ping' } }, endpoints: input.activesync.map((url) => ({ url })), healthCheck },
      assets: { timeoutMs: 30_000, endpoints: input.assets.map((url, i) => ({ url, priority: i === 0 ? 200 : 100 })), healthCheck },
    },
  };
}
