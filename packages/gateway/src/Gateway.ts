import { Cluster } from './cluster/Cluster.js';
import type { Endpoint, LastCheck } from './cluster/Endpoint.js';
import { resolveRoute, type ResolvedRoute } from './config/resolve.js';
import type { GatewayConfig } from './config/schema.js';
import { GatewayError, GatewayErrorCodes } from './errors.js';
import { HealthChecker } from './health/HealthChecker.js';
import { OutlierDetector } from './health/OutlierDetector.js';
import { GatewayMetrics } from './admin/metrics.js';
import { RetryBudget } from './proxy/RetryBudget.js';
import { RouteTable } from './proxy/RouteTable.js';
import { TrustedProxies } from './proxy/headers.js';

/** The part of pino the runtime logs through (fastify's logger). */
export interface GatewayLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A cluster with its health checker, outlier detector and retry budget. */
export interface ClusterState {
  readonly cluster: Cluster;
  readonly outlier: OutlierDetector;
  readonly health: HealthChecker | undefined;
  readonly budget: RetryBudget;
}

/** One immutable snapshot of the routing state; a reload swaps the whole snapshot. */
export interface GatewayState {
  readonly config: GatewayConfig;
  readonly routes: RouteTable;
  readonly clusters: ReadonlyMap<string, ClusterState>;
  readonly trusted: TrustedProxies;
}

/** /status JSON: one entry per endpoint. */
export interface EndpointStatus {
  url: string;
  address: string;
  healthy: boolean;
  activeHealthy: boolean;
  ejected: boolean;
  ejectedUntil: string | null;
  ejections: number;
  drained: boolean;
  priority: number;
  /** The priority it competes with: its priority while healthy, -1 while not (a failing check lowers it). */
  effectivePriority: number;
  weight: number;
  backup: boolean;
  inFlight: number;
  requests: number;
  lastCheck: { at: string; ok: boolean; status?: number; error?: string } | null;
}

/** /status JSON. */
export interface GatewayStatus {
  startedAt: string;
  draining: boolean;
  routes: Array<{ name: string; prefixes: string[]; caseInsensitive: boolean; cluster: string; timeoutMs: number; bodyLimitBytes: number; longPoll: boolean }>;
  clusters: Array<{ name: string; lbPolicy: string; preempt: boolean; activePriority: number | null; panic: boolean; healthyEndpoints: number; endpoints: EndpointStatus[] }>;
}

const silentLogger: GatewayLogger = { info() {}, warn() {}, error() {} };

/**
 * The gateway's runtime: routing snapshot, clusters, health checks, metrics. Shared by the public
 * fastify instance (plugin), the admin server and the CLI (reload/close).
 */
export class GatewayRuntime {
  state: GatewayState;
  readonly metrics: GatewayMetrics;
  readonly startedAt = new Date();
  draining = false;
  log: GatewayLogger = silentLogger;
  private started = false;

  constructor(config: GatewayConfig) {
    this.state = this.build(config, undefined);
    this.metrics = new GatewayMetrics(() => this.allEndpoints());
  }

  private build(config: GatewayConfig, previous: GatewayState | undefined): GatewayState {
    const clusters = new Map<string, ClusterState>();
    for (const [name, cc] of Object.entries(config.clusters)) {
      const reuse = new Map<string, Endpoint>();
      for (const e of previous?.clusters.get(name)?.cluster.endpoints ?? []) reuse.set(e.url, e);
      const cluster = new Cluster(name, cc, reuse);
      const outlier = new OutlierDetector(cluster.endpoints, cc.outlierDetection, (e, ms, reason) => {
        this.metrics.ejection(e.cluster, e.address);
        this.log.warn({ cluster: e.cluster, endpoint: e.address, ejectionMs: ms, ejections: e.ejections, reason }, 'endpoint ejected');
      });
      const health = cc.healthCheck
        ? new HealthChecker(cluster.endpoints, cc.healthCheck, (e, healthy, reason) => {
            this.metrics.healthChange(e.cluster, e.address, healthy);
            this.log[healthy ? 'info' : 'warn']({ cluster: e.cluster, endpoint: e.address, healthy, reason }, healthy ? 'endpoint healthy' : 'endpoint unhealthy');
          })
        : undefined;
      // Without active checks nothing would ever mark an endpoint down again after a reload
      // removed its checker; start from healthy.
      if (!cc.healthCheck) for (const e of cluster.endpoints) e.activeHealthy = true;
      clusters.set(name, { cluster, outlier, health, budget: previous?.clusters.get(name)?.budget ?? new RetryBudget() });
    }
    const routes: ResolvedRoute[] = config.routes.map((r) => resolveRoute(r, r.cluster, config.clusters[r.cluster], config));
    return { config, routes: new RouteTable(routes), clusters, trusted: new TrustedProxies(config.trustedProxies) };
  }

