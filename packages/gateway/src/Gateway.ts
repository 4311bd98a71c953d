import { readFileSync } from 'node:fs';
import { GatewayMetrics } from './admin/metrics.js';
import type { AdminRuntime } from './admin/AdminServer.js';
import type { GatewayStatus } from './admin/status.js';
import { Cluster } from './cluster/Cluster.js';
import type { Endpoint, LastCheck } from './cluster/Endpoint.js';
import { resolveRoute, type ResolvedRoute } from './config/resolve.js';
import type { GatewayConfig } from './config/schema.js';
import { GatewayConfigError, GatewayError, GatewayErrorCodes } from './errors.js';
import { HealthChecker } from './health/HealthChecker.js';
import { OutlierDetector } from './health/OutlierDetector.js';
import { CLIENT_IP_HEADERS, TrustedProxies } from './proxy/headers.js';
import { RetryBudget } from './proxy/RetryBudget.js';
import { RouteTable } from './proxy/RouteTable.js';
import type { ClusterState, GatewayLogger, GatewayState, ProxyRuntime } from './proxy/state.js';

export type { ClusterState, GatewayLogger, GatewayState } from './proxy/state.js';
export type { EndpointStatus, GatewayStatus } from './admin/status.js';

/** Reads the operator's error pages (`errorPages`): a missing file is a config problem, not a crash later. */
function readErrorPages(pages: Readonly<Record<string, string>>): Map<number, string> {
  const out = new Map<number, string>();
  const problems: Array<{ path: string; message: string }> = [];
  for (const [status, file] of Object.entries(pages)) {
    try {
      out.set(Number(status), readFileSync(file, 'utf8'));
    } catch (err) {
      problems.push({ path: `errorPages.${status}`, message: `cannot read ${file}: ${(err as Error).message}` });
    }
  }
  if (problems.length > 0) throw new GatewayConfigError(problems);
  return out;
}

const silentLogger: GatewayLogger = { info() {}, warn() {}, error() {} };

/**
 * The gateway's runtime: routing snapshot, clusters, health checks, metrics. Shared by the public
 * fastify instance (plugin), the admin server and the CLI (reload/close).
 */
export class GatewayRuntime implements ProxyRuntime, AdminRuntime {
  state: GatewayState;
  readonly metrics: GatewayMetrics;
  readonly startedAt = new Date();
  draining = false;
  readonly heldLongPolls = new Set<() => void>();
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
      const before = previous?.clusters.get(name);
      clusters.set(name, { cluster, outlier, health, budget: before?.budget ?? new RetryBudget(), webSockets: before?.webSockets ?? { open: 0 } });
    }
    const routes: ResolvedRoute[] = config.routes.map((r) => resolveRoute(r, r.cluster, config.clusters[r.cluster], config));
    return {
      config,
      routes: new RouteTable(routes),
      clusters,
      forwarding: { trusted: new TrustedProxies(config.trustedProxies), requestIdHeader: config.requestIdHeader, stripHeaders: new Set([...CLIENT_IP_HEADERS, ...config.stripHeaders]) },
      errorPages: { retryAfterSeconds: config.retryAfterSeconds, html: readErrorPages(config.errorPages) },
    };
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
        void e.closePool();
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
    if (!c) throw new GatewayError(GatewayErrorCodes.UNKNOWN_ENDPOINT, `no cluster named "${clusterName}" (clusters: ${[...this.state.clusters.keys()].join(', ')})`);
    const e = c.cluster.find(url);
    if (!e) throw new GatewayError(GatewayErrorCodes.UNKNOWN_ENDPOINT, `cluster "${clusterName}" has no endpoint ${url} (endpoints: ${c.cluster.endpoints.map((x) => x.url).join(', ')})`);
    e.drained = drained;
    this.log.info({ cluster: clusterName, endpoint: e.address, drained }, drained ? 'endpoint drained' : 'endpoint undrained');
    return e;
  }

  /**
   * /readyz: ready when not draining and every cluster that a route uses has an endpoint that is
   * healthy and not drained. keepalived's check (`webtier-gateway check`) relies on this rule: a
   * gateway that cannot serve one of its routes hands its service address to the peer.
   */
  readiness(): { ready: boolean; status: string } {
    if (this.draining) return { ready: false, status: 'draining' };
    const routed = new Set(this.state.routes.routes.map((r) => r.cluster));
    const down = [...routed].filter((name) => !this.state.clusters.get(name)?.cluster.endpoints.some((e) => e.healthy && !e.drained));
    if (down.length > 0) return { ready: false, status: `no healthy endpoint in cluster ${down.join(', ')}` };
    return { ready: true, status: 'ready' };
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
    await Promise.all([...this.allEndpoints()].map((e) => e.closePool(force)));
  }
}
