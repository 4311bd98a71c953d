// Logged-in users driven by autocannon (programmatic API): every connection is one user with its
// own session cookie, logged in before the measured run (POST /api/login); every request reads and
// writes that session (/api/session-touch, GET and POST alternately). A request answered
// 401 {"error":"login required"} means the user's session is gone: the session is counted as lost
// and that connection logs in again (POST /api/login), as the user would, then carries on.
// Everything is counted per second of completion time.
//
// Two client behaviours of real HTTP clients (browsers, undici), each an option because autocannon has
// neither: `honourConnectionClose` (a response with `Connection: close` ends the connection; the next
// request goes on a new one; autocannon writes it on the closing socket, where it is lost), and
// `retryStale` (RFC 9112 §9.3.1: a GET whose reused keep-alive connection was closed or reset before any
// byte of its response is sent again once on a new connection; never a POST, never a new connection's
// request). Retries are counted on their own (`retries`), never as successes hidden among the others.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// autocannon is CommonJS without bundled types: the part used here, typed.
interface AutocannonClient {
  setRequests(requests: AutocannonRequest[]): void;
  on(event: 'connError', fn: () => void): void;
  emit(event: string, ...args: unknown[]): boolean;
  parser: { type: string; initialize(type: string): void };
  pipelinedRequests: { size(): number; clear(): void };
  conn: import('node:net').Socket;
  destroyed: boolean;
  _connect(): void;
  _doRequest(): void;
  _destroyConnection(): void;
}
interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  setupRequest?: (req: AutocannonRequest, context: unknown) => AutocannonRequest;
  onResponse?: (status: number, body: string, context: unknown, headers: Record<string, string | string[]>) => void;
}
interface AutocannonInstance extends PromiseLike<unknown> {
  on(event: 'response', fn: (client: AutocannonClient, status: number, bytes: number, latencyMs: number) => void): this;
  on(event: 'reqError', fn: (err: Error) => void): this;
  stop(): void;
}
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => AutocannonInstance;

export interface Login {
  user: string;
  password: string;
}

/** What the load counts, per second (SecondSample) and over a run (analysis.ts's Totals). */
export interface LoadCounts {
  /** Session-touch responses (the users' traffic), any status. */
  requests: number;
  /** Session-touch responses with a 2xx status: what the users got done. */
  ok: number;
  /** Session-touch responses with a non-2xx status (401s included). */
  non2xx: number;
  /** Session-touch responses "login required" (401). */
  loginRequired: number;
  /** Distinct sessions seen lost for the first time in this second. */
  sessionsLost: number;
  /** Non-2xx other than 401 (touch and login), socket errors and timeouts. */
  errors: number;
  timeouts: number;
  socketErrors: number;
  /** Logins after a lost session (successful ones). */
  relogins: number;
  /** GETs sent again after their reused connection closed before any response byte (retryStale); not in `errors`. */
  retries: number;
  /** New connections opened because a response said `Connection: close` (honourConnectionClose); not failures. */
  closeReconnects: number;
}

/** The counters of LoadCounts, for code that adds samples up. */
export const LOAD_COUNT_KEYS = ['requests', 'ok', 'non2xx', 'loginRequired', 'sessionsLost', 'errors', 'timeouts', 'socketErrors', 'relogins', 'retries', 'closeReconnects'] as const satisfies ReadonlyArray<keyof LoadCounts>;

/** The counters of several samples added up (a run's seconds, or the loads of one second). */
export function sumCounts(samples: readonly LoadCounts[]): LoadCounts {
  const out = Object.fromEntries(LOAD_COUNT_KEYS.map((k) => [k, 0])) as unknown as LoadCounts;
  for (const s of samples) for (const k of LOAD_COUNT_KEYS) out[k] += s[k];
  return out;
}

