import { errorTable } from '@webtier/errors';

/**
 * The gateway's error table, in fastify's `createError(code, message, statusCode)` shape: each
 * code carries the HTTP status the gateway answers with, so a call site throws a code and never
 * picks a status. Callers match on `err.code`, never on `instanceof`. Upstream faults are
 * 502/503/504, never 500.
 */
const table = errorTable('GatewayError', {
  /** The configuration failed validation; `problems` lists every problem by path. */
  BAD_CONFIG: ['GW_ERR_BAD_CONFIG', 500],
  /** The configuration file could not be read or parsed as YAML/JSON. */
  CONFIG_READ: ['GW_ERR_CONFIG_READ', 500],
  /** A TLS certificate or key could not be read, parsed, or they do not match (or the certificate expired). */
  TLS: ['GW_ERR_TLS', 500],
  /** No route matches the request path. */
  NO_ROUTE: ['GW_ERR_NO_ROUTE', 404],
  /** The request path holds dot-segments, encoded slashes or backslashes the listener rejects. */
  BAD_PATH: ['GW_ERR_BAD_PATH', 400],
  /** The request is malformed in a way fastify/Node let through (duplicate Host). */
  BAD_REQUEST: ['GW_ERR_BAD_REQUEST', 400],
  /** More request header fields than the listener accepts. */
  TOO_MANY_HEADERS: ['GW_ERR_TOO_MANY_HEADERS', 431],
  /** The cluster has no healthy endpoint. */
  NO_HEALTHY_UPSTREAM: ['GW_ERR_NO_HEALTHY_UPSTREAM', 503],
  /** Too many WebSocket connections to the cluster (`maxWebSocketConnections`). */
  TOO_MANY_WEBSOCKETS: ['GW_ERR_TOO_MANY_WEBSOCKETS', 503],
  /** The endpoint already holds `maxLongPolls` long polls: answered at once instead of queueing. */
  LONG_POLL_BUDGET: ['GW_ERR_LONG_POLL_BUDGET', 503],
  /** A held long poll answered at once because the gateway is draining (the device re-Pings elsewhere). */
  DRAINING: ['GW_ERR_DRAINING', 503],
  /** Every connection of the endpoint stayed busy for `queueTimeoutMs`. */
  QUEUE_TIMEOUT: ['GW_ERR_QUEUE_TIMEOUT', 503],
  /** Connecting to the upstream failed on every endpoint tried. */
  UPSTREAM_CONNECT: ['GW_ERR_UPSTREAM_CONNECT', 502],
  /** The upstream did not answer within the route's timeout. */
  UPSTREAM_TIMEOUT: ['GW_ERR_UPSTREAM_TIMEOUT', 504],
  /** The upstream reset the connection or sent an invalid response, or the client went away mid-request. */
  UPSTREAM_RESET: ['GW_ERR_UPSTREAM_RESET', 502],
  /** The client aborted or stalled its request body. */
  CLIENT_ABORTED: ['GW_ERR_CLIENT_ABORTED', 400],
  /** The client did not send its body within `clientBodyTimeoutMs`. */
  CLIENT_TIMEOUT: ['GW_ERR_CLIENT_TIMEOUT', 408],
  /** The request body exceeds the route's `bodyLimitBytes`. */
  BODY_TOO_LARGE: ['GW_ERR_BODY_TOO_LARGE', 413],
  /** Drain/undrain named a cluster or endpoint that does not exist. */
  UNKNOWN_ENDPOINT: ['GW_ERR_UNKNOWN_ENDPOINT', 404],
  /** A request to the admin API was malformed. */
  BAD_ADMIN_REQUEST: ['GW_ERR_BAD_ADMIN_REQUEST', 400],
  /** A state-changing admin request without the right bearer token. */
  ADMIN_UNAUTHORIZED: ['GW_ERR_ADMIN_UNAUTHORIZED', 401],
  /** An admin request whose Host is not the admin listener's own address (DNS rebinding). */
  ADMIN_MISDIRECTED: ['GW_ERR_ADMIN_MISDIRECTED', 421],
});

/** Every code, by name: `GatewayErrorCodes.NO_ROUTE === 'GW_ERR_NO_ROUTE'`. */
export const GatewayErrorCodes = table.codes;

export type GatewayErrorCode = (typeof GatewayErrorCodes)[keyof typeof GatewayErrorCodes];

/** The HTTP status the gateway answers with for a code. */
export const statusOf: (code: GatewayErrorCode) => number = table.statusOf;

/** One validation problem: where (`clusters.webmail.endpoints[1].weight`) and what. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Every error thrown or answered by the gateway; `statusCode` comes from the error table. */
export class GatewayError extends table.Error {
  /** The HTTP status the gateway answers with for this error. */
  readonly statusCode: number = statusOf(this.code);
}

/** A configuration that failed validation. `problems` holds every problem, each with its path. */
export class GatewayConfigError extends GatewayError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem[], source?: string) {
    const where = source ? ` in ${source}` : '';
    super(
      GatewayErrorCodes.BAD_CONFIG,
      `invalid gateway config${where} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${p.path || '(root)'}: ${p.message}`).join('\n'),
    );
    this.name = 'GatewayConfigError';
    this.problems = Object.freeze(problems.map((p) => Object.freeze({ ...p })));
  }
}