  /** Starts the active health checks (idempotent). */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const c of this.state.clusters.values()) c.health?.start();
  }

  /**
   * Applies a new config: routes, clusters, endpoints, weights, priorities. Endpoints that keep
   * their URL keep their connections and health; removed ones finish in-flight requests, then
   * their pools close. Listener and admin addresses are not changed by a reload.
   */
  reload(config: GatewayConfig): { added: string[]; removed: string[] } {
    const previous = this.state;
    const next = this.build(config, previous);
    const kept = new Set<Endpoint>();
    for (const c of next.clusters.values()) for (const e of c.cluster.endpoints) kept.add(e);
    const added: string[] = [];
    const removed: string[] = [];
    const before = new Set<Endpoint>();
    for (const c of previous.clusters.values()) for (const e of c.cluster.endpoints) before.add(e);
    for (const e of kept) if (!before.has(e)) added.push(`${e.cluster}/${e.address}`);
    this.state = next;
    for (const c of previous.clusters.values()) {
      c.health?.stop();
      for (const e of c.cluster.endpoints) {
        if (kept.has(e)) continue;
        removed.push(`${e.cluster}/${e.address}`);
        void e.pool.close().catch(() => undefined);
      }
    }
    if (this.started) for (const c of next.clusters.values()) c.health?.start();
    if (JSON.stringify(previous.config.listeners) !== JSON.stringify(config.listeners) || JSON.stringify(previous.config.admin) !== JSON.stringify(config.admin)) {
      this.log.warn({}, 'config reload: listener and admin addresses are not changed by a reload; restart the gateway to apply them');
    }
    return { added, removed };
  }

  /**
   * Applies active health-check results made in another process (the CLI's primary runs the one
   * checker of a multi-worker gateway, so upstreams see one check per interval, not one per worker).
   * Endpoints this runtime does not know are skipped: a reload may be under way.
   */
  applyHealth(reports: ReadonlyArray<{ cluster: string; url: string; activeHealthy: boolean; lastCheck: LastCheck | null }>): void {
    for (const r of reports) {
      const e = this.state.clusters.get(r.cluster)?.cluster.find(r.url);
      if (!e) continue;
      e.activeHealthy = r.activeHealthy;
      e.lastCheck = r.lastCheck ?? undefined;
    }
  }

  *allEndpoints(): Iterable<Endpoint> {
    for (const c of this.state.clusters.values()) yield* c.cluster.endpoints;
  }

  /** Drains (true) or undrains (false) one endpoint; throws GW_ERR_UNKNOWN_ENDPOINT. */
  setDrained(clusterName: string, url: string, drained: boolean): Endpoint {
    const c = this.state.clusters.get(clusterName);
    if (!c) throw new GatewayError(GatewayErrorCodes.UNKNOWN_ENDPOINT, `no cluster named "${clusterName}" (clusters: ${[...this.state.clusters.keys()].join(', ')})`, { statusCode: 404 });
    const e = c.cluster.find(url);
    if (!e) throw new GatewayError(GatewayErrorCodes.UNKNOWN_ENDPOINT, `cluster "${clusterName}" has no endpoint ${url} (endpoints: ${c.cluster.endpoints.map((x) => x.url).join(', ')})`, { statusCode: 404 });
    e.drained = drained;
    this.log.info({ cluster: clusterName, endpoint: e.address, drained }, drained ? 'endpoint drained' : 'endpoint undrained');
    return e;
  }

  status(): GatewayStatus {
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      startedAt: this.startedAt.toISOString(),
      draining: this.draining,
      routes: this.state.routes.routes.map((r) => ({ name: r.name, prefixes: r.prefixes, caseInsensitive: r.caseInsensitive, cluster: r.cluster, timeoutMs: r.timeoutMs, bodyLimitBytes: r.bodyLimitBytes, longPoll: r.longPoll })),
      clusters: [...this.state.clusters.values()].map(({ cluster }) => {
        const { panic } = cluster.candidates();
        return {
          name: cluster.name,
          lbPolicy: cluster.config.lbPolicy,
          preempt: cluster.config.preempt,
          activePriority: cluster.currentPriority ?? null,
          panic,
          healthyEndpoints: cluster.endpoints.filter((e) => e.healthy && !e.drained).length,
          endpoints: cluster.endpoints.map((e) => ({
            url: e.url,
            address: e.address,
            healthy: e.healthy,
            activeHealthy: e.activeHealthy,
            ejected: e.ejected,
            ejectedUntil: e.ejected ? iso(e.ejectedUntil) : null,
            ejections: e.ejections,
            drained: e.drained,
            priority: e.priority,
            effectivePriority: e.healthy ? e.priority : -1,
            weight: e.weight,
            backup: e.backup,
            inFlight: e.inFlight,
            requests: e.requests,
            lastCheck: e.lastCheck ? { ...e.lastCheck, at: iso(e.lastCheck.at) } : null,
          })),
        };
      }),
    };
  }

  /** Stops health checks; `force` destroys upstream connections at once, else they close after in-flight requests. */
  async close(force = false): Promise<void> {
    for (const c of this.state.clusters.values()) c.health?.stop();
    await Promise.all([...this.allEndpoints()].map((e) => (force ? e.pool.destroy() : e.pool.close()).catch(() => undefined)));
  }
}
