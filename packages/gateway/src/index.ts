/**
 * @webtier/gateway: a reverse proxy for groupware web tiers (webmail, ActiveSync, assets) on
 * fastify + undici, with Envoy's vocabulary: listeners → routes → clusters → endpoints.
 *
 * The public API is what users call: start or embed a gateway, load and check its config, match
 * its errors. Internals (clusters, load balancers, the forwarder) are not exported; tests of
 * internals import their files directly.
 */
export { createGateway, startGateway, type CreateGatewayOptions, type GatewayConfigSource, type RunningGateway } from './server.js';
export { webtierGateway, type WebtierGatewayOptions } from './plugin.js';
export { loadConfig, parseConfig, validateConfig, formatPath } from './config/load.js';
export { checkTlsFiles, type TlsFileReport } from './tls/certificates.js';
export {
  GatewayConfigSchema,
  DEFAULT_RETRY,
  DEFAULT_CLUSTER_DEFAULTS,
  LB_POLICIES,
  MAX_TIMER_MS,
  type GatewayConfig,
  type GatewayConfigInput,
  type ClusterConfig,
  type EndpointConfig,
  type RouteConfig,
  type ListenerConfig,
  type HealthCheckConfig,
  type OutlierDetectionConfig,
  type LbPolicy,
  type RetryOn,
} from './config/schema.js';
export { GatewayError, GatewayConfigError, GatewayErrorCodes, type GatewayErrorCode, type ConfigProblem } from './errors.js';
export { raiseFileLimit, readFileLimit, type FileLimitReport } from './limits.js';
export { decodeActiveSyncQuery, ACTIVESYNC_COMMAND_CODES, type ActiveSyncBase64Query } from './cluster/activeSyncQuery.js';
export { GatewayRuntime, type GatewayStatus, type EndpointStatus, type GatewayLogger } from './Gateway.js';
