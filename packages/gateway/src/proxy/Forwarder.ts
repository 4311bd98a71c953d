import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { Endpoint } from '../cluster/Endpoint.js';
import type { ResolvedRoute } from '../config/resolve.js';
import { GatewayErrorCodes, type GatewayErrorCode } from '../errors.js';
import type { ClusterState, GatewayRuntime } from '../Gateway.js';
import { downstreamRawHeaders, upstreamRequestHeaders } from './headers.js';

/** What the access log and metrics record about one request. */
export interface RequestInfo {
  route: string;
  cluster: string;
  endpoint: string;
  retries: number;
  requestId: string;
  error?: GatewayErrorCode;
}

/** How an upstream attempt failed. */
export type FailureKind = 'connect' | 'reset' | 'timeout' | 'protocol' | 'aborted';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Maps an undici/net error to a failure kind. A reset on a socket that had sent nothing is a connect failure. */
export function classifyUpstreamError(err: unknown): FailureKind {
  const e = err as { code?: string; name?: string; socket?: { bytesWritten?: number }; errors?: unknown[] };
  const code = e?.code ?? '';
  if (code === 'UND_ERR_ABORTED' || e?.name === 'AbortError') return 'aborted';
  if (CONNECT_CODES.has(code)) return 'connect';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (RESET_CODES.has(code)) return e.socket?.bytesWritten === 0 ? 'connect' : 'reset';
  if (Array.isArray(e?.errors) && e.errors.length > 0) return classifyUpstreamError(e.errors[0]);
  return 'protocol';
}

/** The undici per-request timeouts a route uses: both the route's timeoutMs; 0 disables them (no 300 s default). */
export function dispatchTimeouts(route: ResolvedRoute): { headersTimeout: number; bodyTimeout: number } {
  return { headersTimeout: route.timeoutMs, bodyTimeout: route.timeoutMs };
}

class BodyTooLarge extends Error {}

/** Reads up to `max` bytes; `rest` is set when the body is longer (the stream is then paused mid-way). */
function readUpTo(raw: IncomingMessage, max: number, limit: number): Promise<{ chunks: Buffer[]; size: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
      raw.off('aborted', onAborted);
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size > limit) {
        cleanup();
        raw.pause();
        reject(new BodyTooLarge());
      } else if (size > max) {
        cleanup();
        raw.pause();
        resolve({ chunks, size, complete: false });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ chunks, size, complete: true });
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onAborted = () => onError(new Error('client aborted the request'));
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('error', onError);
    raw.on('aborted', onAborted);
  });
}

async function* continueBody(head: Buffer[], raw: IncomingMessage, size: number, limit: number): AsyncGenerator<Buffer> {
  yield* head;
  for await (const c of raw as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new BodyTooLarge();
    yield c;
  }
}

