import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Endpoint, Lane } from '../cluster/Endpoint.js';
import type { ResolvedRoute } from '../config/resolve.js';
import { GatewayErrorCodes, type GatewayErrorCode } from '../errors.js';
import { Attempt, ClientGone, Outcome, undiciLimit, type AttemptOwner, type AttemptTimeouts } from './Attempt.js';
import type { ClientReply, RequestInfo } from './ClientReply.js';
import { sendError } from './errorResponse.js';
import { downstreamHeaders, upstreamRequestHeaders } from './headers.js';
import { isLongPoll } from './longPoll.js';
import { classifyUpstreamError, isRetriedStatus, RetryPolicy, type FailureKind } from './RetryPolicy.js';
import type { ClusterState, ProxyRuntime } from './state.js';

export type { RequestInfo } from './ClientReply.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The gateway's record of a proxied request (null until the forwarder takes it). */
    gw: RequestInfo | null;
  }
}

/** The time limits of a route's upstream attempts: the route's timeoutMs for both (for the headers, the per-try timeout when set); 0 disables them (no 300 s default). */
export function dispatchTimeouts(route: ResolvedRoute, perTryTimeoutMs = 0): AttemptTimeouts {
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

/** What a request's settling reports: nothing once answered (or committed), else the error that escaped. */
export type Settled = (reply: ClientReply, err?: unknown) => void;

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
 * One proxied request, client side: the retry loop, the attempt in progress and the client's
 * response. The first attempt is dispatched synchronously from `Forwarder.handle` (no promise, no
 * microtask between the request's arrival and `pool.dispatch`): the attempt reports back through
 * `settled`, and only a retry, a wait for a connection slot or a request body goes asynchronous.
 * The response is written straight to the ServerResponse (the fastify reply is hijacked once the
 * upstream's headers arrive), so no body stream, promise or fastify send pipeline sits between the
 * two sockets; backpressure pauses the upstream.
 */
class Exchange implements AttemptOwner {
  clientGone = false;
  /** Endpoints tried so far; made on the first retry (most requests try one endpoint). */
  private triedSet: Set<Endpoint> | undefined;
  private firstTried: Endpoint | undefined;
  private triedCount = 0;
  current: Attempt | undefined;
  private lastFailure: FailureKind | undefined;
  private finished = false;
  private resumeUpstream: { resume(): void } | undefined;
  /** Answers a held long poll at once when the gateway drains (long polls only). */
  private onDrain: (() => void) | undefined;
  private readonly onResClose = () => {
    this.clearSendTimer();
    if (this.res.writableFinished) return;
    this.clientGone = true;
    this.current?.abort(new ClientGone('the client went away'));
  };
  // Made on the first full socket only (most responses never meet backpressure): one closure less per request.
  private onResDrain: (() => void) | undefined;
  private readonly res: ServerResponse;

  constructor(
    private readonly forwarder: Forwarder,
    private readonly reply: ClientReply,
    private readonly info: RequestInfo,
    private readonly route: ResolvedRoute,
    private readonly cs: ClusterState,
    readonly retry: RetryPolicy,
    private readonly options: Dispatcher.DispatchOptions,
    private readonly timeouts: AttemptTimeouts,
    private readonly hashKey: string | undefined,
    private readonly longPoll: boolean,
    private readonly done: Settled,
  ) {
    this.res = reply.raw;
    this.res.on('close', this.onResClose); // 'close' comes once per response: no once() wrapper per request
    if (longPoll) {
      const onDrain = () => this.current?.abort(new Draining('the gateway is draining'));
      this.onDrain = onDrain;
      forwarder.runtime.heldLongPolls.add(onDrain);
    }
  }

  /** The request is answered (or its answer committed): give back what it holds and report. */
  private finish(err?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    if (this.onDrain) this.forwarder.runtime.heldLongPolls.delete(this.onDrain);
    this.retry.end();
    this.done(this.reply, err);
  }

  private fail(code: GatewayErrorCode, message: string): void {
    this.forwarder.fail(this.reply, this.info, code, message);
    this.finish();
  }

  /**
   * Picks an endpoint and dispatches the next attempt; synchronous unless every connection of the
   * endpoint is busy (then it waits up to queueTimeoutMs for one). Errors escape to `done`.
   */
  next(): void {
    try {
      this.pickAndDispatch();
    } catch (err) {
      this.finish(err);
    }
  }

  private pickAndDispatch(): void {
    const cs = this.cs;
    if (this.clientGone) return this.fail(GatewayErrorCodes.UPSTREAM_RESET, 'the client went away');
    const { endpoint } = cs.cluster.pick(this.hashKey, this.tried());
    if (!endpoint) {
      if (this.triedCount === 0) return this.fail(GatewayErrorCodes.NO_HEALTHY_UPSTREAM, `cluster "${cs.cluster.name}" has no healthy endpoint`);
      return this.failFor(this.lastFailure ?? 'connect');
    }
    // Never queue inside undici's Pool (no deadline there, and ordinary requests would wait behind
    // hour-long Pings): long polls have a budget of their own and are refused at once beyond it;
    // ordinary requests wait at most queueTimeoutMs for a connection.
    const longPoll = this.longPoll;
    const lane = longPoll ? endpoint.longPollLane : endpoint.ordinaryLane;
    const admitted = longPoll ? lane.budget.tryAcquire() : lane.budget.acquire(cs.cluster.config.queueTimeoutMs);
    if (admitted === true) return this.dispatch(endpoint, lane);
    if (admitted === false) return this.refused(endpoint, lane);
    admitted.then(
      (ok) => {
        try {
          if (ok) this.dispatch(endpoint, lane);
          else this.refused(endpoint, lane);
        } catch (err) {
          this.finish(err);
        }
      },
      (err: unknown) => this.finish(err),
    );
  }

  private refused(endpoint: Endpoint, lane: Lane): void {
    const cs = this.cs;
    this.info.endpoint = endpoint.address;
    this.forwarder.runtime.metrics.rejected(cs.cluster.name, this.longPoll ? 'long_poll_budget' : 'queue_timeout');
    if (this.longPoll) return this.fail(GatewayErrorCodes.LONG_POLL_BUDGET, `endpoint ${endpoint.address} of cluster "${cs.cluster.name}" already holds its ${lane.budget.limit} long polls (maxLongPolls)`);
    return this.fail(GatewayErrorCodes.QUEUE_TIMEOUT, `every connection to endpoint ${endpoint.address} of cluster "${cs.cluster.name}" stayed busy for ${cs.cluster.config.queueTimeoutMs} ms (queueTimeoutMs)`);
  }

  private dispatch(endpoint: Endpoint, lane: Lane): void {
    if (this.clientGone) {
      lane.budget.release();
      return this.fail(GatewayErrorCodes.UPSTREAM_RESET, 'the client went away');
    }
    if (this.triedCount++ === 0) this.firstTried = endpoint;
    else this.tried()!.add(endpoint);
    this.info.endpoint = endpoint.address;
    this.current = new Attempt(endpoint, this.cs.outlier, this, lane, this.timeouts);
    this.current.start(this.options);
  }

  /** How the current attempt ended before any response byte reached the client (called by the Attempt). */
  settled(outcome: Outcome): void {
    this.info.retries = this.retry.retries;
    if (outcome === Outcome.Committed) return this.finish();
    // A retry is dispatched outside undici's callback that reported the failure (as an `await` did).
    queueMicrotask(() => {
      try {
        this.afterFailure(outcome);
      } catch (err) {
        this.finish(err);
      }
    });
  }

  private afterFailure(outcome: Outcome): void {
    const cs = this.cs;
    const info = this.info;
    const attempt = this.current!;
    const metrics = this.forwarder.runtime.metrics;
    if (outcome === Outcome.RetryStatus) {
      metrics.retry(cs.cluster.name, `status_${attempt.status}`);
      this.lastFailure = 'protocol';
      return this.pickAndDispatch();
    }
    const err = attempt.error!;
    const reply = this.reply;
    if (err instanceof Draining) {
      closeConnection(reply);
      return this.fail(GatewayErrorCodes.DRAINING, 'the gateway is shutting down: send the request again');
    }
    const kind = classifyUpstreamError(err);
    if (kind === 'aborted' || this.clientGone) return this.fail(GatewayErrorCodes.UPSTREAM_RESET, 'the client went away');
    if (err instanceof BodyTooLarge) {
      this.forwarder.tooLarge(reply, info, this.route, undefined);
      return this.finish();
    }
    if (err instanceof BodyTimeout || (err as { cause?: unknown }).cause instanceof BodyTimeout) {
      closeConnection(reply);
      return this.fail(GatewayErrorCodes.CLIENT_TIMEOUT, `the request body stalled for more than ${this.route.clientBodyTimeoutMs} ms`);
    }
    this.lastFailure = kind;
    const endpoint = attempt.endpoint;
    attempt.record('gateway-failure');
    metrics.upstreamError(cs.cluster.name, endpoint.address, kind);
    reply.request.log.warn({ cluster: cs.cluster.name, endpoint: endpoint.address, kind, code: (err as { code?: string }).code, attempt: this.triedCount, requestId: info.requestId }, 'upstream attempt failed');
    if (this.retry.retryFailure(kind)) {
      info.retries = this.retry.retries;
      metrics.retry(cs.cluster.name, kind);
      return this.pickAndDispatch();
    }
    return this.failFor(kind);
  }

  private failFor(kind: FailureKind): void {
    const name = this.cs.cluster.name;
    const attempts = this.triedCount;
    const n = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
    const message =
      kind === 'timeout'
        ? `cluster "${name}" did not answer within the route's timeout`
        : kind === 'connect'
          ? `could not connect to cluster "${name}" (${n})`
          : `cluster "${name}" reset the connection or sent an invalid response (${n})`;
    return this.fail(failureCode(kind), message);
  }

  retryStatus(status: number): boolean {
    // No closure for an answer that is never retried (most of them).
    if (!isRetriedStatus(status)) return false;
    return this.retry.retryStatus(status, () => this.cs.cluster.candidates(this.tried()).candidates.length > 0);
  }

  /** The endpoints tried so far (undefined before the first attempt). */
  private tried(): Set<Endpoint> | undefined {
    if (this.triedSet === undefined && this.firstTried !== undefined) this.triedSet = new Set([this.firstTried]);
    return this.triedSet;
  }

  commit(status: number, headers: Record<string, string | string[] | undefined>): void {
    const out: string[] = [];
    const reply = this.reply;
    // Headers set before the commit (hooks, the listener's HSTS, the draining rule) go first.
    const extra = reply.getHeaders();
    for (const k in extra) {
      const v = extra[k];
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) out.push(k, x);
      else out.push(k, String(v));
    }
    if (!downstreamHeaders(headers, out)) out.push('x-request-id', this.info.requestId);
    if (this.forwarder.runtime.draining && extra['connection'] === undefined && reply.request.raw.httpVersionMajor === 1) out.push('connection', 'close');
    reply.hijack();
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
    const sendTimeoutMs = this.route.clientSendTimeoutMs;
    if (sendTimeoutMs > 0) {
      if (this.sendTimer) this.sendTimer.refresh();
      else this.sendTimer = setTimeout(() => this.onSendTimeout(), sendTimeoutMs);
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

const ignoreSettled: Settled = () => {};

/**
 * Forwards one request: route match, endpoint pick, dispatch through the endpoint's undici Pool,
 * retries on a different endpoint (as the RetryPolicy decides), streaming of the response.
 * Upstream faults answer 502/503/504, never 500.
 */
export class Forwarder {
  constructor(readonly runtime: ProxyRuntime) {}

  /** Answers with the error of `code` (its status from the error table). */
  fail(reply: ClientReply, info: RequestInfo, code: GatewayErrorCode, message: string): void {
    info.error = code;
    sendError(reply, code, message, info.requestId, this.runtime.state.errorPages);
  }

  /** Answers 413 and closes the connection (the rest of the body is not read). */
  tooLarge(reply: ClientReply, info: RequestInfo, route: ResolvedRoute, declared: number | undefined): void {
    closeConnection(reply);
    this.fail(reply, info, GatewayErrorCodes.BODY_TOO_LARGE, `request body${declared !== undefined ? ` of ${declared} bytes` : ''} exceeds the route's limit of ${route.bodyLimitBytes} bytes`);
  }

  /**
   * Forwards the request of `reply` (fastify's reply, or a RawReply from a listener). A request
   * without a body reaches `pool.dispatch` before this returns. `done` runs once, when the answer is
   * committed (headers sent) or sent, or with the error that escaped (the caller answers 502).
   */
  handle(reply: ClientReply, done: Settled = ignoreSettled): void {
    try {
      this.start(reply, done);
    } catch (err) {
      done(reply, err);
    }
  }

  private start(reply: ClientReply, done: Settled): void {
    const request = reply.request;
    const raw = request.raw;
    const url = raw.url ?? '/';
    const method = raw.method ?? 'GET';
    const state = this.runtime.state;
    const info: RequestInfo = { route: '-', cluster: '-', endpoint: '-', retries: 0, requestId: '' };
    request.gw = info;
    const route = state.routes.match(url);
    const headers: string[] = [];
    info.requestId = upstreamRequestHeaders(raw, state.forwarding, headers);
    if (!route) {
      this.fail(reply, info, GatewayErrorCodes.NO_ROUTE, `no route matches ${url.split('?')[0]}`);
      return done(reply);
    }
    info.route = route.name;
    info.cluster = route.cluster;
    // From the same snapshot as the route (a reload while the body is read must not split them).
    const cs = state.clusters.get(route.cluster)!;

    // Request body: buffered up to retry.maxBufferedBodyBytes so that it can be replayed on
    // another endpoint; longer bodies stream and are not retried once sent.
    const rawHeaders = raw.headers;
    const cl = rawHeaders['content-length'];
    const declared = cl === undefined ? undefined : Number(cl);
    const hasBody = declared !== undefined ? declared > 0 : rawHeaders['transfer-encoding'] !== undefined;
    if (declared !== undefined && declared > route.bodyLimitBytes) {
      this.tooLarge(reply, info, route, declared);
      return done(reply);
    }
    if (!hasBody) return this.exchange(reply, info, route, cs, method, url, headers, null, true, done);
    readUpTo(raw, route.retry.maxBufferedBodyBytes, route.bodyLimitBytes, route.clientBodyTimeoutMs).then(
      (head) => {
        let body: Buffer | Readable;
        let replayable = true;
        if (head.complete) {
          body = head.chunks.length === 1 ? head.chunks[0]! : Buffer.concat(head.chunks, head.size);
          setContentLength(headers, body.length);
        } else {
          body = Readable.from(continueBody(head.chunks, raw, head.size, route.bodyLimitBytes, route.clientBodyTimeoutMs), { objectMode: false });
          replayable = false;
        }
        try {
          this.exchange(reply, info, route, cs, method, url, headers, body, replayable, done);
        } catch (err) {
          done(reply, err);
        }
      },
      (err: unknown) => {
        try {
          if (err instanceof BodyTooLarge) this.tooLarge(reply, info, route, declared);
          else {
            closeConnection(reply);
            if (err instanceof BodyTimeout) this.fail(reply, info, GatewayErrorCodes.CLIENT_TIMEOUT, `the request body stalled for more than ${route.clientBodyTimeoutMs} ms`);
            else this.fail(reply, info, GatewayErrorCodes.CLIENT_ABORTED, 'the client aborted the request body');
          }
          done(reply);
        } catch (e) {
          done(reply, e);
        }
      },
    );
  }

  private exchange(reply: ClientReply, info: RequestInfo, route: ResolvedRoute, cs: ClusterState, method: string, url: string, headers: string[], body: Buffer | Readable | null, replayable: boolean, done: Settled): void {
    const retry = new RetryPolicy(route.retry, cs.budget, method, replayable, route.timeoutMs);
    const timeouts = dispatchTimeouts(route, retry.perTryTimeoutMs);
    // Limits under a second are the Attempt's own timers (undici's fast timers would fire them up to a second late).
    const options: Dispatcher.DispatchOptions = { path: url, method: method as Dispatcher.HttpMethod, headers, body, headersTimeout: undiciLimit(timeouts.headersTimeout), bodyTimeout: undiciLimit(timeouts.bodyTimeout) };
    const hashKey = cs.cluster.hashKey(url, reply.request.raw.headers);
    new Exchange(this, reply, info, route, cs, retry, options, timeouts, hashKey, isLongPoll(route, url), done).next();
  }
}

/** Sets content-length in a flat [name, value, ...] list and drops transfer-encoding (a buffered body). */
function setContentLength(headers: string[], length: number): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    const k = headers[i];
    if (k === 'content-length' || k === 'transfer-encoding') headers.splice(i, 2);
  }
  headers.push('content-length', String(length));
}
