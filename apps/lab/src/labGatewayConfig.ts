import { DEFAULT_TOPOLOGY, gatewayConfig } from '@webtier/app-demo';
import { PORTS } from './LabTopology.js';

export interface LabGatewayInput {
  webmail: string[];
  activesync: string[];
  assets: string[];
}

/** Covers the VIP move on `stop` (check interval 1 s + the peer's skew ~0.6 s) with room for a loaded box. */
export const LAB_DRAIN_DELAY_MS = 3000;

/**
 * The demo's gateway config (same routes and clusters) with the settings a LAN needs, which the
 * lab's network faults showed the loopback defaults get wrong:
 * - connectTimeoutMs 250: a LAN connect takes well under 1 ms; a SYN into a blackholed host is never
 *   answered, and the 2 s default held each request that long before trying the next endpoint.
 * - active health checks every 500 ms with a 400 ms timeout (a loaded 2-core box stalls event loops for 100s of ms), 2 failures to eject: a blackholed or
 *   unplugged endpoint leaves the rotation within ~1.5 s (bounded), not only when requests time out.
 * - outlier detection ejects after 3 consecutive gateway failures (connect failures, resets, timeouts).
 * - webmail: a 1.5 s per-try timeout on idempotent requests (above the store's own worst case,
 *   opTimeoutMs 500 ms per memcached operation) so a GET in flight on a host that vanished is retried
 *   on the other webmail node long before the route's 8 s timeout.
 * - drainDelayMs 3000: on `stop` (SIGTERM) /readyz turns 503 at once, keepalived's check fails within
 *   its 1 s interval and the peer takes the VIP ~0.6 s later (--failover fault); until then new
 *   connections to the VIP still arrive here and are served (Connection: close) instead of refused.
 */
export function labGatewayConfig(input: LabGatewayInput): Record<string, unknown> {
  const config = gatewayConfig({
    listenPort: PORTS.gateway,
    adminPort: PORTS.gatewayAdmin,
    // 0.0.0.0 inside the gateway's namespace: its front and back addresses, and a VIP keepalived adds later.
    listenHost: '0.0.0.0',
    adminHost: '0.0.0.0',
    webmail: input.webmail,
    activesync: input.activesync,
    assets: input.assets,
    healthCheck: { ...DEFAULT_TOPOLOGY.healthCheck, intervalMs: 500, timeoutMs: 400, unhealthyThreshold: 2, healthyThreshold: 2 },
    webmailLbPolicy: 'round_robin',
  });
  config['drainDelayMs'] = LAB_DRAIN_DELAY_MS;
  return lanTuning(config);
}

/** Applies the LAN settings above to a gateway config in place (every cluster, the default retry policy); returns it. */
export function lanTuning(config: Record<string, unknown>): Record<string, unknown> {
  const clusters = config['clusters'] as Record<string, Record<string, unknown>>;
  for (const c of Object.values(clusters)) {
    c['connectTimeoutMs'] = 250;
    c['outlierDetection'] = { consecutiveGatewayFailures: 3, baseEjectionTimeMs: 10_000 };
    c['healthCheck'] = { path: '/healthz', ...(c['healthCheck'] as object | undefined), intervalMs: 500, timeoutMs: 400, unhealthyThreshold: 2, healthyThreshold: 2 };
  }
  // Under the users' patience (the benchmark's clients give up at 10 s): a POST in flight on a host that vanished gets the gateway's 504, not a client timeout.
  if (clusters['webmail']) clusters['webmail']['timeoutMs'] = 8_000;
  // Per-try timeouts apply to idempotent requests only (ActiveSync Pings are POSTs: untouched).
  config['retry'] = { ...(config['retry'] as object | undefined), perTryTimeoutMs: 1500 };
  return config;
}
