import { isIP } from 'node:net';
import { z } from 'zod';

// The schema carries every default (JSDoc `@default` mirrors it). Every object is strict:
// an unknown key is an error, so a typo never silently falls back to a default.

const positiveInt = z
  .number({ error: 'expected a positive integer' })
  .int({ error: 'expected a positive integer' })
  .positive({ error: 'expected a positive integer' });
const nonNegativeInt = z
  .number({ error: 'expected an integer >= 0' })
  .int({ error: 'expected an integer >= 0' })
  .min(0, { error: 'expected an integer >= 0' });
const percent = z
  .number({ error: 'expected a percentage between 0 and 100' })
  .min(0, { error: 'expected a percentage between 0 and 100' })
  .max(100, { error: 'expected a percentage between 0 and 100' });
const port = z
  .number({ error: 'expected a port number (0-65535)' })
  .int({ error: 'expected a port number (0-65535)' })
  .min(0, { error: 'expected a port number (0-65535)' })
  .max(65535, { error: 'expected a port number (0-65535)' });
/** The longest delay Node's timers can schedule (2^31−1 ms, ~24.8 days); larger values fire at once, every tick. */
export const MAX_TIMER_MS = 2_147_483_647;
const timerMsError = { error: `expected at most ${MAX_TIMER_MS} ms (2^31-1, the longest delay Node can schedule)` };
/** A delay in ms, 0 allowed. */
const timerMs = nonNegativeInt.max(MAX_TIMER_MS, timerMsError);
/** A delay in ms, at least 1. */
const positiveTimerMs = positiveInt.max(MAX_TIMER_MS, timerMsError);
/** Names that would reach Object.prototype when used as keys. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const notReserved = (s: string) => !RESERVED_NAMES.has(s);
const reservedError = { error: 'the names __proto__, constructor and prototype are reserved; choose another name' };
/** Request headers that frame or route the message, or are hop-by-hop: never a request-id header. */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'host', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect', 'proxy-authenticate', 'proxy-authorization', 'http2-settings', 'content-type', 'content-encoding', 'cookie', 'authorization']);
const headerName = z.string({ error: 'expected a header name' }).regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'expected a header name (letters, digits and !#$%&\'*+.^_`|~-)' });
const host = z.string({ error: 'expected a host name or IP address' }).min(1, { error: 'expected a host name or IP address' });
const path = z.string({ error: 'expected a path starting with "/"' }).startsWith('/', { error: 'expected a path starting with "/"' });

/** A CIDR (`10.0.0.0/8`, `::1/128`) or a single address (`127.0.0.1`). */
const cidr = z.string({ error: 'expected a CIDR such as 10.0.0.0/8 or an IP address' }).refine(
  (s) => {
    const [addr, bits, extra] = s.split('/');
    if (extra !== undefined || addr === undefined) return false;
    const family = isIP(addr);
    if (family === 0) return false;
    if (bits === undefined) return true;
    if (!/^\d+$/.test(bits)) return false;
    return Number(bits) <= (family === 4 ? 32 : 128);
  },
  { error: 'expected a CIDR such as 10.0.0.0/8 or an IP address' },
);

const upstreamUrl = z.string({ error: 'expected an http:// URL' }).refine(
  (s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' && (u.pathname === '/' || u.pathname === '') && !u.search && !u.hash && !u.username;
    } catch {
      return false;
    }
  },
  { error: 'expected an http:// URL with host and port only, e.g. http://10.0.0.11:8000' },
);

/** `200`, or a range `"200-399"`. */
const statusSpec = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(/^[1-5]\d\d-[1-5]\d\d$/),
], { error: 'expected a status code (200) or a range ("200-399")' });

const tlsFile = z.string({ error: 'expected the path of a PEM file' }).min(1, { error: 'expected the path of a PEM file' });

