import { formatNodeId, parseHostPort } from '@webtier/hash-ring';
import { resolveEncryption, type EncryptionOptions, type Sealer } from './Encryption.js';
import { SessionStoreError, SessionStoreErrorCodes } from './errors.js';

/** How `get` reads the replicas of a key. */
export type ReadMode = 'all' | 'primary';

/** Options of {@link ReplicatedMemcachedStore}. Give exactly one of `servers` or `pairs`. */
export interface ReplicatedMemcachedStoreOptions {
  /** memcached nodes as `"host:port"`; the ring (libmemcached ketama) is built over them. */
  servers?: readonly string[];
  /**
   * Pairs mode (the Kolab multi-server layout): every session lives on both members of one pair.
   * The ring is built over the first member of each pair. Excludes `servers`.
   */
  pairs?: ReadonlyArray<readonly [string, string] | readonly string[]>;
  /** Distinct nodes each session is written to (ring mode only). @default 2 */
  replicas?: number;
  /** Prefix of every memcached key this store writes; `all`/`clear` touch only keys with it. @default 'sess:' */
  prefix?: string;
  /** TTL when the session cookie has neither `expires` nor `maxAge`. @default 86400 */
  ttlSeconds?: number;
  /** Alias of `ttlSeconds` (the name connect-redis and connect-memjs users know). */
  ttl?: number;
  /** How long a destroyed session's tombstone is kept. @default 86400 */
  tombstoneTtlSeconds?: number;
  /** Upper bound of every memcached operation, enforced by the store's own timer. @default 500 */
  opTimeoutMs?: number;
  /** TCP connect timeout handed to memjs. @default 1000 */
  connectTimeoutMs?: number;
  /** Consecutive failures (timeouts, refused connections, errors) that eject a node. @default 3 */
  failureThreshold?: number;
  /** First wait before an ejected node is probed; doubles after each failed probe. @default 1000 */
  retryIntervalMs?: number;
  /** Cap of the probe backoff. @default 30000 */
  maxRetryIntervalMs?: number;
  /** Interval of the `stats` check of live nodes that notices a restarted (empty) node. @default 2000 */
  healthCheckIntervalMs?: number;
  /**
   * `'all'`: read every replica in parallel, return the newest (strongest). `'primary'`: read the first
   * live replica and fall back to all replicas on a miss, an error, or while that node may hold stale
   * data (it missed a write or rejoined and has not been re-synced yet). @default 'all'
   */
  readMode?: ReadMode;
  /** Keys per second a re-sync copies at most, so it never swamps the cluster. @default 1000 */
  resyncRatePerSec?: number;
  /** Re-sync a node automatically when it restarted empty or rejoined after missing writes. @default true */
  autoResync?: boolean;
  /** memcached's item size limit (`-I`); larger sessions fail with SESS_ERR_TOO_LARGE. @default 1048576 */
  itemSizeLimitBytes?: number;
  /** SASL user passed to memjs. */
  username?: string;
  /** SASL password passed to memjs. */
  password?: string;
  /** Identity of this writer in version stamps (uint32); random by default. */
  writerId?: number;
  /**
   * Authenticated encryption at rest (AES-256-GCM): `{ keys: [{ id: 'k2', key }, { id: 'k1', key }] }`.
   * The first key seals every write, every listed key opens reads; values sealed with an older key
   * are re-sealed on their next write, repair, touch or re-sync. With it on, a value that is not
   * sealed by a listed key is corrupt. Off by default (values are then readable and forgeable by
   * anyone who can reach memcached; see the README's threat model).
   */
  encryption?: EncryptionOptions;
  /**
   * A value whose version is further ahead of this process's clock than this is corrupt, not newer,
   * so that no value read from memcached can move the version clock out of range. @default 60000
   */
  maxClockSkewMs?: number;
  /**
   * What `set` does when the stored session changed since this request read it (another request of
   * the same user saved in between). `'merge'`: apply only this request's changes (top-level keys
   * added, changed, removed) to the newest stored session, conditionally (CAS) on every replica.
   * `'last-write-wins'`: write the whole session, as every other store does. @default 'merge'
   */
  concurrentWrites?: ConcurrentWrites;
  /** Keys whose object values merge one level deeper (e.g. Roundcube's `compose_data_<id>`). @default [] */
  mergeNestedKeys?: readonly string[];
  /** Attempts of a merged write before it fails with SESS_ERR_CONFLICT. @default 5 */
  mergeMaxAttempts?: number;
  /**
   * 0 turns read tracking off (every `set` is written whole, as 'last-write-wins'). Any other value
   * keeps it on. The read rides on the request's session object and goes with it, so this no longer
   * bounds a table (there is none); kept for compatibility. @default 10000
   */
  readTrackingMax?: number;
  /** How old a read may be and still be merged (a long poll may hold its session this long). @default 3600000 */
  readTrackingMaxAgeMs?: number;
}

