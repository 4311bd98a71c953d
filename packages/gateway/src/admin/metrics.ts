import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Endpoint } from '../cluster/Endpoint.js';

/**
 * The gateway's Prometheus metrics, in a Registry of its own (two gateways in one process, as in
 * tests, never share or clash).
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'cluster' | 'status'>;
  private readonly duration: Histogram<'route' | 'cluster'>;
  private readonly upstreamErrors: Counter<'cluster' | 'endpoint' | 'kind'>;
  private readonly retries: Counter<'cluster' | 'reason'>;
  private readonly ejections: Counter<'cluster' | 'endpoint'>;
  private readonly healthChanges: Counter<'cluster' | 'endpoint' | 'healthy'>;
  private readonly rejections: Counter<'cluster' | 'reason'>;

  constructor(endpoints: () => Iterable<Endpoint>, options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'gateway_requests_total', help: 'Requests answered, by route, cluster and status', labelNames: ['route', 'cluster', 'status'], registers });
    this.duration = new Histogram({
      name: 'gateway_request_duration_seconds',
      help: 'Time from request to response end, by route and cluster',
      labelNames: ['route', 'cluster'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers,
    });
    this.upstreamErrors = new Counter({ name: 'gateway_upstream_errors_total', help: 'Failed upstream attempts by kind (connect, reset, timeout, protocol)', labelNames: ['cluster', 'endpoint', 'kind'], registers });
    this.retries = new Counter({ name: 'gateway_retries_total', help: 'Retries on another endpoint', labelNames: ['cluster', 'reason'], registers });
    this.ejections = new Counter({ name: 'gateway_ejections_total', help: 'Outlier-detection ejections', labelNames: ['cluster', 'endpoint'], registers });
    this.healthChanges = new Counter({ name: 'gateway_health_changes_total', help: 'Active health-check transitions', labelNames: ['cluster', 'endpoint', 'healthy'], registers });
    this.rejections = new Counter({ name: 'gateway_rejected_total', help: 'Requests answered 503 without an upstream attempt: long_poll_budget (maxLongPolls reached), queue_timeout (queueTimeoutMs)', labelNames: ['cluster', 'reason'], registers });
    new Gauge({
      name: 'gateway_endpoint_long_polls',
      help: 'Long polls in flight per endpoint (on their own connections, at most maxLongPolls)',
      labelNames: ['cluster', 'endpoint'],
      registers,
      collect() {
        this.reset();
        for (const e of endpoints()) this.set({ cluster: e.cluster, endpoint: e.address }, e.longPolls.active);
      },
    });
    new Gauge({
      name: 'gateway_endpoint_healthy',
      help: '1 when the endpoint passes health checks and is not ejected',
      labelNames: ['cluster', 'endpoint'],
      registers,
      collect() {
        this.reset();
        for (const e of endpoints()) this.set({ cluster: e.cluster, endpoint: e.address }, e.healthy ? 1 : 0);
      },
    });
    new Gauge({
      name: 'gateway_endpoint_drained',
      help: '1 when the endpoint is drained through the admin API',
      labelNames: ['cluster', 'endpoint'],
      registers,
      collect() {
        this.reset();
        for (const e of endpoints()) this.set({ cluster: e.cluster, endpoint: e.address }, e.drained ? 1 : 0);
      },
    });
    new Gauge({
      name: 'gateway_endpoint_in_flight',
      help: 'Requests in flight per endpoint',
      labelNames: ['cluster', 'endpoint'],
      registers,
      collect() {
        this.reset();
        for (const e of endpoints()) this.set({ cluster: e.cluster, endpoint: e.address }, e.inFlight);
      },
    });
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  request(route: string, cluster: string, status: number, seconds: number): void {
    this.requests.inc({ route, cluster, status: String(status) });
    this.duration.observe({ route, cluster }, seconds);
  }

  upstreamError(cluster: string, endpoint: string, kind: string): void {
    this.upstreamErrors.inc({ cluster, endpoint, kind });
  }

  retry(cluster: string, reason: string): void {
    this.retries.inc({ cluster, reason });
  }

  rejected(cluster: string, reason: string): void {
    this.rejections.inc({ cluster, reason });
  }

  ejection(cluster: string, endpoint: string): void {
    this.ejections.inc({ cluster, endpoint });
  }

  healthChange(cluster: string, endpoint: string, healthy: boolean): void {
    this.healthChanges.inc({ cluster, endpoint, healthy: healthy ? '1' : '0' });
  }
}