export const SniSchema = z
  .object({
    /** Server names (SNI) served with this certificate; `*.example.org` matches one label. */
    serverNames: z.array(z.string().min(1)).min(1, { error: 'expected at least one server name' }),
    /** PEM certificate chain. */
    certFile: tlsFile,
    /** PEM private key. */
    keyFile: tlsFile,
  })
  .strict();

export const TlsSchema = z
  .object({
    /** PEM certificate chain of the default certificate. */
    certFile: tlsFile,
    /** PEM private key of the default certificate. */
    keyFile: tlsFile,
    /** Oldest TLS version accepted. @default 'TLSv1.2' */
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3'], { error: 'expected TLSv1.2 or TLSv1.3' }).default('TLSv1.2'),
    /** More certificates, chosen by the client's server name. @default [] */
    sni: z.array(SniSchema).default([]),
  })
  .strict();

export const HstsSchema = z
  .object({
    /** max-age of Strict-Transport-Security. */
    maxAgeSeconds: nonNegativeInt,
    /** @default false */
    includeSubDomains: z.boolean().default(false),
  })
  .strict();

/** Defaults of the listener fields left out (applied by the listener, so a parsed config shows what was written). */
export const DEFAULT_LISTENER = {
  http2: false,
  redirectToHttps: false,
  redirectPort: 443,
  pathNormalization: 'reject' as 'normalize' | 'reject',
  clientHeaderTimeoutMs: 60_000,
  keepAliveTimeoutMs: 75_000,
  maxConnections: 10_000,
  maxHeaderCount: 100,
};

export const PATH_NORMALIZATION = ['normalize', 'reject'] as const;

export const ListenerSchema = z
  .object({
    /** Address to listen on. @default '0.0.0.0' */
    host: host.default('0.0.0.0'),
    /** Port (0 picks a free one). */
    port,
    /** Serve HTTPS with these certificates. @default undefined (plain HTTP) */
    tls: TlsSchema.optional(),
    /** Offer HTTP/2 through ALPN (h2, with http/1.1 for the rest); needs `tls`. @default false */
    http2: z.boolean().optional(),
    /** Send Strict-Transport-Security on every answer; needs `tls`. @default undefined (none) */
    hsts: HstsSchema.optional(),
    /** Answer every request with 308 to https://host/path?query; no routing. @default false */
    redirectToHttps: z.boolean().optional(),
    /** Port of the https:// redirect target. @default 443 */
    redirectPort: port.optional(),
    /**
     * Paths holding dot-segments (also %2e), encoded slashes (%2f) or backslashes: `reject` answers 400,
     * `normalize` routes and forwards the RFC 3986 §5.2.4 normalised path (a `..` above the root is still 400).
     * @default 'reject'
     */
    pathNormalization: z.enum(PATH_NORMALIZATION, { error: 'expected normalize or reject' }).optional(),
    /** The request line and headers must arrive within this time (408, then close). @default 60000 */
    clientHeaderTimeoutMs: positiveTimerMs.optional(),
    /** Idle keep-alive connections of clients close after this. @default 75000 */
    keepAliveTimeoutMs: positiveTimerMs.optional(),
    /** Connections open at once on this listener; further ones are closed at once (0 = no limit). @default 10000 */
    maxConnections: nonNegativeInt.optional(),
    /** Request header fields accepted; more get 431 (never silently dropped). @default 100 */
    maxHeaderCount: positiveInt.max(10_000).optional(),
  })
  .strict();

export const AdminSchema = z
  .object({
    /** Address of the admin listener. Keep it on loopback or a management network. @default '127.0.0.1' */
    host: host.default('127.0.0.1'),
    /** Port of the admin listener. @default 9901 */
    port: port.default(9901),
    /**
     * File holding the bearer token state-changing endpoints (drain, undrain) require. Required when `host`
     * is not a loopback address. @default undefined (state-changing endpoints only from loopback peers)
     */
    tokenFile: z.string().min(1).optional(),
    /** Host header values accepted besides the listener's own address (DNS names of the admin listener). @default [] */
    allowedHosts: z.array(z.string().min(1)).optional(),
  })
  .strict();

