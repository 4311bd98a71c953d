import type { ResolvedRetry } from '../config/resolve.js';
import type { RetryBudget } from './RetryBudget.js';

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

/** The answers a retry policy may drop and retry elsewhere ('gateway-error'): 502, 503 and 504. */
export function isRetriedStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}

/**
 * Every retry decision of one request, in one place (undici's RetryHandler): which failure kinds
 * and statuses are retried, for which methods, whether the body can be replayed, the route's
 * maxRetries and the cluster's retry budget. The forwarder asks; it never decides itself.
 */
export class RetryPolicy {
  /** Retries granted so far. */
  retries = 0;
  /** Whether this request holds one of the budget's retry slots (taken on the first budgeted retry, released by `end`). */
  private holdsBudget = false;
  private readonly idempotent: boolean;
  /**
   * Time each attempt gets for the response headers before it is retried elsewhere; 0 = the route's
   * timeout applies. Only for requests that can be retried (idempotent, replayable) and only when
   * shorter than the route's timeout: found with the multi-host lab, where a GET on a keep-alive
   * connection to a blackholed webmail node waited out the whole route timeout.
   */
  readonly perTryTimeoutMs: number;

  constructor(
    private readonly settings: ResolvedRetry,
    private readonly budget: RetryBudget,
    method: string,
    /** The request body is buffered (or absent), so it can be sent again. */
    private readonly replayable: boolean,
    /** The route's timeout (0 = none), which a per-try timeout must undercut to mean anything. */
    routeTimeoutMs = 0,
  ) {
    this.idempotent = IDEMPOTENT.has(method);
    const perTry = settings.perTryTimeoutMs;
    this.perTryTimeoutMs = perTry > 0 && replayable && this.idempotent && (routeTimeoutMs === 0 || perTry < routeTimeoutMs) ? perTry : 0;
    budget.activeRequests++;
  }

  /** Whether an answer with `status` is dropped and retried on another endpoint (`hasCandidates`: one is left). */
  retryStatus(status: number, hasCandidates: () => boolean): boolean {
    if (!isRetriedStatus(status)) return false;
    if (!this.settings.retryOn.has('gateway-error') || !this.idempotent || !this.withinMax()) return false;
    if (!hasCandidates()) return false;
    // 5xx retries are what multiplies load in an outage: they, and only they, spend the budget.
    if (!this.holdsBudget && !this.budget.tryAcquire(this.settings)) return false;
    this.holdsBudget = true;
    this.retries++;
    return true;
  }

  /** Whether a failed attempt (before any response byte reached the client) is retried on another endpoint. */
  retryFailure(kind: FailureKind): boolean {
    if (!this.withinMax()) return false;
    const on = this.settings.retryOn;
    // Connect failures are exempt from the budget: nothing reached an upstream, the number of
    // endpoints bounds them (each retry goes to an untried one), and a dead endpoint leaves the
    // rotation after the health checks or outlier detection notice it.
    // So is a reset of an idempotent request before any response byte: a SIGKILLed endpoint resets all its
    // in-flight requests at once and the budget (min 3) turned most of those GETs into 502s.
    // An attempt that ran out of its per-try timeout is retried the same way (set only where a retry may follow).
    const ok =
      kind === 'connect' ? on.has('connect-failure') : kind === 'timeout' ? this.perTryTimeoutMs > 0 : kind === 'reset' && on.has('reset') && this.idempotent;
    if (ok) this.retries++;
    return ok;
  }

  private withinMax(): boolean {
    return this.replayable && this.retries < this.settings.maxRetries;
  }

  /** The request is over: give back its share of the budget. */
  end(): void {
    this.budget.activeRequests--;
    if (this.holdsBudget) this.budget.release();
    this.holdsBudget = false;
  }
}
