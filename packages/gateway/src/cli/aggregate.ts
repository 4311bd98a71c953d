import { AggregatorRegistry, type Registry } from 'prom-client';
import type { GatewayStatus } from '../index.js';

type MetricJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];
type Aggregator = 'sum' | 'min' | 'max' | 'first';

/**
 * How each worker metric combines into the gateway's. Counters, histograms and in-flight gauges
 * add up (the default); an endpoint is healthy only when every worker sees it healthy (each worker
 * ejects outliers on its own traffic); drained is set in every worker at once.
 */
export const WORKER_AGGREGATION: Readonly<Record<string, Aggregator>> = {
  gateway_endpoint_healthy: 'min',
  gateway_endpoint_drained: 'max',
};

/** Metrics only the primary has a true value for: health checks run there alone. */
export const PRIMARY_METRICS: ReadonlySet<string> = new Set(['gateway_health_changes_total']);

/** The whole gateway's metrics: the primary's own (`PRIMARY_METRICS` and `supervisor`) and every worker's, combined. */
export function aggregateMetrics(primary: MetricJson[], supervisor: MetricJson[], workers: MetricJson[][]): Registry {
  const fromWorkers = workers.map((metrics) =>
    metrics.filter((m) => !PRIMARY_METRICS.has(m.name)).map((m) => ({ ...m, aggregator: WORKER_AGGREGATION[m.name] ?? m.aggregator })),
  );
  return AggregatorRegistry.aggregate([primary.filter((m) => PRIMARY_METRICS.has(m.name)), supervisor, ...fromWorkers] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
}

/** One worker process as /status shows it. */
export interface WorkerInfo {
  id: number;
  pid: number | undefined;
  startedAt: string;
  /** Times the worker in this slot was restarted after a crash. */
  restarts: number;
  listening: boolean;
}

/** /status of a multi-worker gateway: the primary's routes and health, with every worker's traffic and ejections added up. */
export type AggregatedStatus = GatewayStatus & { workers: WorkerInfo[] };

export function aggregateStatus(primary: GatewayStatus, workers: GatewayStatus[], info: WorkerInfo[]): AggregatedStatus {
  const clusters = primary.clusters.map((c) => {
    const endpoints = c.endpoints.map((e) => {
      const seen = workers.flatMap((w) => w.clusters.find((x) => x.name === c.name)?.endpoints.find((x) => x.url === e.url) ?? []);
      const ejected = seen.some((x) => x.ejected);
      const until = seen.map((x) => x.ejectedUntil).filter((x): x is string => x !== null).sort().at(-1) ?? null;
      const drained = seen.length > 0 ? seen.some((x) => x.drained) : e.drained;
      const healthy = e.activeHealthy && !ejected;
      return {
        ...e,
        healthy,
        ejected,
        ejectedUntil: until,
        ejections: seen.reduce((n, x) => n + x.ejections, 0),
        drained,
        effectivePriority: healthy ? e.priority : -1,
        inFlight: seen.reduce((n, x) => n + x.inFlight, 0),
        requests: seen.reduce((n, x) => n + x.requests, 0),
      };
    });
    const panic = workers.some((w) => w.clusters.find((x) => x.name === c.name)?.panic === true);
    return { ...c, panic, healthyEndpoints: endpoints.filter((e) => e.healthy && !e.drained).length, endpoints };
  });
  return { ...primary, clusters, workers: info };
}