export const RETRY_ON = ['connect-failure', 'reset', 'gateway-error'] as const;

/** Route retry policy; any field left out comes from the top-level `retry`. */
export const RetryPolicySchema = z
  .object({
    /** Retries after the first attempt, each on a different endpoint. @default 2 */
    maxRetries: nonNegativeInt.optional(),
    /**
     * What is retried. `connect-failure` (refused, connect timeout, reset before a byte was sent:
     * any method, POST included), `reset` (reset after sending: idempotent methods only),
     * `gateway-error` (502/503/504 answers: idempotent methods only).
     * @default ['connect-failure', 'reset']
     */
    retryOn: z.array(z.enum(RETRY_ON, { error: `expected one of ${RETRY_ON.join(', ')}` })).optional(),
    /** Request bodies up to this size are buffered so that they can be replayed on another endpoint. @default 1048576 */
    maxBufferedBodyBytes: nonNegativeInt.optional(),
    /** Retries in flight may be at most this percentage of requests in flight (Envoy's retry budget; connect-failure retries, and retries of idempotent requests reset before any response byte, are exempt: they are bounded by maxRetries and the endpoints not yet tried). @default 20 */
    budgetPercent: percent.optional(),
    /** Retries in flight always allowed regardless of the budget. @default 3 */
    minRetryConcurrency: nonNegativeInt.optional(),
    /**
     * Time each attempt of a retryable request (idempotent method, replayable body) gets for the
     * response headers; on expiry it is retried on another endpoint (like a reset, without the retry
     * budget), so a request stuck on an endpoint that vanished without a RST still gets an answer
     * within the route's timeoutMs. Other requests keep the route's timeoutMs. 0 = off. @default 0
     */
    perTryTimeoutMs: timerMs.optional(),
  })
  .strict();

export const DEFAULT_RETRY = {
  maxRetries: 2,
  retryOn: ['connect-failure', 'reset'] as Array<(typeof RETRY_ON)[number]>,
  maxBufferedBodyBytes: 1024 * 1024,
  budgetPercent: 20,
  minRetryConcurrency: 3,
  perTryTimeoutMs: 0,
};

/** Which requests of a route are long polls: every query field named must match. */
export const LongPollMatchSchema = z
  .object({
    /** Query fields and their values (`{ Cmd: Ping }` or `{ Cmd: [Ping, Sync] }`). */
    query: z.record(
      z.string().min(1).refine(notReserved, reservedError),
      z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], { error: 'expected a value or a list of values' }),
    ),
  })
  .strict();

/** What `clusterDefaults` may give a cluster by its name. */
export const ClusterDefaultsSchema = z
  .object({
    longPoll: z.union([z.boolean(), LongPollMatchSchema], { error: 'expected true, false or { query: { Cmd: Ping } }' }).optional(),
    timeoutMs: timerMs.optional(),
  })
  .strict();

/**
 * The settings a cluster gets by its name when it does not set them itself: the groupware's usual
 * cluster names, so that issue 4's config (clusters `activesync`, `assets`, `webmail`) works as
 * written. Data, not code: `clusterDefaults: {}` turns them off, and a config that names its
 * clusters' `longPoll`/`timeoutMs` (as the demo's and the lab's do) does not depend on them.
 */
export const DEFAULT_CLUSTER_DEFAULTS: Readonly<Record<string, z.input<typeof ClusterDefaultsSchema>>> = Object.freeze({
  /** ActiveSync's Ping is its only hanging command (MS-ASCMD). */
  activesync: { longPoll: { query: { Cmd: 'Ping' } } },
  assets: { timeoutMs: 30_000 },
});