/** See {@link ReplicatedMemcachedStoreOptions.concurrentWrites}. */
export type ConcurrentWrites = 'merge' | 'last-write-wins';

/** Options after validation, defaults applied; frozen. */
export interface ResolvedOptions {
  readonly mode: 'ring' | 'pairs';
  /** Every node, `"host:port"`, in the order given. */
  readonly nodes: readonly string[];
  readonly pairs: ReadonlyArray<readonly [string, string]>;
  readonly replicas: number;
  readonly prefix: string;
  readonly ttlSeconds: number;
  readonly tombstoneTtlSeconds: number;
  readonly opTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly failureThreshold: number;
  readonly retryIntervalMs: number;
  readonly maxRetryIntervalMs: number;
  readonly healthCheckIntervalMs: number;
  readonly readMode: ReadMode;
  readonly resyncRatePerSec: number;
  readonly autoResync: boolean;
  readonly itemSizeLimitBytes: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly writerId: number;
  /** The validated keys; undefined when encryption is off. */
  readonly encryption: Sealer | undefined;
  readonly maxClockSkewMs: number;
  readonly concurrentWrites: ConcurrentWrites;
  readonly mergeNestedKeys: ReadonlySet<string>;
  readonly mergeMaxAttempts: number;
  readonly readTrackingMax: number;
  readonly readTrackingMaxAgeMs: number;
}

/** The defaults, exported so that callers and docs never retype them. */
export const DEFAULT_STORE_OPTIONS = Object.freeze({
  replicas: 2,
  prefix: 'sess:',
  ttlSeconds: 86_400,
  tombstoneTtlSeconds: 86_400,
  opTimeoutMs: 500,
  connectTimeoutMs: 1_000,
  failureThreshold: 3,
  retryIntervalMs: 1_000,
  maxRetryIntervalMs: 30_000,
  healthCheckIntervalMs: 2_000,
  readMode: 'all' as ReadMode,
  resyncRatePerSec: 1_000,
  autoResync: true,
  itemSizeLimitBytes: 1_048_576,
  maxClockSkewMs: 60_000,
  concurrentWrites: 'merge' as ConcurrentWrites,
  mergeMaxAttempts: 5,
  readTrackingMax: 10_000,
  readTrackingMaxAgeMs: 3_600_000,
});

const KNOWN = new Set([
  'servers', 'pairs', 'replicas', 'prefix', 'ttlSeconds', 'ttl', 'tombstoneTtlSeconds', 'opTimeoutMs', 'connectTimeoutMs',
  'failureThreshold', 'retryIntervalMs', 'maxRetryIntervalMs', 'healthCheckIntervalMs', 'readMode', 'resyncRatePerSec',
  'autoResync', 'itemSizeLimitBytes', 'username', 'password', 'writerId', 'encryption', 'maxClockSkewMs',
  'concurrentWrites', 'mergeNestedKeys', 'mergeMaxAttempts', 'readTrackingMax', 'readTrackingMaxAgeMs',
]);

function bad(message: string): SessionStoreError {
  return new SessionStoreError(SessionStoreErrorCodes.BAD_OPTION, message);
}

/**
 * Parses `"host:port"` (IPv6 as `"[::1]:11211"`; a bare `"::1"` is refused with the bracketed form in the
 * message) with @webtier/hash-ring's parser, the one host:port parser of webtier; returns the canonical form.
 */