const STATUS_TEXT: Record<number, string> = { 404: 'Not Found', 413: 'Payload Too Large', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

/** How one upstream attempt ended before the response was committed to the client. */
const enum Outcome {
  /** Headers went to the client; the body streams on its own. */
  Committed,
  /** The attempt failed (`error` holds why). */
  Failed,
  /** A 502/503/504 that is retried on another endpoint (its body was read and dropped). */
  RetryStatus,
}

/** The reason the upstream request is aborted when the client goes away. */
class ClientGone extends Error {
  override name = 'AbortError';
}

/**
 * One proxied request: the undici dispatch handler of its attempts (one at a time) and the
 * client-side state. The response is written straight to the ServerResponse (the fastify reply
 * is hijacked once the upstream's headers arrive), so no body stream, promise or fastify send
 * pipeline sits between the two sockets; backpressure pauses the upstream socket.
 */
class Exchange implements Dispatcher.DispatchHandler {
  endpoint: Endpoint | undefined;
  error: unknown;
  /** Status of the attempt that ended in RetryStatus. */
  retryStatus = 0;
  holdsRetry = false;
  readonly tried = new Set<Endpoint>();
  private settle: ((o: Outcome) => void) | undefined;
  private abortUpstream: ((err: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  /** 0 before the headers, 1 streaming the body to the client, 2 dropping a retried body, 3 done. */
  private phase = 0;
  clientGone = false;
  private readonly onResClose = () => {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    this.abortUpstream?.(new ClientGone('the client went away'));
  };
  private readonly onResDrain = () => this.resumeUpstream?.();

  constructor(
    private readonly reply: FastifyReply,
    private readonly res: ServerResponse,
    private readonly info: RequestInfo,
    private readonly route: ResolvedRoute,
    private readonly cs: ClusterState,
    private readonly method: string,
    readonly replayable: boolean,
    private readonly draining: () => boolean,
  ) {
    res.once('close', this.onResClose);
  }

  /** Dispatches one attempt to `endpoint`; resolves when its fate before/at the response headers is known. */
  attempt(endpoint: Endpoint, options: Dispatcher.DispatchOptions): Promise<Outcome> {
    this.endpoint = endpoint;
    this.phase = 0;
    this.abortUpstream = undefined;
    this.error = undefined;
    const p = new Promise<Outcome>((resolve) => {
      this.settle = resolve;
    });
    endpoint.pool.dispatch(options, this);
    return p;
  }

  private done(o: Outcome): void {
    const s = this.settle;
    this.settle = undefined;
    s?.(o);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.clientGone) abort(new ClientGone('the client went away'));
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    const endpoint = this.endpoint!;
    const { route, cs, info } = this;
    if (
      (statusCode === 502 || statusCode === 503 || statusCode === 504) &&
      route.retry.retryOn.has('gateway-error') &&
      IDEMPOTENT.has(this.method) &&
      this.replayable &&
      info.retries < route.retry.maxRetries &&
      cs.cluster.candidates(this.tried).candidates.length > 0 &&
      (this.holdsRetry || cs.budget.tryAcquire(route.retry))
    ) {
      this.holdsRetry = true;
      cs.outlier.record(endpoint, '5xx');
      endpoint.inFlight--;
      this.retryStatus = statusCode;
      this.phase = 2;
      return true;
    }
    cs.outlier.record(endpoint, statusCode >= 500 ? '5xx' : 'success');
    const res = this.res;
    const out: string[] = [];
    const extra = this.reply.getHeaders();
    for (const k in extra) {
      const v = extra[k];
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) out.push(k, x);
      else out.push(k, String(v));
    }
    if (!downstreamRawHeaders(rawHeaders, out)) out.push('x-request-id', info.requestId);
    if (this.draining() && extra['connection'] === undefined) out.push('connection', 'close');
    this.reply.hijack();
    this.phase = 1;
    this.resumeUpstream = resume;
    res.writeHead(statusCode, out);
    this.done(Outcome.Committed);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.phase !== 1) return true;
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.onResDrain);
    return false;
  }

  onComplete(): void {
    if (this.phase === 2) {
      this.phase = 3;
      this.done(Outcome.RetryStatus);
      return;
    }
    this.phase = 3;
    this.endpoint!.inFlight--;
    this.res.end();
  }

  onError(err: Error): void {
    const phase = this.phase;
    if (phase === 3) return;
    this.phase = 3;
    if (phase === 0) {
      this.error = err;
      this.done(Outcome.Failed);
      return;
    }
    if (phase === 2) {
      // The dropped body of a retried 5xx failed: retry all the same.
      this.done(Outcome.RetryStatus);
      return;
    }
    this.endpoint!.inFlight--;
    if (this.clientGone) return;
    // A reset mid-body after the headers went out: the client connection ends.
    this.reply.log.warn({ cluster: this.endpoint!.cluster, endpoint: this.endpoint!.address, code: (err as { code?: string }).code, requestId: this.info.requestId }, 'upstream response body failed');
    this.info.error = classifyUpstreamError(err) === 'timeout' ? GatewayErrorCodes.UPSTREAM_TIMEOUT : GatewayErrorCodes.UPSTREAM_RESET;
    // fastify runs onResponse (the access log, metrics) on the response's 'finish' or 'error', and a bare
    // destroy() emits neither: such requests had no access-log line (guarded: 'error' without a listener throws).
    if (this.res.listenerCount('error') > 0) this.res.emit('error', err);
    this.res.destroy();
  }
}

/**
 * Forwards one request: route match, endpoint pick, dispatch through the endpoint's undici Pool,
 * retries on a different endpoint, streaming of the response. Upstream faults answer 502/503/504,
 * never 500.
 */