export const RouteSchema = z
  .object({
    /** Name used in logs and metrics. @default the first prefix */
    name: z.string().min(1).refine(notReserved, reservedError).optional(),
    match: z
      .object({
        /** One prefix or a list; the first route (in order) with a matching prefix wins. */
        prefix: z.union([path, z.array(path).min(1, { error: 'expected at least one prefix' })], { error: 'expected a path starting with "/" or a list of them' }),
        /** Compare prefixes case-insensitively (ActiveSync clients vary the case). @default false */
        caseInsensitive: z.boolean().default(false),
        /**
         * Match on a segment boundary: `/Microsoft-Server-ActiveSync` matches itself, `/Microsoft-Server-ActiveSync/…`
         * and `…?query`, never `/Microsoft-Server-ActiveSyncEvil`. A prefix ending in `/` always matches as written. @default true
         */
        boundary: z.boolean().default(true),
      })
      .strict(),
    /** Name of a cluster in `clusters`. */
    cluster: z.string({ error: 'expected a cluster name' }).min(1),
    /**
     * Upstream timeout in ms for this route (0 = none): time to response headers and the longest
     * pause between body chunks. @default cluster `timeoutMs`, else 3660000 for long-poll routes, else
     * the cluster's `clusterDefaults` timeoutMs, else 60000
     */
    timeoutMs: timerMs.optional(),
    /**
     * The upstream may hold requests of this route open (ActiveSync Ping). `true`: every request is a long
     * poll; `{ query: { Cmd: Ping } }`: the route has long-poll timeouts and the requests whose query matches
     * (plain or ActiveSync's base64 form, names and values compared case-insensitively, a list of values
     * matches any) are long polls; `false`: none. Long polls use their own connections (`maxLongPolls`).
     * @default the cluster's `longPoll` (or its `clusterDefaults` entry), else false
     */
    longPoll: z.union([z.boolean(), LongPollMatchSchema], { error: 'expected true, false or { query: { Cmd: Ping } }' }).optional(),
    /** Largest request body accepted (413 above). @default 20 MiB on long-poll routes, else 25 MiB */
    bodyLimitBytes: positiveInt.optional(),
    /** Longest pause between two chunks of the client's request body (408 and close; 0 = none). @default 60000 */
    clientBodyTimeoutMs: timerMs.default(60_000),
    /**
     * A response write to the client that makes no progress for this long closes that client and frees the
     * upstream connection (0 = none). Waiting for the upstream (a Ping's long poll) never counts. @default 60000
     */
    clientSendTimeoutMs: timerMs.default(60_000),
    retry: RetryPolicySchema.optional(),
  })
  .strict();

export const HashOnSchema = z
  .object({
    /** Query parameter; `DeviceId` is also read from ActiveSync's base64-encoded query. */
    query: z.string().min(1).optional(),
    header: z.string().min(1).optional(),
    cookie: z.string().min(1).optional(),
  })
  .strict();

export const EndpointSchema = z
  .object({
    /** `http://host:port` of the upstream. */
    url: upstreamUrl,
    /** Relative share of traffic. @default 1 */
    weight: positiveInt.default(1),
    /** keepalived-style priority: the highest group with a healthy endpoint takes the traffic. @default 100 */
    priority: nonNegativeInt.default(100),
    /** Take traffic only when no other endpoint of the cluster is healthy. @default false */
    backup: z.boolean().default(false),
  })
  .strict();

export const HealthCheckSchema = z
  .object({
    /** Path requested with GET. @default '/healthz' */
    path: path.default('/healthz'),
    /** Time between checks. @default 5000 */
    intervalMs: positiveTimerMs.default(5000),
    /** A check slower than this fails. @default 1000 */
    timeoutMs: positiveTimerMs.default(1000),
    /** Consecutive passes that bring an unhealthy endpoint back. @default 2 */
    healthyThreshold: positiveInt.default(2),
    /** Consecutive failures that take an endpoint out. @default 2 */
    unhealthyThreshold: positiveInt.default(2),
    /** Statuses that pass. @default ['200-399'] */
    expectedStatuses: z.array(statusSpec).min(1).default(['200-399']),
    /** Random extra delay (0..jitterMs) added to each interval. @default 0 */
    jitterMs: timerMs.default(0),
    /** Host header of the check. @default the endpoint's host:port */
    host: z.string().min(1).optional(),
  })
  .strict();