export interface SecondSample extends LoadCounts {
  /** The second [t, t+1) of the run in which the responses completed. */
  t: number;
  /**
   * Latency of the successful (2xx) session-touch responses of this second (ms), null when none:
   * fast failures (a 503 in 1 ms) would otherwise make a failing system look fast.
   */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface LoadResult {
  durationSec: number;
  connections: number;
  seconds: SecondSample[];
  /** Distinct sessions that got "login required". */
  sessionsLost: number;
  /** Every answer by request and status, and every socket error by message, e.g. { "GET /api/session-touch 200": 81234, "POST /api/session-touch 502": 2 }. */
  statuses: Record<string, number>;
  /** Latencies of every successful session-touch response (ms), sorted ascending. */
  latenciesMs: Float64Array;
  /** Per second: the latencies of that second's successful session-touch responses (ms), sorted (a fault window's p99). */
  secondLatenciesMs: Float64Array[];
  /** Per second: every answer other than 200 and every socket error, as in `statuses` (a fault window's failures by kind). */
  secondFailures: Array<Record<string, number>>;
  /** Per second: the retries by cause (retryStale), e.g. { "GET retried after read ECONNRESET on a reused connection": 3 }. */
  secondRetries: Array<Record<string, number>>;
  /** The first failures and retries with their time (ms since the load's start), at most TRACE_LIMIT. */
  trace: Array<{ atMs: number; what: string }>;
}

/** How many failures and retries LoadResult.trace keeps. */
export const TRACE_LIMIT = 5000;

export interface LoadOptions {
  /** The proxy's URL. */
  url: string;
  /** One session cookie per connection (from loginUsers). */
  cookies: readonly string[];
  durationSec: number;
  /** The accounts connections log in again with after a lost session. */
  logins: readonly Login[];
  /** autocannon's per-request timeout, s. @default 10 */
  timeoutSec?: number;
  /** Called once per second with the second that just ended (its late responses may still be missing). */
  onSecond?: (sample: SecondSample) => void;
  /** Called right after the load starts, with the start time (performance.now()). */
  onStart?: (startedAt: number) => void;
  /** A response with `Connection: close` ends its connection, as in a browser (autocannon alone writes the next request on it). @default false */
  honourConnectionClose?: boolean;
  /** Send a GET again, once, when its reused connection closed or reset before any response byte (RFC 9112 §9.3.1); counted in `retries`. @default false */
  retryStale?: boolean;
}

/** The session cookie ("name=value") from a response's set-cookie header(s). */
export function sessionCookie(setCookie: string | string[] | undefined): string | undefined {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  for (const c of list) {
    const pair = c.split(';', 1)[0]!;
    if (pair.startsWith('roundcube_sessid=')) return pair;
  }
  return undefined;
}

/** Logs `count` users in through the proxy (POST /api/login), a few at a time; returns their cookies. */
export async function loginUsers(url: string, count: number, logins: readonly Login[], parallel = 4): Promise<string[]> {
  const cookies: string[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        const i = next++;
        const login = logins[i % logins.length]!;
        const res = await fetch(`${url}/api/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ user: login.user, password: login.password }),
          redirect: 'manual',
          signal: AbortSignal.timeout(10_000),
        });
        const cookie = sessionCookie(res.headers.getSetCookie());
        if (res.status !== 200 || !cookie) throw new Error(`login ${i} as ${login.user} through ${url}: HTTP ${res.status} ${await res.text()}`);
        cookies[i] = cookie;
      }
    }),
  );
  return cookies;
}

function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Rounds to 0.01 ms. */
const r2 = (x: number | null) => (x === null ? null : Math.round(x * 100) / 100);

export function latencySummary(sorted: ArrayLike<number>): { p50Ms: number | null; p99Ms: number | null; maxMs: number | null } {
  return { p50Ms: r2(percentile(sorted, 50)), p99Ms: r2(percentile(sorted, 99)), maxMs: r2(sorted.length ? sorted[sorted.length - 1]! : null) };
}

interface Bucket extends LoadCounts {
  latencies: number[];
}

const emptyBucket = (): Bucket => ({ requests: 0, ok: 0, non2xx: 0, loginRequired: 0, sessionsLost: 0, errors: 0, timeouts: 0, socketErrors: 0, relogins: 0, retries: 0, closeReconnects: 0, latencies: [] });

function sample(t: number, b: Bucket): SecondSample {
  const sorted = Float64Array.from(b.latencies).sort();
  const { latencies: _, ...counts } = b;
  return { t, ...counts, ...latencySummary(sorted) };
}

interface ConnectionState {
  cookie: string;
  needLogin: boolean;
  pending: 'touch' | 'login';
  /** "POST /api/session-touch": the request in flight. */
  request: string;
  touches: number;
  loginIndex: number;
  /** Send the last GET again (retryStale). */
  retry: boolean;
}

/** The current socket of one autocannon client. */
interface ConnectionUse {
  /** Responses completed on it: more than 0 means a reused connection. */
  responses: number;
  /** Its last response said `Connection: close`. */
  closeAnnounced: boolean;
  /** A byte of the pending request's response arrived. */
  gotBytes: boolean;
  /** The pending request's failure was turned into a retry. */
  retrying: boolean;
}

/** Which connection a failed request was on: the cause of a cut-off request in the lab's drain experiments. */
function connectionKind(c: ConnectionUse): string {
  if (c.closeAnnounced) return 'after Connection: close';
  return c.responses > 0 ? 'reused connection' : 'new connection';
}

/** Runs the load for durationSec and resolves with per-second samples and totals. */
export async function runSessionLoad(o: LoadOptions): Promise<LoadResult> {
  const connections = o.cookies.length;
  const buckets: Bucket[] = [];
  const statuses: Record<string, number> = {};
  const lost = new Set<string>();
  const failures: Array<Record<string, number>> = [];
  const retried: Array<Record<string, number>> = [];
  const trace: Array<{ atMs: number; what: string }> = [];
  const count = (per: Array<Record<string, number>>, what: string) => {
    const atMs = performance.now() - startedAt;
    const f = (per[Math.max(0, Math.floor(atMs / 1000))] ??= {});
    f[what] = (f[what] ?? 0) + 1;
    if (trace.length < TRACE_LIMIT) trace.push({ atMs: Math.round(atMs), what });
  };
  const failed = (what: string) => count(failures, what);
  const states = new WeakMap<AutocannonClient, ConnectionState>();
  let startedAt = 0;
  const bucket = () => {
    const t = Math.max(0, Math.floor((performance.now() - startedAt) / 1000));
    for (let i = buckets.length; i <= t; i++) buckets.push(emptyBucket());
    return buckets[t]!;
  };
  const cutOff = (c: ConnectionUse) => {
    const b = bucket();
    b.errors++;
    b.socketErrors++;
    const what = `socket: connection closed before the response ended (${connectionKind(c)})`;
    statuses[what] = (statuses[what] ?? 0) + 1;
    failed(what);
  };
  // The connection kind of the error autocannon reports next (its reqError does not say which client).
  let errorKind = '';
  const honour = o.honourConnectionClose ?? false;
  const retryStale = o.retryStale ?? false;
  let slot = 0;
  const setupClient = (client: AutocannonClient) => {
    const i = slot++ % connections;
    const state: ConnectionState = { cookie: o.cookies[i]!, needLogin: false, pending: 'touch', request: '', touches: 0, loginIndex: i, retry: false };
    states.set(client, state);
    const use: ConnectionUse = { responses: 0, closeAnnounced: false, gotBytes: false, retrying: false };
    // RFC 9112 §9.3.1: only an idempotent request, only on a reused connection, only before any response byte.
    const retryable = () => retryStale && state.pending === 'touch' && state.request.startsWith('GET ') && use.responses > 0 && !use.closeAnnounced && !use.gotBytes && client.pipelinedRequests.size() > 0;
    const retry = (cause: string) => {
      use.retrying = true;
      state.retry = true;
      bucket().retries++;
      count(retried, `GET retried after ${cause} on a reused connection`);
    };
    // autocannon reconnects when the server closes a connection, after a socket error and after a
    // timeout, but keeps its HTTP parser and (except after a timeout) the unanswered request: the
    // parser then takes the next response for the rest of the cut one and the connection stalls
    // until the timeout, again after every reconnect. Here every reconnect starts clean, and a
    // request cut off by the server closing the connection counts as a socket error (autocannon
    // counts nothing: the user would have seen a failed request).
    let countedByAutocannon = false;
    client.on('connError', () => {
      countedByAutocannon = true;
      errorKind = connectionKind(use);
    });
    // A reset that retryStale turns into a retry reaches neither autocannon's error count nor ours.
    const emit = client.emit;
    client.emit = (event: string, ...args: unknown[]) => {
      if (event === 'connError' && retryable()) {
        retry((args[0] as Error | undefined)?.message ?? 'a socket error');
        return true;
      }
      return emit.call(client, event, ...args);
    };
    const connect = client._connect;
    client._connect = () => {
      if (client.pipelinedRequests.size() > 0 && !countedByAutocannon && !use.retrying) {
        if (retryable()) retry('the connection closed');
        else cutOff(use);
      }
      // A timeout is reported right after this reconnect.
      errorKind = connectionKind(use);
      countedByAutocannon = false;
      Object.assign(use, { responses: 0, closeAnnounced: false, gotBytes: false, retrying: false });
      client.pipelinedRequests.clear();
      client.parser.initialize(client.parser.type);
      connect.call(client);
      // Before autocannon's parser (which may complete the response and send the next request, resetting gotBytes).
      client.conn.prependListener('data', () => (use.gotBytes = true));
    };
    const doRequest = client._doRequest;
    client._doRequest = () => {
      if (honour && use.closeAnnounced && !client.destroyed) {
        // The server said it closes this connection: the next request goes on a new one.
        // This runs inside the old socket's parser callback: the new connection (and its parser reset) waits a tick.
        bucket().closeReconnects++;
        client._destroyConnection();
        setImmediate(() => {
          if (!client.destroyed) client._connect();
        });
        return;
      }
      use.gotBytes = false;
      doRequest.call(client);
    };
    client.setRequests([
      {
        setupRequest: (req) => {
          if (state.needLogin) {
            state.pending = 'login';
            state.request = 'POST /api/login';
            const login = o.logins[state.loginIndex % o.logins.length]!;
            return { ...req, method: 'POST', path: '/api/login', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ user: login.user, password: login.password }) };
          }
          state.pending = 'touch';
          // A retry sends the same GET again.
          if (state.retry) state.touches--;
          state.retry = false;
          const post = ++state.touches % 2 === 0;
          state.request = post ? 'POST /api/session-touch' : 'GET /api/session-touch';
          return post
            ? { ...req, method: 'POST', path: '/api/session-touch', headers: { cookie: state.cookie, 'content-type': 'application/json', accept: 'application/json' }, body: '{}' }
            : { ...req, method: 'GET', path: '/api/session-touch', headers: { cookie: state.cookie, accept: 'application/json' }, body: '' };
        },
        onResponse: (status, _body, _context, headers) => {
          use.responses++;
          use.closeAnnounced = Object.entries(headers).some(([k, v]) => k.toLowerCase() === 'connection' && /\bclose\b/i.test(String(v)));
          if (state.pending === 'login') {
            const cookie = status === 200 ? sessionCookie(headers['set-cookie'] ?? headers['Set-Cookie']) : undefined;
            if (cookie) {
              state.cookie = cookie;
              state.needLogin = false;
            }
          } else if (status === 401) {
            state.needLogin = true;
          }
        },
      },
    ]);
  };
  const instance = autocannon({ url: o.url, connections, duration: o.durationSec, timeout: o.timeoutSec ?? 10, setupClient });
  startedAt = performance.now();
  o.onStart?.(startedAt);
  instance.on('response', (client, status, _bytes, latencyMs) => {
    const state = states.get(client);
    const b = bucket();
    const what = `${state?.request ?? '?'} ${status}`;
    statuses[what] = (statuses[what] ?? 0) + 1;
    if (status !== 200) failed(what);
    const ok = status >= 200 && status < 300;
    if (state?.pending === 'login') {
      if (ok) b.relogins++;
      else b.errors++;
      return;
    }
    b.requests++;
    if (ok) {
      b.ok++;
      b.latencies.push(latencyMs);
      return;
    }
    b.non2xx++;
    if (status === 401) {
      b.loginRequired++;
      // state.cookie is still the lost session's: the new one is set when the login answers.
      if (state && !lost.has(state.cookie)) {
        lost.add(state.cookie);
        b.sessionsLost++;
      }
    } else b.errors++;
  });
  instance.on('reqError', (err) => {
    const b = bucket();
    b.errors++;
    const what = `socket: ${err.message} (${errorKind || 'new connection'})`;
    statuses[what] = (statuses[what] ?? 0) + 1;
    failed(what);
    if (/timed out/.test(err.message)) b.timeouts++;
    else b.socketErrors++;
  });
  let reported = 0;
  const ticker = setInterval(() => {
    const now = Math.floor((performance.now() - startedAt) / 1000);
    while (reported < now && reported < o.durationSec) {
      const b = buckets[reported] ?? emptyBucket();
      o.onSecond?.(sample(reported, b));
      reported++;
    }
  }, 250);
  try {
    await instance;
  } finally {
    clearInterval(ticker);
  }
  const seconds = Math.max(1, Math.round(o.durationSec));
  // Responses completing after the last full second (autocannon stops at durationSec) go into it.
  while (buckets.length > seconds) {
    const extra = buckets.pop()!;
    const last = buckets[buckets.length - 1]!;
    for (const k of Object.keys(extra) as Array<keyof Bucket>) {
      if (k === 'latencies') last.latencies.push(...extra.latencies);
      else last[k] += extra[k];
    }
  }
  for (let i = buckets.length; i < seconds; i++) buckets.push(emptyBucket());
  for (; reported < seconds; reported++) o.onSecond?.(sample(reported, buckets[reported]!));
  const all = Float64Array.from(buckets.flatMap((b) => b.latencies)).sort();
  const perSecond = (per: Array<Record<string, number>>) => {
    const out = Array.from({ length: seconds }, (_, t) => ({ ...per[t] }));
    for (const late of per.slice(seconds)) for (const [what, n] of Object.entries(late ?? {})) out[seconds - 1]![what] = (out[seconds - 1]![what] ?? 0) + n;
    return out;
  };
  return {
    durationSec: o.durationSec,
    connections,
    seconds: buckets.map((b, t) => sample(t, b)),
    sessionsLost: lost.size,
    statuses,
    latenciesMs: all,
    secondLatenciesMs: buckets.map((b) => Float64Array.from(b.latencies).sort()),
    secondFailures: perSecond(failures),
    secondRetries: perSecond(retried),
    trace,
  };
}
