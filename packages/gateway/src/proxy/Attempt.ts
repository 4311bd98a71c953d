import { errors, type Dispatcher } from 'undici';
import type { Endpoint, Lane } from '../cluster/Endpoint.js';
import type { AttemptOutcome, OutlierDetector } from '../health/OutlierDetector.js';

/** How one upstream attempt ended before the response was committed to the client. */
export const enum Outcome {
  /** Headers went to the client; the body streams on its own. */
  Committed,
  /** The attempt failed before any response header (`Attempt.error` holds why). */
  Failed,
  /** A 502/503/504 that is retried on another endpoint (its body is read and dropped). */
  RetryStatus,
}

/** Where an attempt is. */
const enum Phase {
  /** Waiting for the response headers. */
  Headers,
  /** Streaming the response body to the client. */
  Streaming,
  /** Reading and dropping the body of a 5xx that is retried. */
  Dropping,
  /** Ended (complete, failed or aborted). */
  Done,
}

/** What an attempt asks of its request (the Exchange): retry decisions and the client side. */
export interface AttemptOwner {
  /** The client is gone: abort at once. */
  readonly clientGone: boolean;
  /** Whether an answer with this status is dropped and retried elsewhere. */
  retryStatus(status: number): boolean;
  /** Commits the response to the client (writes the status and headers). */
  commit(status: number, headers: Record<string, string | string[] | undefined>): void;
  /** One body chunk for the client; false when the client's socket is full (the attempt pauses until `paused.resume()`). */
  write(chunk: Buffer, paused: { resume(): void }): boolean;
  /** The upstream body ended. */
  end(): void;
  /** The upstream failed after the headers went out. */
  failAfterCommit(err: Error): void;
  /** The attempt's fate at the response headers (called once per attempt; Committed after `commit`). */
  settled(outcome: Outcome): void;
}

/** An attempt's time limits (the route's timeout; for the headers the per-try timeout when set); 0 = none. */
export interface AttemptTimeouts {
  /** From when undici starts writing the request to the response headers (undici's headersTimeout). */
  readonly headersTimeout: number;
  /** Longest pause between response body chunks (undici's bodyTimeout). */
  readonly bodyTimeout: number;
}

/**
 * Limits below this are kept by the attempt's own timer, not by undici: undici keeps headersTimeout
 * and bodyTimeout on its fast timers, which tick every half second, so a 300 ms limit fired after
 * about a second (a per-try timeout of 200 ms, meant to move a GET off a dead endpoint quickly, took
 * five times as long). Longer limits stay with undici (most routes: no timer of ours per request).
 */
export const PRECISE_LIMIT_BELOW_MS = 1000;

/** The value to hand undici for a limit: the limit itself, or 0 when the attempt keeps it (below PRECISE_LIMIT_BELOW_MS). */
export function undiciLimit(ms: number): number {
  return ms >= PRECISE_LIMIT_BELOW_MS ? ms : 0;
}

/**
 * One upstream attempt: the undici 7 dispatch handler (onRequestStart, onResponseStart, ...) of
 * one try on one endpoint. It owns that endpoint's bookkeeping: `inFlight` goes up when the
 * attempt starts and down exactly once when it ends, and the outcome is recorded with outlier
 * detection exactly once.
 */
export class Attempt implements Dispatcher.DispatchHandler {
  /** Why the attempt failed, when it settled as Failed. */
  error: Error | undefined;
  /** The status of an attempt that settled as RetryStatus. */
  status = 0;
  private phase = Phase.Headers;
  private controller: Dispatcher.DispatchController | undefined;
  private released = false;
  private recorded = false;
  /** The timer of a limit under PRECISE_LIMIT_BELOW_MS (undefined for most attempts). */
  private shortTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly endpoint: Endpoint,
    private readonly outlier: OutlierDetector,
    private readonly owner: AttemptOwner,
    /** The pool the attempt goes through; its budget slot is already taken and given back on release. */
    private readonly lane: Lane,
    private readonly timeouts: AttemptTimeouts,
  ) {
    endpoint.inFlight++;
    endpoint.requests++;
  }

  /** Dispatches the attempt through its lane's pool. */
  start(options: Dispatcher.DispatchOptions): void {
    this.lane.pool.dispatch(options, this);
  }

  /** Records the outcome for outlier detection (once; later calls are ignored). */
  record(outcome: AttemptOutcome): void {
    if (this.recorded) return;
    this.recorded = true;
    this.outlier.record(this.endpoint, outcome);
  }

  /** Gives the endpoint's in-flight slot back (once). */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.endpoint.inFlight--;
    this.lane.budget.release();
  }

  /** Aborts the upstream request (the client went away). */
  abort(reason: Error): void {
    this.controller?.abort(reason);
  }

  /** Resumes the upstream body after the client's socket drained. */
  resume(): void {
    // As undici's body timer: a client slow to read is not the upstream's idleness.
    this.shortTimer?.refresh();
    this.controller?.resume();
  }

  /** Replaces the attempt's timer with one for `ms` when that is a short limit (see PRECISE_LIMIT_BELOW_MS); a longer one is undici's, 0 is none. */
  private armShort(ms: number): void {
    this.clearShort();
    if (ms > 0 && ms < PRECISE_LIMIT_BELOW_MS) this.shortTimer = setTimeout(() => this.expire(), ms);
  }

  private clearShort(): void {
    if (this.shortTimer === undefined) return;
    clearTimeout(this.shortTimer);
    this.shortTimer = undefined;
  }

  /** A short limit passed: aborted with undici's own error, as its timers would. */
  private expire(): void {
    this.shortTimer = undefined;
    if (this.phase === Phase.Done) return;
    this.controller?.abort(this.phase === Phase.Headers ? new errors.HeadersTimeoutError() : new errors.BodyTimeoutError());
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.owner.clientGone) return controller.abort(new ClientGone('the client went away'));
    // undici calls this when it starts writing the request: where its own headers timer starts too.
    this.armShort(this.timeouts.headersTimeout);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // From the headers on, the body's idle limit (also while a retried 5xx's body is read and dropped).
    this.armShort(this.timeouts.bodyTimeout);
    if (this.owner.retryStatus(statusCode)) {
      this.record('5xx');
      this.release();
      this.status = statusCode;
      this.phase = Phase.Dropping;
      return;
    }
    this.record(statusCode >= 500 ? '5xx' : 'success');
    this.phase = Phase.Streaming;
    this.owner.commit(statusCode, headers);
    this.owner.settled(Outcome.Committed);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.shortTimer?.refresh();
    if (this.phase !== Phase.Streaming) return;
    if (!this.owner.write(chunk, this)) controller.pause();
  }

  onResponseEnd(): void {
    const phase = this.phase;
    this.phase = Phase.Done;
    this.clearShort();
    if (phase === Phase.Dropping) return this.owner.settled(Outcome.RetryStatus);
    this.release();
    this.owner.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const phase = this.phase;
    this.clearShort();
    if (phase === Phase.Done) return;
    this.phase = Phase.Done;
    this.release();
    if (phase === Phase.Headers) {
      this.error = err;
      return this.owner.settled(Outcome.Failed);
    }
    // The dropped body of a retried 5xx failed: retry all the same.
    if (phase === Phase.Dropping) return this.owner.settled(Outcome.RetryStatus);
    this.owner.failAfterCommit(err);
  }
}

/** The reason the upstream request is aborted when the client goes away. */
export class ClientGone extends Error {
  override name = 'AbortError';
}
