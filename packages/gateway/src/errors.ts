/**
 * The gateway's error table. Callers match on `err.code`, never on `instanceof`.
 * Upstream faults carry the HTTP status the gateway answers with (502/503/504), never 500.
 */
export const GatewayErrorCodes = {
  /** The configuration failed validation; `problems` lists every problem by path. */
  BAD_CONFIG: 'GW_ERR_BAD_CONFIG',
  /** The configuration file could not be read or parsed as YAML/JSON. */
  CONFIG_READ: 'GW_ERR_CONFIG_READ',
  /** No route matches the request path. */
  NO_ROUTE: 'GW_ERR_NO_ROUTE',
  /** The cluster has no healthy endpoint (503). */
  NO_HEALTHY_UPSTREAM: 'GW_ERR_NO_HEALTHY_UPSTREAM',
  /** Connecting to the upstream failed on every endpoint tried (502). */
  UPSTREAM_CONNECT: 'GW_ERR_UPSTREAM_CONNECT',
  /** The upstream did not answer within the route's timeout (504). */
  UPSTREAM_TIMEOUT: 'GW_ERR_UPSTREAM_TIMEOUT',
  /** The upstream reset the connection or sent an invalid response (502). */
  UPSTREAM_RESET: 'GW_ERR_UPSTREAM_RESET',
  /** The request body exceeds the route's `bodyLimitBytes` (413). */
  BODY_TOO_LARGE: 'GW_ERR_BODY_TOO_LARGE',
  /** Drain/undrain named a cluster or endpoint that does not exist (404). */
  UNKNOWN_ENDPOINT: 'GW_ERR_UNKNOWN_ENDPOINT',
  /** A request to the admin API was malformed (400). */
  BAD_ADMIN_REQUEST: 'GW_ERR_BAD_ADMIN_REQUEST',
} as const;

export type GatewayErrorCode = (typeof GatewayErrorCodes)[keyof typeof GatewayErrorCodes];

/** One validation problem: where (`clusters.webmail.endpoints[1].weight`) and what. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Every error thrown or answered by the gateway. */
export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  /** The HTTP status the gateway answers with for this error, when it is a request error. */
  readonly statusCode: number;

  constructor(code: GatewayErrorCode, message: string, options: { statusCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.statusCode = options.statusCode ?? 500;
  }
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
