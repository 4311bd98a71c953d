import { Pool } from 'undici';
import type { EndpointConfig } from '../config/schema.js';

/** Options of the upstream connection pool of one endpoint. */
export interface EndpointPoolOptions {
  connectTimeoutMs: number;
  connections: number;
  keepAliveTimeoutMs: number;
}

/** The last active health check of an endpoint, as shown on /status. */
export interface LastCheck {
  at: number;
  ok: boolean;
  status?: number;
  error?: string;
}

/**
 * One upstream (Envoy's endpoint): its undici Pool and its health state. The object survives a
 * reload when the cluster keeps the URL, so health, ejections and connections carry over.
 */
export class Endpoint {
  readonly url: string;
  /** `host:port`, used as the metrics label and in logs. */
  readonly address: string;
  readonly cluster: string;
  weight: number;
  priority: number;
  backup: boolean;
  private readonly poolOptions: EndpointPoolOptions;
  private dispatcher: Pool | undefined;
  /** Result of the active health checks (true until a check says otherwise). */
  activeHealthy = true;
  consecutiveCheckPasses = 0;
  consecutiveCheckFailures = 0;
  lastCheck: LastCheck | undefined;
  /** Outlier detection: ejected until this time (ms since epoch); 0 = not ejected. */
  ejectedUntil = 0;
  /** How many times outlier detection ejected the endpoint (multiplies the ejection time). */
  ejections = 0;
  consecutiveGatewayFailures = 0;
  consecutive5xx = 0;
  /** Drained by the admin API: no new requests, in-flight ones finish. */
  drained = false;
  inFlight = 0;
  requests = 0;

  constructor(cluster: string, config: EndpointConfig, pool: EndpointPoolOptions) {
    const u = new URL(config.url);
    this.url = u.origin;
    this.address = u.host;
    this.cluster = cluster;
    this.weight = config.weight;
    this.priority = config.priority;
    this.backup = config.backup;
    this.poolOptions = pool;
  }

  /**
   * The endpoint's undici Pool, made on first use: selection logic (Cluster, load balancers,
   * outlier detection) can be tested on endpoints that never open a socket.
   */
  get pool(): Pool {
    return (this.dispatcher ??= new Pool(this.url, {
      connections: this.poolOptions.connections,
      connect: { timeout: this.poolOptions.connectTimeoutMs },
      keepAliveTimeout: this.poolOptions.keepAliveTimeoutMs,
      // Timeouts per request come from the route (dispatchTimeouts); these pool-level values only
      // replace undici's 300 s defaults so that nothing cuts a long poll by accident.
      headersTimeout: 0,
      bodyTimeout: 0,
    }));
  }

  /** Closes the pool if one was made: `force` destroys connections at once, else in-flight requests finish. */
  async closePool(force = false): Promise<void> {
    const p = this.dispatcher;
    if (!p) return;
    await (force ? p.destroy() : p.close()).catch(() => undefined);
  }

  /** Applies weight/priority/backup from a reloaded config. */
  update(config: EndpointConfig): void {
    this.weight = config.weight;
    this.priority = config.priority;
    this.backup = config.backup;
  }

  get ejected(): boolean {
    return this.ejectedUntil !== 0 && this.ejectedUntil > Date.now();
  }

  /** Passes active checks and is not ejected (drained is separate: a drained endpoint can be healthy). */
  get healthy(): boolean {
    return this.activeHealthy && !this.ejected;
  }
}
