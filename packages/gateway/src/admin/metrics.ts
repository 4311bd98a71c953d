import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { Endpoint } from '../cluster/Endpoint.js';

/** Upper bounds (seconds) of gateway_request_duration_seconds. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600];

/** One route and cluster: requests by status and the duration histogram, as plain numbers. */
class RequestSeries {
  readonly statuses = new Map<number, number>();
  /** Non-cumulative: buckets[i] counts durations in (DURATION_BUCKETS[i-1], DURATION_BUCKETS[i]]. */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length);
  sum = 0;
  count = 0;
  constructor(
    readonly route: string,
    readonly cluster: string,
  ) {}
}

type MetricValue = { labels: Record<string, string | number>; value: number; metricName?: string };

/**
 * A metric read from the per-request series when scraped, in prom-client's shape (`get()` as its
 * Counter and Histogram return it), so that the Registry, the text format and the workers'
 * AggregatorRegistry treat it as theirs. Why not prom-client's own: its inc/observe with labels
 * validate and hash the label object on every call, which was about 2 % of the gateway's CPU per
 * proxied request (issue 15 profile); here a request costs two Map lookups and a few additions.
 */
function seriesMetric(name: string, help: string, type: 'counter' | 'histogram', values: () => MetricValue[], reset: () => void): Metric {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name: metric.name, help, type, aggregator: 'sum', values: values() }),
    reset,
  };
  return metric as unknown as Metric;
}

/**
 * The gateway's Prometheus metrics, in a Registry of its own (two gateways in one process, as in
 * tests, never share or clash).
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  /** route → cluster → series. */
  private readonly series = new Map<string, Map<string, RequestSeries>>();
  private readonly upstreamErrors: Counter<'cluster' | 'endpoint' | 'kind'>;
  private readonly retries: Counter<'cluster' | 'reason'>;
  private readonly ejections: Counter<'cluster' | 'endpoint'>;
  private readonly healthChanges: Counter<'cluster' | 'endpoint' | 'healthy'>;
  private readonly rejections: Counter<'cluster' | 'reason'>;

  constructor(endpoints: () => Iterable<Endpoint>, options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const all = () => [...this.series.values()].flatMap((m) => [...m.values()]);
    const reset = () => this.series.clear();
    this.registry.registerMetric(
      seriesMetric('gateway_requests_total', 'Requests answered, by route, cluster and status', 'counter', () => all().flatMap((s) => [...s.statuses].map(([status, n]) => ({ labels: { route: s.route, cluster: s.cluster, status: String(status) }, value: n }))), reset),
    );
    this.registry.registerMetric(
      seriesMetric(
        'gateway_request_duration_seconds',
        'Time from request to response end, by route and cluster',
        'histogram',
        () =>
          all().flatMap((s) => {
            const bucket = 'gateway_request_duration_seconds_bucket';
            let acc = 0;
            const out: MetricValue[] = DURATION_BUCKETS.map((le, i) => ({ labels: { route: s.route, cluster: s.cluster, le }, value: (acc += s.buckets[i]!), metricName: bucket }));
            out.push(
              { labels: { route: s.route, cluster: s.cluster, le: '+Inf' }, value: s.count, metricName: bucket },
              { labels: { route: s.route, cluster: s.cluster }, value: s.sum, metricName: 'gateway_request_duration_seconds_sum' },
              { labels: { route: s.route, cluster: s.cluster }, value: s.count, metricName: 'gateway_request_duration_seconds_count' },
            );
            return out;
          }),
        reset,
      ),
    );
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
    let byCluster = this.series.get(route);
    if (!byCluster) this.series.set(route, (byCluster = new Map()));
    let s = byCluster.get(cluster);
    if (!s) byCluster.set(cluster, (s = new RequestSeries(route, cluster)));
    s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
    // prom-client's rule: a duration counts in the first bucket whose bound it does not exceed.
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    if (i < DURATION_BUCKETS.length) s.buckets[i]!++;
    s.sum += seconds;
    s.count++;
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
