/**
 * @webtier/gateway: a reverse proxy for groupware web tiers (webmail, ActiveSync, assets) on
 * fastify + undici, with Envoy's vocabulary: listeners → routes → clusters → endpoints.
 */
export { createGateway, startGateway, type CreateGatewayOptions, type GatewayConfigSource, type RunningGateway } from './server.js';
export { webtierGateway, type WebtierGatewayOptions } from './plugin.js';
export { loadConfig, parseConfig, validateConfig, formatPath } from './config/load.js';
export {
  GatewayConfigSchema,
  DEFAULT_RETRY,
  LB_POLICIES,
  type GatewayConfig,
  type GatewayConfigInput,
  type ClusterConfig,
  type EndpointConfig,
  type RouteConfig,
  type HealthCheckConfig,
  type OutlierDetectionConfig,
  type LbPolicy,
  type RetryOn,
} from './config/schema.js';
export {
  resolveRoute,
  LONG_POLL_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  ASSETS_TIMEOUT_MS,
  LONG_POLL_BODY_LIMIT_BYTES,
  DEFAULT_BODY_LIMIT_BYTES,
  type ResolvedRoute,
  type RetryPolicy,
} from './config/resolve.js';
export { GatewayError, GatewayConfigError, GatewayErrorCodes, type GatewayErrorCode, type ConfigProblem } from './errors.js';
export { GatewayRuntime, type GatewayStatus, type EndpointStatus, type GatewayState, type ClusterState, type GatewayLogger } from './Gateway.js';
export { Cluster, type Selection } from './cluster/Cluster.js';
export { Endpoint } from './cluster/Endpoint.js';
export { hashKeyOf, decodeActiveSyncBase64Query, type HashOn } from './cluster/hashKey.js';
export type { LoadBalancer, PickContext } from './cluster/lb/LoadBalancer.js';
export { RoundRobin } from './cluster/lb/RoundRobin.js';
export { LeastRequest } from './cluster/lb/LeastRequest.js';
export { RingHash } from './cluster/lb/RingHash.js';
export { Random } from './cluster/lb/Random.js';
export { HealthChecker } from './health/HealthChecker.js';
export { OutlierDetector, type AttemptOutcome } from './health/OutlierDetector.js';
export { dispatchTimeouts, classifyUpstreamError, type FailureKind } from './proxy/Forwarder.js';
export { RouteTable } from './proxy/RouteTable.js';
export { RetryBudget } from './proxy/RetryBudget.js';
export { TrustedProxies, upstreamRequestHeaders, downstreamResponseHeaders } from './proxy/headers.js';
export { createAdminServer } from './admin/AdminServer.js';
export { GatewayMetrics } from './admin/metrics.js';
export { statusPage } from './admin/statusPage.js';
