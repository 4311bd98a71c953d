import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { Endpoint } from '../cluster/Endpoint.js';
import type { ResolvedRoute } from '../config/resolve.js';
import { GatewayErrorCodes, type GatewayErrorCode } from '../errors.js';
import type { ClusterState, GatewayRuntime } from '../Gateway.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';

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

/**
 * Forwards one request: route match, endpoint pick, dispatch through the endpoint's undici Pool,
 * retries on a different endpoint, streaming of the response. Upstream faults answer 502/503/504,
 * never 500.
 */
export class Forwarder {
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

    const controller = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) controller.abort();
    };
    reply.raw.once('close', onClose);
    const hashKey = cs.cluster.hashKey(url, raw.headers);
    const timeouts = dispatchTimeouts(route);
    const tried = new Set<Endpoint>();
    let lastFailure: FailureKind | undefined;
    let holdsRetry = false;
    cs.budget.activeRequests++;
    try {
      for (;;) {
        const { endpoint } = cs.cluster.pick(hashKey, tried);
        if (!endpoint) break;
        tried.add(endpoint);
        info.endpoint = endpoint.address;
        endpoint.inFlight++;
        endpoint.requests++;
        let res: Dispatcher.ResponseData;
        try {
          const options: Dispatcher.RequestOptions<null> = { path: url, method: method as Dispatcher.HttpMethod, headers, body, headersTimeout: timeouts.headersTimeout, bodyTimeout: timeouts.bodyTimeout, signal: controller.signal };
          res = await endpoint.pool.request(options);
        } catch (err) {
          endpoint.inFlight--;
          const kind = classifyUpstreamError(err);
          if (kind === 'aborted' || controller.signal.aborted) {
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
          request.log.warn({ cluster: cs.cluster.name, endpoint: endpoint.address, kind, code: (err as { code?: string }).code, attempt: tried.size }, 'upstream attempt failed');
          if (this.mayRetry(kind, method, replayable, route, info, cs, holdsRetry)) {
            if (kind !== 'connect') holdsRetry = true;
            info.retries++;
            this.runtime.metrics.retry(cs.cluster.name, kind);
            continue;
          }
          return this.failFor(reply, info, kind, cs, tried.size);
        }
        const status = res.statusCode;
        if (
          (status === 502 || status === 503 || status === 504) &&
          route.retry.retryOn.has('gateway-error') &&
          IDEMPOTENT.has(method) &&
          replayable &&
          info.retries < route.retry.maxRetries &&
          cs.cluster.candidates(tried).candidates.length > 0 &&
          (holdsRetry || cs.budget.tryAcquire(route.retry))
        ) {
          holdsRetry = true;
          cs.outlier.record(endpoint, '5xx');
          endpoint.inFlight--;
          await res.body.dump().catch(() => undefined);
          info.retries++;
          this.runtime.metrics.retry(cs.cluster.name, `status_${status}`);
          lastFailure = 'protocol';
          continue;
        }
        cs.outlier.record(endpoint, status >= 500 ? '5xx' : 'success');
        return this.respond(reply, res, endpoint, method, info);
      }
      if (tried.size === 0) {
        return this.fail(reply, info, 503, GatewayErrorCodes.NO_HEALTHY_UPSTREAM, `cluster "${cs.cluster.name}" has no healthy endpoint`);
      }
      return this.failFor(reply, info, lastFailure ?? 'connect', cs, tried.size);
    } finally {
      cs.budget.activeRequests--;
      if (holdsRetry) cs.budget.release();
      reply.raw.off('close', onClose);
    }
  }

  private mayRetry(kind: FailureKind, method: string, replayable: boolean, route: ResolvedRoute, info: RequestInfo, cs: ClusterState, holdsRetry: boolean): boolean {
    if (!replayable || info.retries >= route.retry.maxRetries) return false;
    const on = route.retry.retryOn;
    const eligible = (kind === 'connect' && on.has('connect-failure')) || (kind === 'reset' && on.has('reset') && IDEMPOTENT.has(method));
    if (!eligible) return false;
    // Connect failures are exempt from the budget: nothing reached an upstream, the number of
    // endpoints bounds them, and a dead endpoint leaves the rotation after the health checks or
    // outlier detection notice it. The budget caps retries that do load upstreams (reset, 5xx).
    if (kind === 'connect') return true;
    return holdsRetry || cs.budget.tryAcquire(route.retry);
  }

  private failFor(reply: FastifyReply, info: RequestInfo, kind: FailureKind, cs: ClusterState, attempts: number): void {
    const n = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
    if (kind === 'timeout') return this.fail(reply, info, 504, GatewayErrorCodes.UPSTREAM_TIMEOUT, `cluster "${cs.cluster.name}" did not answer within the route's timeout`);
    if (kind === 'connect') return this.fail(reply, info, 502, GatewayErrorCodes.UPSTREAM_CONNECT, `could not connect to cluster "${cs.cluster.name}" (${n})`);
    return this.fail(reply, info, 502, GatewayErrorCodes.UPSTREAM_RESET, `cluster "${cs.cluster.name}" reset the connection or sent an invalid response (${n})`);
  }

  private respond(reply: FastifyReply, res: Dispatcher.ResponseData, endpoint: Endpoint, method: string, info: RequestInfo): void {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      endpoint.inFlight--;
    };
    res.body.once('close', finish);
    res.body.once('end', finish);
    // A reset mid-body after the headers went out: fastify ends the client connection; log only.
    res.body.on('error', (err) => {
      finish();
      reply.log.warn({ cluster: endpoint.cluster, endpoint: endpoint.address, code: (err as { code?: string }).code }, 'upstream response body failed');
    });
    reply.code(res.statusCode);
    reply.headers(downstreamResponseHeaders(res.headers));
    if (!res.headers['x-request-id']) reply.header('x-request-id', info.requestId);
    if (method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304) {
      void res.body.dump().catch(() => undefined).finally(finish);
      reply.send();
      return;
    }
    reply.send(res.body);
  }
}