export function parseAddress(input: unknown, where: string): string {
  if (typeof input !== 'string') throw bad(`${where}: expected "host:port", got ${JSON.stringify(input) ?? String(input)}`);
  let parsed: { host: string; port: number };
  try {
    parsed = parseHostPort(input, where, { quoteInput: false });
  } catch (err) {
    throw new SessionStoreError(SessionStoreErrorCodes.BAD_OPTION, (err as Error).message, { cause: err });
  }
  if (/[,@/]/.test(parsed.host)) throw bad(`${where}: host "${parsed.host}" in "${input}" contains ",", "@" or "/"`);
  return formatNodeId(parsed.host, parsed.port);
}

/** Host and port of a canonical address produced by {@link parseAddress}. */
export function splitAddress(address: string): { host: string; port: number } {
  return parseHostPort(address, 'address');
}

function int(o: Record<string, unknown>, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(`${name}: ${JSON.stringify(v)} is not an integer`);
  if (v < min || v > max) throw bad(`${name}: ${v} is out of range ${min}-${max}`);
  return v;
}

function optionalString(o: Record<string, unknown>, name: string): string | undefined {
  const v = o[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw bad(`${name}: expected a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

/** Validates `input` eagerly; every error names the option and what is wrong with it. */
export function resolveOptions(input: unknown): ResolvedOptions {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw bad('options: expected an object such as { servers: ["127.0.0.1:11211", "127.0.0.1:11212"] }');
  }
  const o = input as Record<string, unknown>;
  for (const name of Object.keys(o)) {
    if (!KNOWN.has(name) && o[name] !== undefined) throw bad(`${name}: unknown option (known: ${[...KNOWN].join(', ')})`);
  }
  const d = DEFAULT_STORE_OPTIONS;
  let mode: 'ring' | 'pairs';
  let nodes: string[];
  let pairs: Array<readonly [string, string]> = [];
  if (o['servers'] !== undefined && o['pairs'] !== undefined) throw bad('servers and pairs: give one of them, not both');
  if (o['pairs'] !== undefined) {
    mode = 'pairs';
    const raw = o['pairs'];
    if (!Array.isArray(raw) || raw.length === 0) throw bad('pairs: expected a non-empty array of ["host:port", "host:port"] pairs');
    pairs = raw.map((p: unknown, i) => {
      if (!Array.isArray(p) || p.length !== 2) throw bad(`pairs[${i}]: expected exactly two "host:port" strings, got ${JSON.stringify(p)}`);
      return [parseAddress(p[0], `pairs[${i}][0]`), parseAddress(p[1], `pairs[${i}][1]`)] as const;
    });
    nodes = pairs.flat();
    if (o['replicas'] !== undefined && o['replicas'] !== 2) throw bad(`replicas: ${JSON.stringify(o['replicas'])} cannot be set in pairs mode (each session lives on the 2 members of its pair)`);
  } else {
    mode = 'ring';
    const raw = o['servers'];
    if (!Array.isArray(raw) || raw.length === 0) throw bad('servers: expected a non-empty array of "host:port" strings, e.g. ["10.0.0.1:11211", "10.0.0.2:11211"]');
    nodes = raw.map((s: unknown, i) => parseAddress(s, `servers[${i}]`));
  }
  const where = mode === 'ring' ? 'servers' : 'pairs (flattened)';
  const seen = new Map<string, number>();
  nodes.forEach((n, i) => {
    const first = seen.get(n);
    if (first !== undefined) throw bad(`${where}[${i}]: "${n}" is listed twice (also at index ${first})`);
    seen.set(n, i);
  });
  const replicas = mode === 'pairs' ? 2 : int(o, 'replicas', d.replicas, 1, nodes.length);
  const prefix = o['prefix'] === undefined ? d.prefix : o['prefix'];
  if (typeof prefix !== 'string' || /[\s\x00-\x1f\x7f]/.test(prefix) || Buffer.byteLength(prefix) > 200) {
    throw bad(`prefix: ${JSON.stringify(prefix)} must be a string without whitespace or control characters, at most 200 bytes`);
  }
  if (o['ttl'] !== undefined && o['ttlSeconds'] !== undefined) throw bad('ttl and ttlSeconds: give one of them (ttl is an alias)');
  const ttlSeconds = o['ttl'] !== undefined ? int(o, 'ttl', d.ttlSeconds, 1) : int(o, 'ttlSeconds', d.ttlSeconds, 1);
  const readMode = o['readMode'] === undefined ? d.readMode : o['readMode'];
  if (readMode !== 'all' && readMode !== 'primary') throw bad(`readMode: ${JSON.stringify(readMode)} is not "all" or "primary"`);
  const autoResync = o['autoResync'] === undefined ? d.autoResync : o['autoResync'];
  if (typeof autoResync !== 'boolean') throw bad(`autoResync: ${JSON.stringify(autoResync)} is not a boolean`);
  const username = optionalString(o, 'username');
  const password = optionalString(o, 'password');
  if ((username === undefined) !== (password === undefined)) throw bad('username and password: give both for SASL, or neither');
  const retryIntervalMs = int(o, 'retryIntervalMs', d.retryIntervalMs, 1);
  const maxRetryIntervalMs = int(o, 'maxRetryIntervalMs', Math.max(d.maxRetryIntervalMs, retryIntervalMs), 1);
  if (maxRetryIntervalMs < retryIntervalMs) throw bad(`maxRetryIntervalMs: ${maxRetryIntervalMs} is below retryIntervalMs ${retryIntervalMs}`);
  const concurrentWrites = o['concurrentWrites'] === undefined ? d.concurrentWrites : o['concurrentWrites'];
  if (concurrentWrites !== 'merge' && concurrentWrites !== 'last-write-wins') throw bad(`concurrentWrites: ${JSON.stringify(concurrentWrites)} is not "merge" or "last-write-wins"`);
  const mergeNestedKeys = o['mergeNestedKeys'] ?? [];
  if (!Array.isArray(mergeNestedKeys) || mergeNestedKeys.some((k) => typeof k !== 'string' || k === '' || k === 'cookie')) {
    throw bad(`mergeNestedKeys: ${JSON.stringify(mergeNestedKeys)} must be an array of top-level session keys (not "cookie")`);
  }
  return Object.freeze({
    mode,
    nodes: Object.freeze(nodes),
    pairs: Object.freeze(pairs),
    replicas,
    prefix,
    ttlSeconds,
    tombstoneTtlSeconds: int(o, 'tombstoneTtlSeconds', d.tombstoneTtlSeconds, 1),
    opTimeoutMs: int(o, 'opTimeoutMs', d.opTimeoutMs, 1, 600_000),
    connectTimeoutMs: int(o, 'connectTimeoutMs', d.connectTimeoutMs, 1, 600_000),
    failureThreshold: int(o, 'failureThreshold', d.failureThreshold, 1),
    retryIntervalMs,
    maxRetryIntervalMs,
    healthCheckIntervalMs: int(o, 'healthCheckIntervalMs', d.healthCheckIntervalMs, 10),
    readMode,
    resyncRatePerSec: int(o, 'resyncRatePerSec', d.resyncRatePerSec, 1),
    autoResync,
    itemSizeLimitBytes: int(o, 'itemSizeLimitBytes', d.itemSizeLimitBytes, 1024),
    username,
    password,
    writerId: int(o, 'writerId', (Math.random() * 0x1_0000_0000) >>> 0, 0, 0xffff_ffff),
    encryption: resolveEncryption(o['encryption']),
    maxClockSkewMs: int(o, 'maxClockSkewMs', d.maxClockSkewMs, 0, 86_400_000),
    concurrentWrites,
    mergeNestedKeys: Object.freeze(new Set(mergeNestedKeys)),
    mergeMaxAttempts: int(o, 'mergeMaxAttempts', d.mergeMaxAttempts, 1, 100),
    readTrackingMax: int(o, 'readTrackingMax', d.readTrackingMax, 0, 10_000_000),
    readTrackingMaxAgeMs: int(o, 'readTrackingMaxAgeMs', d.readTrackingMaxAgeMs, 1),
  });
}
