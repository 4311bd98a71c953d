import type { Cluster } from '../cluster/Cluster.js';
import type { GatewayConfig } from '../config/schema.js';
import type { HealthChecker } from '../health/HealthChecker.js';
import type { OutlierDetector } from '../health/OutlierDetector.js';
import type { ErrorPages } from './errorResponse.js';
import type { ForwardingInfo } from './headers.js';
import type { RetryBudget } from './RetryBudget.js';
import type { RouteTable } from './RouteTable.js';

// The runtime state the proxy reads, as types of the lowest folder that needs them: Gateway.ts
// (above) builds and implements them, proxy/ never imports Gateway.ts.

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
  /** WebSocket connections open to the cluster (capped by `maxWebSocketConnections`). */
  readonly webSockets: { open: number };
}

/** One immutable snapshot of the routing state; a reload swaps the whole snapshot. */
export interface GatewayState {
  readonly config: GatewayConfig;
  readonly routes: RouteTable;
  readonly clusters: ReadonlyMap<string, ClusterState>;
  /** Which peers are trusted, the request-id header, and the headers dropped from untrusted peers. */
  readonly forwarding: ForwardingInfo;
  /** Retry-After of 503s and the operator's HTML pages. */
  readonly errorPages: ErrorPages;
}

/** What the proxy records in metrics. */
export interface ProxyMetrics {
  request(route: string, cluster: string, status: number, seconds: number): void;
  retry(cluster: string, reason: string): void;
  upstreamError(cluster: string, endpoint: string, kind: string): void;
  /** A request refused without an upstream attempt (`long_poll_budget`, `queue_timeout`). */
  rejected(cluster: string, reason: 'long_poll_budget' | 'queue_timeout'): void;
}

/** The runtime as the proxy sees it (GatewayRuntime implements it). */
export interface ProxyRuntime {
  readonly state: GatewayState;
  readonly draining: boolean;
  /**
   * Long polls still waiting for their upstream's answer, each with the function that answers it at
   * once (503, Retry-After, Connection: close) when the gateway drains: a device re-Pings elsewhere
   * instead of waiting for drainTimeoutMs and a reset. One entry per held long poll, none otherwise.
   */
  readonly heldLongPolls: Set<() => void>;
  readonly metrics: ProxyMetrics;
  readonly log: GatewayLogger;
}