export const OutlierDetectionSchema = z
  .object({
    /** Eject after this many consecutive connect failures/resets/timeouts (0 = off). @default 5 */
    consecutiveGatewayFailures: nonNegativeInt.default(5),
    /** Eject after this many consecutive 5xx answers (0 = off). @default 5 */
    consecutive5xx: nonNegativeInt.default(5),
    /** Ejection time = base × number of times ejected (capped by maxEjectionTimeMs). @default 30000 */
    baseEjectionTimeMs: positiveTimerMs.default(30_000),
    /** @default 300000 */
    maxEjectionTimeMs: positiveTimerMs.default(300_000),
    /** At most this share of the cluster is ejected at once (at least one endpoint). @default 50 */
    maxEjectionPercent: percent.default(50),
  })
  .strict();

export const LB_POLICIES = ['round_robin', 'least_request', 'ring_hash', 'random'] as const;

export const ClusterSchema = z
  .object({
    /** @default 'round_robin' */
    lbPolicy: z.enum(LB_POLICIES, { error: `expected one of ${LB_POLICIES.join(', ')}` }).default('round_robin'),
    /** What `ring_hash` hashes: exactly one of query, header, cookie. */
    hashOn: HashOnSchema.optional(),
    endpoints: z.array(EndpointSchema).min(1, { error: 'expected at least one endpoint' }),
    /** Active health checks; without it endpoints count as healthy unless ejected. */
    healthCheck: HealthCheckSchema.optional(),
    outlierDetection: OutlierDetectionSchema.prefault({}),
    /** Below this percentage of healthy endpoints, all (non-drained) endpoints get traffic; at 0 % healthy, every non-drained endpoint that passes its active check, outlier-ejected ones included (503 only when none does). 0 turns panic off. @default 50 */
    healthyPanicThreshold: percent.default(50),
    /** Move traffic back to a higher-priority group when it recovers. @default true */
    preempt: z.boolean().default(true),
    /** Default upstream timeout of the cluster's routes (see routes[].timeoutMs). @default `clusterDefaults[<name>].timeoutMs` */
    timeoutMs: timerMs.optional(),
    /** The cluster serves long polls: the default of its routes' `longPoll` (see routes[].longPoll). @default `clusterDefaults[<name>].longPoll`, else false */
    longPoll: z.union([z.boolean(), LongPollMatchSchema], { error: 'expected true, false or { query: { Cmd: Ping } }' }).optional(),
    /** TCP connect timeout per attempt. @default 2000 */
    connectTimeoutMs: positiveTimerMs.default(2000),
    /** Connections per endpoint for ordinary (not long-poll) requests (undici Pool). @default 256 */
    connectionsPerEndpoint: positiveInt.default(256),
    /**
     * Long polls (see routes[].longPoll) in flight per endpoint, on connections of their own; one more is
     * answered 503 with Retry-After at once. Each takes two sockets of the gateway. @default 10000
     */
    maxLongPolls: positiveInt.max(1_000_000).default(10_000),
    /**
     * Longest an ordinary request waits for one of the endpoint's `connectionsPerEndpoint` connections;
     * then 503 with Retry-After (0 = answer 503 at once when all are busy). @default 5000
     */
    queueTimeoutMs: timerMs.default(5000),
    /** Idle keep-alive time of upstream connections. @default 4000 */
    keepAliveTimeoutMs: positiveTimerMs.default(4000),
    /** WebSocket connections open to the cluster at once; further upgrades get 503. @default 1024 */
    maxWebSocketConnections: positiveInt.default(1024),
  })
  .strict();