export class Forwarder {
  private readonly draining = () => this.runtime.draining;

  constructor(private readonly runtime: GatewayRuntime) {}

  private fail(reply: FastifyReply, info: RequestInfo, status: number, code: GatewayErrorCode, message: string): void {
    info.error = code;
    if (reply.sent || reply.raw.headersSent) return;
    reply
      .code(status)
      .header('content-type', 'application/json; charset=utf-8')
      .header('x-request-id', info.requestId)
      .send(JSON.stringify({ statusCode: status, error: STATUS_TEXT[status] ?? 'Error', code, message }));
  }

  async handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const raw = request.raw;
    const url = raw.url ?? '/';
    const method = raw.method ?? 'GET';
    const state = this.runtime.state;
    const info: RequestInfo = { route: '-', cluster: '-', endpoint: '-', retries: 0, requestId: '' };
    (request as unknown as { gw: RequestInfo }).gw = info;
    const route = state.routes.match(url);
    const { headers, requestId } = upstreamRequestHeaders(raw, { trusted: state.trusted, requestIdHeader: state.config.requestIdHeader });
    info.requestId = requestId;
    if (!route) return this.fail(reply, info, 404, GatewayErrorCodes.NO_ROUTE, `no route matches ${url.split('?')[0]}`);
    const cs = state.clusters.get(route.cluster)!;
    info.route = route.name;
    info.cluster = route.cluster;

