import { DEFAULT_RETRY, type ClusterConfig, type GatewayConfig, type RetryOn, type RouteConfig } from './schema.js';

/** Timeout of long-poll routes: ActiveSync's longest Ping heartbeat (3540 s) plus two minutes. */
export const LONG_POLL_TIMEOUT_MS = 3_660_000;
export const DEFAULT_TIMEOUT_MS = 60_000;
export const LONG_POLL_BODY_LIMIT_BYTES = 20 * 1024 * 1024;
export const DEFAULT_BODY_LIMIT_BYTES = 25 * 1024 * 1024;

/** Which requests of a route are long polls: all, none, or those whose query fields match (lower-cased). */
export type ResolvedLongPollMatch = 'all' | 'none' | ReadonlyMap<string, ReadonlySet<string>>;

/** A route's retry policy with the top-level defaults applied. */
export interface ResolvedRetry {
  maxRetries: number;
  retryOn: ReadonlySet<RetryOn>;
  maxBufferedBodyBytes: number;
  budgetPercent: number;
  minRetryConcurrency: number;
  /** 0 = off. */
  perTryTimeoutMs: number;
}

/** Everything the forwarder needs about a route, with defaults resolved once at load/reload. */
export interface ResolvedRoute {
  name: string;
  /** Prefixes as written. */
  prefixes: string[];
  /** Prefixes as compared (lower-cased when caseInsensitive). */
  matchPrefixes: string[];
  caseInsensitive: boolean;
  /** Prefixes match on a segment boundary (`/a` matches `/a`, `/a/…`, never `/ab`). */
  boundary: boolean;
  cluster: string;
  /** The route has long-poll timeouts (some of its requests may be held). */
  longPoll: boolean;
  /** Which of its requests take the long-poll lane. */
  longPollMatch: ResolvedLongPollMatch;
  /** 0 = no timeout. */
  timeoutMs: number;
  bodyLimitBytes: number;
  /** Longest pause between request body chunks (0 = none). */
  clientBodyTimeoutMs: number;
  /** Longest a response write may make no progress (0 = none). */
  clientSendTimeoutMs: number;
  retry: ResolvedRetry;
}

/**
 * The timeout rule: route `timeoutMs`, else cluster `timeoutMs`, else 3,660,000 ms for a long-poll
 * route (route or cluster `longPoll`, or the cluster's `clusterDefaults` entry), else the
 * `clusterDefaults` entry's `timeoutMs`, else 60,000 ms.
 */
export function resolveRoute(route: RouteConfig, clusterName: string, cluster: ClusterConfig | undefined, config: GatewayConfig): ResolvedRoute {
  const prefixes = typeof route.match.prefix === 'string' ? [route.match.prefix] : [...route.match.prefix];
  const byName = config.clusterDefaults[clusterName];
  const written = route.longPoll ?? cluster?.longPoll ?? byName?.longPoll ?? false;
  const longPoll = written !== false;
  const longPollMatch: ResolvedLongPollMatch =
    written === true
      ? 'all'
      : written === false
        ? 'none'
        : new Map(Object.entries(written.query).map(([k, v]) => [k.toLowerCase(), new Set((Array.isArray(v) ? v : [v]).map((x) => x.toLowerCase()))]));
  const timeoutMs =
    route.timeoutMs ?? cluster?.timeoutMs ?? (longPoll ? LONG_POLL_TIMEOUT_MS : (byName?.timeoutMs ?? DEFAULT_TIMEOUT_MS));
  const r = { ...DEFAULT_RETRY, ...stripUndefined(config.retry), ...stripUndefined(route.retry ?? {}) } as typeof DEFAULT_RETRY;
  return {
    name: route.name ?? prefixes[0]!,
    prefixes,
    matchPrefixes: route.match.caseInsensitive ? prefixes.map((p) => p.toLowerCase()) : prefixes,
    caseInsensitive: route.match.caseInsensitive,
    boundary: route.match.boundary,
    cluster: clusterName,
    longPoll,
    longPollMatch,
    timeoutMs,
    bodyLimitBytes: route.bodyLimitBytes ?? (longPoll ? LONG_POLL_BODY_LIMIT_BYTES : DEFAULT_BODY_LIMIT_BYTES),
    clientBodyTimeoutMs: route.clientBodyTimeoutMs,
    clientSendTimeoutMs: route.clientSendTimeoutMs,
    retry: {
      maxRetries: r.maxRetries,
      retryOn: new Set(r.retryOn),
      maxBufferedBodyBytes: r.maxBufferedBodyBytes,
      budgetPercent: r.budgetPercent,
      minRetryConcurrency: r.minRetryConcurrency,
      perTryTimeoutMs: r.perTryTimeoutMs,
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