export const GatewayConfigSchema = z
  .object({
    listeners: z.array(ListenerSchema).min(1, { error: 'expected at least one listener' }),
    /** The admin listener (/metrics, /status, drain API); never served on the public listeners. */
    admin: AdminSchema.optional(),
    /** Peers (CIDRs) whose X-Forwarded-* and X-Request-Id are trusted; others' are dropped. @default [] */
    trustedProxies: z.array(cidr).default([]),
    /** Header carrying the request id. @default 'x-request-id' */
    requestIdHeader: headerName
      .transform((h) => h.toLowerCase())
      .refine((h) => !FRAMING_HEADERS.has(h), { error: 'a framing, routing or hop-by-hop header cannot carry the request id; use e.g. x-request-id' })
      .default('x-request-id'),
    /** Extra request headers dropped from untrusted peers, besides X-Forwarded-* and the client-IP list (X-Real-IP, X-Client-IP, True-Client-IP, CF-Connecting-IP, X-Original-URL, X-Rewrite-URL, ...). @default [] */
    stripHeaders: z.array(headerName.transform((h) => h.toLowerCase())).default([]),
    /** Seconds in the Retry-After header of 503 answers. @default 5 */
    retryAfterSeconds: nonNegativeInt.max(86_400).default(5),
    /** The operator's HTML page by status (`{ 503: /etc/webtier/503.html }`), served to clients that prefer text/html. @default {} */
    errorPages: z.record(z.string().regex(/^[45]\d\d$/, { error: 'expected an HTTP status 400-599' }), z.string().min(1)).default({}),
    /** On SIGTERM/close, in-flight requests get this long to finish. @default 30000 */
    drainTimeoutMs: timerMs.default(30_000),
    /**
     * On SIGTERM/close, before the drain: /readyz answers 503 at once (keepalived's check fails and
     * the peer takes the service address) while the listeners keep accepting and serving for this
     * long, each response with `Connection: close` so clients reconnect to the address's new holder;
     * then the drain (stop accepting, in-flight requests get drainTimeoutMs). Like Envoy's drain time
     * or a Kubernetes preStop sleep. Behind keepalived, about 3000 (longer than the address move);
     * 0 stops accepting at once. @default 0
     */
    drainDelayMs: timerMs.default(0),
    /**
     * Worker processes of the CLI (node:cluster) behind the same listeners; 'auto' is one per core.
     * Only the CLI reads it (startGateway runs in the calling process). @default 1
     */
    workers: z.union([z.int().min(1).max(9999), z.literal('auto')], { error: 'expected a whole number from 1 to 9999 or "auto"' }).default(1),
    /** One access-log line per request. @default true */
    accessLog: z.boolean().default(true),
    /** pino level. @default 'info' */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Default retry policy of every route. */
    retry: RetryPolicySchema.prefault({}),
    /** `longPoll` and `timeoutMs` by cluster name, for clusters that do not set them. @default DEFAULT_CLUSTER_DEFAULTS (activesync: long polls on Cmd=Ping; assets: timeoutMs 30000) */
    clusterDefaults: z.record(z.string(), ClusterDefaultsSchema).default(() => structuredClone({ ...DEFAULT_CLUSTER_DEFAULTS })),
    routes: z.array(RouteSchema).min(1, { error: 'expected at least one route' }),
    clusters: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, { error: 'cluster names use letters, digits, _ . -' }), ClusterSchema),
  })
  .strict();

/** The config as written in the file (defaults optional). */
export type GatewayConfigInput = z.input<typeof GatewayConfigSchema>;
/** The validated, defaulted and frozen config. */
export type GatewayConfig = Readonly<z.output<typeof GatewayConfigSchema>>;
export type ListenerConfig = z.output<typeof ListenerSchema>;
export type ClusterConfig = z.output<typeof ClusterSchema>;
export type EndpointConfig = z.output<typeof EndpointSchema>;
export type RouteConfig = z.output<typeof RouteSchema>;
export type LongPollMatch = z.output<typeof LongPollMatchSchema>;
export type HealthCheckConfig = z.output<typeof HealthCheckSchema>;
export type OutlierDetectionConfig = z.output<typeof OutlierDetectionSchema>;
export type RetryPolicyInput = z.output<typeof RetryPolicySchema>;
export type RetryOn = (typeof RETRY_ON)[number];
export type LbPolicy = (typeof LB_POLICIES)[number];
