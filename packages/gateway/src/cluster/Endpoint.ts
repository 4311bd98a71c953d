import { Pool } from 'undici';
import type { EndpointConfig } from '../config/schema.js';
import { ConnectionBudget } from './ConnectionBudget.js';

/** Options of the upstream connection pool of one endpoint. */
export interface EndpointPoolOptions {
  connectTimeoutMs: number;
  connections: number;
  keepAliveTimeoutMs: number;
  /** Long polls in flight at once, on a pool of their own. */
  maxLongPolls: number;
}

/** A dispatcher and the budget of the requests it carries: ordinary requests or long polls. */
export interface Lane {
  readonly pool: Pool;
  readonly budget: ConnectionBudget;
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
  private longPollDispatcher: Pool | undefined;
  /** Ordinary requests in flight (at most `connectionsPerEndpoint`; more wait up to `queueTimeoutMs`). */
  readonly ordinary: ConnectionBudget;
  /** Long polls in flight (at most `maxLongPolls`; more are refused at once). */
  readonly longPolls: ConnectionBudget;
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
    this.ordinary = new ConnectionBudget(pool.connections);
    this.longPolls = new ConnectionBudget(pool.maxLongPolls);
  }

  private ordinaryLaneOf: Lane | undefined;

  /** The lane of ordinary requests (the endpoint's pool); made once, it is on every request's path. */
  get ordinaryLane(): Lane {
    return (this.ordinaryLaneOf ??= { pool: this.pool, budget: this.ordinary });
  }

  private longPollLaneOf: Lane | undefined;

  /**
   * The lane of long polls: a pool of its own, so that held Pings never take the connections
   * ordinary requests need (a held Ping occupies its connection for up to an hour).
   */
  get longPollLane(): Lane {
    this.longPollDispatcher ??= this.makePool(this.poolOptions.maxLongPolls);
    return (this.longPollLaneOf ??= { pool: this.longPollDispatcher, budget: this.longPolls });
  }

  /**
   * The endpoint's undici Pool, made on first use: selection logic (Cluster, load balancers,
   * outlier detection) can be tested on endpoints that never open a socket.
   */
  get pool(): Pool {
    return (this.dispatcher ??= this.makePool(this.poolOptions.connections));
  }

  private makePool(connections: number): Pool {
    return new Pool(this.url, {
      connections,
      connect: { timeout: this.poolOptions.connectTimeoutMs },
      keepAliveTimeout: this.poolOptions.keepAliveTimeoutMs,
      // Timeouts per request come from the route (dispatchTimeouts); these pool-level values only
      // replace undici's 300 s defaults so that nothing cuts a long poll by accident.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** Closes the pool if one was made: `force` destroys connections at once, else in-flight requests finish. */
  async closePool(force = false): Promise<void> {
    await Promise.all(
      [this.dispatcher, this.longPollDispatcher].map((p) => (p ? (force ? p.destroy() : p.close()).catch(() => undefined) : undefined)),
    );
  }

  /**
   * Budgets from a reloaded config. The pools keep their connections (and held Pings) and their size,
   * so a budget can shrink at once but never grow past its pool (a request must never queue inside undici).
   */
  setBudgets(connections: number, maxLongPolls: number): void {
    this.ordinary.limit = Math.min(connections, this.poolOptions.connections);
    this.longPolls.limit = Math.min(maxLongPolls, this.poolOptions.maxLongPolls);
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
