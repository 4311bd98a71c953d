import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Endpoint, Lane } from '../cluster/Endpoint.js';
import type { ResolvedRoute } from '../config/resolve.js';
import { GatewayErrorCodes, type GatewayErrorCode } from '../errors.js';
import { Attempt, ClientGone, Outcome, type AttemptOwner } from './Attempt.js';
import type { ClientReply, RequestInfo } from './ClientReply.js';
import { sendError } from './errorResponse.js';
import { downstreamHeaders, upstreamRequestHeaders } from './headers.js';
import { isLongPoll } from './longPoll.js';
import { classifyUpstreamError, RetryPolicy, type FailureKind } from './RetryPolicy.js';
import type { ClusterState, ProxyRuntime } from './state.js';

export type { RequestInfo } from './ClientReply.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The gateway's record of a proxied request (null until the forwarder takes it). */
    gw: RequestInfo | null;
  }
}

/** The undici per-request timeouts a route uses: both the route's timeoutMs; 0 disables them (no 300 s default). */
export function dispatchTimeouts(route: ResolvedRoute, perTryTimeoutMs = 0): { headersTimeout: number; bodyTimeout: number } {
  return { headersTimeout: perTryTimeoutMs > 0 ? perTryTimeoutMs : route.timeoutMs, bodyTimeout: route.timeoutMs };
}

class BodyTooLarge extends Error {}
/** Why a held long poll's upstream request is aborted when the gateway drains. */
class Draining extends Error {}
class BodyTimeout extends Error {}

/**
 * Reads up to `max` bytes; `complete` is false when the body is longer (the stream is then paused
 * mid-way). A pause between chunks longer than `idleMs` (0 = none) fails with BodyTimeout.
 */
function readUpTo(raw: IncomingMessage, max: number, limit: number, idleMs: number): Promise<{ chunks: Buffer[]; size: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (idleMs <= 0) return;
      if (timer) timer.refresh();
      else timer = setTimeout(() => onError(new BodyTimeout()), idleMs);
    };
    const cleanup = () => {
      if (timer) clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
      raw.off('aborted', onAborted);
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      arm();
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
    arm();
  });
}