    // Request body: buffered up to retry.maxBufferedBodyBytes so that it can be replayed on
    // another endpoint; longer bodies stream and are not retried once sent.
    const cl = raw.headers['content-length'];
    const declared = cl === undefined ? undefined : Number(cl);
    const hasBody = declared !== undefined ? declared > 0 : raw.headers['transfer-encoding'] !== undefined;
    if (declared !== undefined && declared > route.bodyLimitBytes) {
      reply.header('connection', 'close');
      return this.fail(reply, info, 413, GatewayErrorCodes.BODY_TOO_LARGE, `request body of ${declared} bytes exceeds the route's limit of ${route.bodyLimitBytes} bytes`);
    }
    let body: Buffer | Readable | null = null;
    let replayable = true;
    if (hasBody) {
      try {
        const head = await readUpTo(raw, route.retry.maxBufferedBodyBytes, route.bodyLimitBytes);
        if (head.complete) body = head.chunks.length === 1 ? head.chunks[0]! : Buffer.concat(head.chunks, head.size);
        else {
          body = Readable.from(continueBody(head.chunks, raw, head.size, route.bodyLimitBytes), { objectMode: false });
          replayable = false;
        }
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          reply.header('connection', 'close');
          return this.fail(reply, info, 413, GatewayErrorCodes.BODY_TOO_LARGE, `request body exceeds the route's limit of ${route.bodyLimitBytes} bytes`);
        }
        return this.fail(reply, info, 400, GatewayErrorCodes.UPSTREAM_RESET, 'the client aborted the request body');
      }
      if (Buffer.isBuffer(body)) {
        headers['content-length'] = String(body.length);
        delete headers['transfer-encoding'];
      }
    }

    const ex = new Exchange(reply, reply.raw, info, route, cs, method, replayable, this.draining);
    const hashKey = cs.cluster.hashKey(url, raw.headers);
    const tried = ex.tried;
    // A per-try timeout only where a retry may follow (found with the multi-host lab: a GET on a keep-alive
    // connection to a blackholed webmail node waited out the whole route timeout).
    const perTry = route.retry.perTryTimeoutMs > 0 && replayable && IDEMPOTENT.has(method) && (route.timeoutMs === 0 || route.retry.perTryTimeoutMs < route.timeoutMs);
    const headersTimeout = perTry ? route.retry.perTryTimeoutMs : route.timeoutMs;
    const options: Dispatcher.DispatchOptions = { path: url, method: method as Dispatcher.HttpMethod, headers, body, headersTimeout, bodyTimeout: route.timeoutMs };
    let lastFailure: FailureKind | undefined;
    cs.budget.activeRequests++;
    try {
      for (;;) {
        if (ex.clientGone) {
          info.error = GatewayErrorCodes.UPSTREAM_RESET;
          return this.fail(reply, info, 502, GatewayErrorCodes.UPSTREAM_RESET, 'the client went away');
        }
        const { endpoint } = cs.cluster.pick(hashKey, tried);
        if (!endpoint) break;
        tried.add(endpoint);
        info.endpoint = endpoint.address;
        endpoint.inFlight++;
        endpoint.requests++;
        const outcome = await ex.attempt(endpoint, options);
        if (outcome === Outcome.Committed) return;
        if (outcome === Outcome.RetryStatus) {
          info.retries++;
          this.runtime.metrics.retry(cs.cluster.name, `status_${ex.retryStatus}`);
          lastFailure = 'protocol';
          continue;
        }
        const err = ex.error;
        endpoint.inFlight--;
        const kind = classifyUpstreamError(err);
        if (kind === 'aborted' || ex.clientGone) {
          info.error = GatewayErrorCodes.UPSTREAM_RESET;
          return this.fail(reply, info, 502, GatewayErrorCodes.UPSTREAM_RESET, 'the client went away');
        }
        if (err instanceof BodyTooLarge) {
          reply.header('connection', 'close');
          return this.fail(reply, info, 413, GatewayErrorCodes.BODY_TOO_LARGE, `request body exceeds the route's limit of ${route.bodyLimitBytes} bytes`);
        }
        lastFailure = kind;
        cs.outlier.record(endpoint, 'gateway-failure');
        this.runtime.metrics.upstreamError(cs.cluster.name, endpoint.address, kind);
        request.log.warn({ cluster: cs.cluster.name, endpoint: endpoint.address, kind, code: (err as { code?: string }).code, attempt: tried.size, requestId: info.requestId }, 'upstream attempt failed');
        if (this.mayRetry(kind, method, replayable, route, info, perTry)) {
          info.retries++;
          this.runtime.metrics.retry(cs.cluster.name, kind);
          continue;
        }
        return this.failFor(reply, info, kind, cs, tried.size);
      }
      if (tried.size === 0) {
        return this.fail(reply, info, 503, GatewayErrorCodes.NO_HEALTHY_UPSTREAM, `cluster "${cs.cluster.name}" has no healthy endpoint`);
      }
      return this.failFor(reply, info, lastFailure ?? 'connect', cs, tried.size);
    } finally {
      cs.budget.activeRequests--;
      if (ex.holdsRetry) cs.budget.release();
    }
  }

  /** Whether a failed attempt is retried on another endpoint (without the retry budget, which caps 5xx retries). */
  private mayRetry(kind: FailureKind, method: string, replayable: boolean, route: ResolvedRoute, info: RequestInfo, perTry: boolean): boolean {
    if (!replayable || info.retries >= route.retry.maxRetries) return false;
    // An attempt that ran out of its per-try timeout (set only on idempotent, replayable requests).
    if (kind === 'timeout') return perTry;
    const on = route.retry.retryOn;
    // Connect failures are exempt from the budget: nothing reached an upstream, the number of
    // endpoints bounds them (each retry goes to an untried one), and a dead endpoint leaves the
    // rotation after the health checks or outlier detection notice it.
    if (kind === 'connect') return on.has('connect-failure');
    // So is a reset of an idempotent request before any response byte: a SIGKILLed endpoint resets all its
    // in-flight requests at once and the budget (min 3) turned most of those GETs into 502s.
    return kind === 'reset' && on.has('reset') && IDEMPOTENT.has(method);
  }

  private failFor(reply: FastifyReply, info: RequestInfo, kind: FailureKind, cs: ClusterState, attempts: number): void {
    const n = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
    if (kind === 'timeout') return this.fail(reply, info, 504, GatewayErrorCodes.UPSTREAM_TIMEOUT, `cluster "${cs.cluster.name}" did not answer within the route's timeout`);
    if (kind === 'connect') return this.fail(reply, info, 502, GatewayErrorCodes.UPSTREAM_CONNECT, `could not connect to cluster "${cs.cluster.name}" (${n})`);
    return this.fail(reply, info, 502, GatewayErrorCodes.UPSTREAM_RESET, `cluster "${cs.cluster.name}" reset the connection or sent an invalid response (${n})`);
  }
}