async function* continueBody(head: Buffer[], raw: IncomingMessage, size: number, limit: number, idleMs: number): AsyncGenerator<Buffer> {
  yield* head;
  let timer: NodeJS.Timeout | undefined;
  // The stream body's idle limit: a stalled upload must not hold an upstream connection.
  if (idleMs > 0) timer = setTimeout(() => raw.destroy(new BodyTimeout('client body timeout')), idleMs);
  try {
    for await (const c of raw as AsyncIterable<Buffer>) {
      timer?.refresh();
      size += c.length;
      if (size > limit) throw new BodyTooLarge();
      yield c;
    }
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * One proxied request, client side: the retry policy, the attempt in progress and the client's
 * response. The response is written straight to the ServerResponse (the fastify reply is hijacked
 * once the upstream's headers arrive), so no body stream, promise or fastify send pipeline sits
 * between the two sockets; backpressure pauses the upstream.
 */
class Exchange implements AttemptOwner {
  clientGone = false;
  readonly tried = new Set<Endpoint>();
  current: Attempt | undefined;
  private resumeUpstream: { resume(): void } | undefined;
  private readonly onResClose = () => {
    this.clearSendTimer();
    if (this.res.writableFinished) return;
    this.clientGone = true;
    this.current?.abort(new ClientGone('the client went away'));
  };
  // Made on the first full socket only (most responses never meet backpressure): one closure less per request.
  private onResDrain: (() => void) | undefined;

  constructor(
    private readonly reply: ClientReply,
    private readonly res: ServerResponse,
    private readonly info: RequestInfo,
    private readonly cs: ClusterState,
    readonly retry: RetryPolicy,
    private readonly draining: () => boolean,
    private readonly sendTimeoutMs: number,
  ) {
    res.on('close', this.onResClose); // 'close' comes once per response: no once() wrapper per request
  }

  attempt(endpoint: Endpoint, lane: Lane, options: Dispatcher.DispatchOptions): Promise<Outcome> {
    this.tried.add(endpoint);
    this.info.endpoint = endpoint.address;
    this.current = new Attempt(endpoint, this.cs.outlier, this, lane).start(options);
    return this.current.outcome;
  }

  retryStatus(status: number): boolean {
    return this.retry.retryStatus(status, () => this.cs.cluster.candidates(this.tried).candidates.length > 0);
  }

  commit(status: number, headers: Record<string, string | string[] | undefined>): void {
    const out: string[] = [];
    const extra = this.reply.getHeaders();
    for (const k in extra) {
      const v = extra[k];
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) out.push(k, x);
      else out.push(k, String(v));
    }
    if (!downstreamHeaders(headers, out)) out.push('x-request-id', this.info.requestId);
    if (this.draining() && extra['connection'] === undefined && this.reply.request.raw.httpVersionMajor === 1) out.push('connection', 'close');
    this.reply.hijack();
    this.res.writeHead(status, out);
  }

  write(chunk: Buffer, paused: { resume(): void }): boolean {
    if (this.res.write(chunk)) return true;
    this.resumeUpstream = paused;
    this.onResDrain ??= () => {
      this.clearSendTimer();
      this.resumeUpstream?.resume();
    };
    this.res.once('drain', this.onResDrain);
    // A client that stops reading must not hold the upstream connection: no progress for
    // clientSendTimeoutMs closes it (and onResClose aborts the upstream request).
    if (this.sendTimeoutMs > 0) {
      if (this.sendTimer) this.sendTimer.refresh();
      else this.sendTimer = setTimeout(() => this.onSendTimeout(), this.sendTimeoutMs);
    }
    return false;
  }

  end(): void {
    this.clearSendTimer();
    this.res.end();
  }

  private sendTimer: NodeJS.Timeout | undefined;
  private onSendTimeout(): void {
    this.sendTimer = undefined;
    this.info.error = GatewayErrorCodes.CLIENT_TIMEOUT;
    this.res.destroy();
  }

  private clearSendTimer(): void {
    if (this.sendTimer) clearTimeout(this.sendTimer);
    this.sendTimer = undefined;
  }

  failAfterCommit(err: Error): void {
    this.clearSendTimer();
    if (this.clientGone) return;
    const endpoint = this.current!.endpoint;
    // A reset mid-body after the headers went out: the client connection ends.
    this.reply.log.warn({ cluster: endpoint.cluster, endpoint: endpoint.address, code: (err as { code?: string }).code, requestId: this.info.requestId }, 'upstream response body failed');
    this.info.error = classifyUpstreamError(err) === 'timeout' ? GatewayErrorCodes.UPSTREAM_TIMEOUT : GatewayErrorCodes.UPSTREAM_RESET;
    // fastify runs onResponse (the access log, metrics) on the response's 'finish' or 'error', and a bare
    // destroy() emits neither: such requests had no access-log line (guarded: 'error' without a listener throws).
    if (this.res.listenerCount('error') > 0) this.res.emit('error', err);
    this.res.destroy();
  }
}

/** Ends the client connection after this answer (HTTP/1.x only: h2 forbids the header and multiplexes). */
function closeConnection(reply: ClientReply): void {
  if (reply.request.raw.httpVersionMajor === 1) reply.header('connection', 'close');
}

/** The error code a failure kind answers with. */
function failureCode(kind: FailureKind): GatewayErrorCode {
  if (kind === 'timeout') return GatewayErrorCodes.UPSTREAM_TIMEOUT;
  if (kind === 'connect') return GatewayErrorCodes.UPSTREAM_CONNECT;
  return GatewayErrorCodes.UPSTREAM_RESET;
}

/**
 * Forwards one request: route match, endpoint pick, dispatch through the endpoint's undici Pool,
 * retries on a different endpoint (as the RetryPolicy decides), streaming of the response.
 * Upstream faults answer 502/503/504, never 500.
 */
export class Forwarder {
  private readonly draining = () => this.runtime.draining;

  constructor(private readonly runtime: ProxyRuntime) {}

  private fail(reply: ClientReply, info: RequestInfo, code: GatewayErrorCode, message: string): void {
    info.error = code;
    sendError(reply, code, message, info.requestId, this.runtime.state.errorPages);
  }

  /** Forwards the request of `reply` (fastify's reply, or a RawReply from a listener). */
  async handle(reply: ClientReply): Promise<void> {
    const request = reply.request;
    const raw = request.raw;
    const url = raw.url ?? '/';
    const method = raw.method ?? 'GET';
    const state = this.runtime.state;
    const info: RequestInfo = { route: '-', cluster: '-', endpoint: '-', retries: 0, requestId: '' };
    request.gw = info;
    const route = state.routes.match(url);
    const { headers, requestId } = upstreamRequestHeaders(raw, { trusted: state.trusted, requestIdHeader: state.config.requestIdHeader, stripHeaders: state.stripHeaders });
    info.requestId = requestId;
    if (!route) return this.fail(reply, info, GatewayErrorCodes.NO_ROUTE, `no route matches ${url.split('?')[0]}`);
    const cs = state.clusters.get(route.cluster)!;
    info.route = route.name;
    info.cluster = route.cluster;

    // Request body: buffered up to retry.maxBufferedBodyBytes so that it can be replayed on
    // another endpoint; longer bodies stream and are not retried once sent.
    const cl = raw.headers['content-length'];
    const declared = cl === undefined ? undefined : Number(cl);
    const hasBody = declared !== undefined ? declared > 0 : raw.headers['transfer-encoding'] !== undefined;
    const tooLarge = () => {
      closeConnection(reply);
      return this.fail(reply, info, GatewayErrorCodes.BODY_TOO_LARGE, `request body${declared !== undefined ? ` of ${declared} bytes` : ''} exceeds the route's limit of ${route.bodyLimitBytes} bytes`);
    };
    if (declared !== undefined && declared > route.bodyLimitBytes) return tooLarge();
    let body: Buffer | Readable | null = null;
    let replayable = true;
    if (hasBody) {
      try {
        const head = await readUpTo(raw, route.retry.maxBufferedBodyBytes, route.bodyLimitBytes, route.clientBodyTimeoutMs);
        if (head.complete) body = head.chunks.length === 1 ? head.chunks[0]! : Buffer.concat(head.chunks, head.size);
        else {
          body = Readable.from(continueBody(head.chunks, raw, head.size, route.bodyLimitBytes, route.clientBodyTimeoutMs), { objectMode: false });
          replayable = false;
        }
      } catch (err) {
        if (err instanceof BodyTooLarge) return tooLarge();
        closeConnection(reply);
        if (err instanceof BodyTimeout) return this.fail(reply, info, GatewayErrorCodes.CLIENT_TIMEOUT, `the request body stalled for more than ${route.clientBodyTimeoutMs} ms`);
        return this.fail(reply, info, GatewayErrorCodes.CLIENT_ABORTED, 'the client aborted the request body');
      }
      if (Buffer.isBuffer(body)) {
        headers['content-length'] = String(body.length);
        delete headers['transfer-encoding'];
      }
    }

    const retry = new RetryPolicy(route.retry, cs.budget, method, replayable, route.timeoutMs);
    const ex = new Exchange(reply, reply.raw, info, cs, retry, this.draining, route.clientSendTimeoutMs);
    const hashKey = cs.cluster.hashKey(url, raw.headers);
    const tried = ex.tried;
    const options: Dispatcher.DispatchOptions = { path: url, method: method as Dispatcher.HttpMethod, headers, body, ...dispatchTimeouts(route, retry.perTryTimeoutMs) };
    const metrics = this.runtime.metrics;
    const longPoll = isLongPoll(route, url);
    let lastFailure: FailureKind | undefined;
    const onDrain = longPoll ? () => ex.current?.abort(new Draining('the gateway is draining')) : undefined;
    if (onDrain) this.runtime.heldLongPolls.add(onDrain);
    try {
      for (;;) {
        if (ex.clientGone) return this.fail(reply, info, GatewayErrorCodes.UPSTREAM_RESET, 'the client went away');
        const { endpoint } = cs.cluster.pick(hashKey, tried);
        if (!endpoint) break;
        // Never queue inside undici's Pool (no deadline there, and ordinary requests would wait behind
        // hour-long Pings): long polls have a budget of their own and are refused at once beyond it;
        // ordinary requests wait at most queueTimeoutMs for a connection.
        const lane = longPoll ? endpoint.longPollLane : endpoint.ordinaryLane;
        let admitted = longPoll ? lane.budget.tryAcquire() : lane.budget.acquire(cs.cluster.config.queueTimeoutMs);
        if (admitted !== true) admitted = await admitted;
        if (!admitted) {
          info.endpoint = endpoint.address;
          metrics.rejected(cs.cluster.name, longPoll ? 'long_poll_budget' : 'queue_timeout');
          if (longPoll) return this.fail(reply, info, GatewayErrorCodes.LONG_POLL_BUDGET, `endpoint ${endpoint.address} of cluster "${cs.cluster.name}" already holds its ${lane.budget.limit} long polls (maxLongPolls)`);
          return this.fail(reply, info, GatewayErrorCodes.QUEUE_TIMEOUT, `every connection to endpoint ${endpoint.address} of cluster "${cs.cluster.name}" stayed busy for ${cs.cluster.config.queueTimeoutMs} ms (queueTimeoutMs)`);
        }
        if (ex.clientGone) {
          lane.budget.release();
          return this.fail(reply, info, GatewayErrorCodes.UPSTREAM_RESET, 'the client went away');
        }
        const outcome = await ex.attempt(endpoint, lane, options);
        info.retries = retry.retries;
        if (outcome === Outcome.Committed) return;
        const attempt = ex.current!;
        if (outcome === Outcome.RetryStatus) {
          metrics.retry(cs.cluster.name, `status_${attempt.status}`);
          lastFailure = 'protocol';
          continue;
        }
        const err = attempt.error!;
        if (err instanceof Draining) {
          closeConnection(reply);
          return this.fail(reply, info, GatewayErrorCodes.DRAINING, 'the gateway is shutting down: send the request again');
        }
        const kind = classifyUpstreamError(err);
        if (kind === 'aborted' || ex.clientGone) return this.fail(reply, info, GatewayErrorCodes.UPSTREAM_RESET, 'the client went away');
        if (err instanceof BodyTooLarge) return tooLarge();
        if (err instanceof BodyTimeout || (err as { cause?: unknown }).cause instanceof BodyTimeout) {
          closeConnection(reply);
          return this.fail(reply, info, GatewayErrorCodes.CLIENT_TIMEOUT, `the request body stalled for more than ${route.clientBodyTimeoutMs} ms`);
        }
        lastFailure = kind;
        attempt.record('gateway-failure');
        metrics.upstreamError(cs.cluster.name, endpoint.address, kind);
        request.log.warn({ cluster: cs.cluster.name, endpoint: endpoint.address, kind, code: (err as { code?: string }).code, attempt: tried.size, requestId: info.requestId }, 'upstream attempt failed');
        if (retry.retryFailure(kind)) {
          info.retries = retry.retries;
          metrics.retry(cs.cluster.name, kind);
          continue;
        }
        return this.failFor(reply, info, kind, cs, tried.size);
      }
      if (tried.size === 0) return this.fail(reply, info, GatewayErrorCodes.NO_HEALTHY_UPSTREAM, `cluster "${cs.cluster.name}" has no healthy endpoint`);
      return this.failFor(reply, info, lastFailure ?? 'connect', cs, tried.size);
    } finally {
      if (onDrain) this.runtime.heldLongPolls.delete(onDrain);
      retry.end();
    }
  }

  private failFor(reply: ClientReply, info: RequestInfo, kind: FailureKind, cs: ClusterState, attempts: number): void {
    const n = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
    const code = failureCode(kind);
    const message =
      kind === 'timeout'
        ? `cluster "${cs.cluster.name}" did not answer within the route's timeout`
        : kind === 'connect'
          ? `could not connect to cluster "${cs.cluster.name}" (${n})`
          : `cluster "${cs.cluster.name}" reset the connection or sent an invalid response (${n})`;
    return this.fail(reply, info, code, message);
  }
}
