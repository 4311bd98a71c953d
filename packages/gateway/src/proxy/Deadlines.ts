import { performance } from 'node:perf_hooks';

/**
 * An upstream attempt with a time limit, as the sweeper sees it: the current phase (waiting for
 * the response headers, or reading the body) may last `limitMs` without progress.
 */
export interface Timed {
  /** Milliseconds the phase may go without progress; set by `Deadlines.arm`. */
  limitMs: number;
  /** performance.now() when the phase started or was last seen making progress. */
  sinceMs: number;
  /** Bumped by the attempt on progress (a body chunk, a resume): one increment, no clock read. */
  progress: number;
  /** `progress` as the sweeper saw it last. */
  seenProgress: number;
  /** The timer of a short limit (owned by Deadlines). */
  timer: NodeJS.Timeout | undefined;
  /** The limit passed without progress (called once; the attempt is no longer tracked). */
  expire(): void;
}

/** Options of Deadlines. */
export interface DeadlinesOptions {
  /** How often long limits are checked. @default 100 */
  sweepMs?: number;
  /** Limits below this get a timer of their own (a sweep would make them up to `sweepMs` late). @default 1000 */
  shortLimitMs?: number;
}

/**
 * The forwarder's upstream time limits (the route's headers and body-idle timeouts, the per-try
 * timeout) for every attempt in flight, checked by one interval timer instead of a timer per
 * request. undici's own per-request timers (`headersTimeout`/`bodyTimeout` on dispatch) cost about
 * 5 % of the gateway's throughput (issue 15; head to head against the same gateway without them:
 * 1.05× in 9 of 9 rounds): each request switched its connection's timer from keep-alive to a fast
 * timer and back, with a WeakRef each time. Here an attempt costs a Set insertion and deletion.
 * Like undici (which checks limits above one second every half second), long limits are checked on
 * a sweep, every `sweepMs`: a limit fires at most that late, and a body chunk counts as progress at
 * the next sweep (an idle limit runs from the last sweep that saw progress). Limits under a second
 * get a timer of their own, refreshed on progress, as undici's are.
 */
export class Deadlines {
  private readonly tracked = new Set<Timed>();
  /** Attempts with a short limit, each on its own timer. */
  private readonly short = new Set<Timed>();
  private sweeper: NodeJS.Timeout | undefined;

  readonly sweepMs: number;
  readonly shortLimitMs: number;

  constructor(options: DeadlinesOptions = {}) {
    this.sweepMs = options.sweepMs ?? 100;
    this.shortLimitMs = options.shortLimitMs ?? 1000;
  }

  /** Starts (or restarts) `t`'s limit from now; 0 stops it. */
  arm(t: Timed, limitMs: number): void {
    this.disarm(t);
    if (!(limitMs > 0)) return;
    t.limitMs = limitMs;
    t.sinceMs = performance.now();
    t.seenProgress = t.progress;
    if (limitMs < this.shortLimitMs) {
      t.timer = setTimeout(() => this.fireShort(t), limitMs);
      this.short.add(t);
      return;
    }
    this.tracked.add(t);
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(() => this.sweep(), this.sweepMs);
      this.sweeper.unref();
    }
  }

  /** `t` made progress (a body chunk, a resume): its idle limit starts again. */
  progressed(t: Timed): void {
    if (t.timer !== undefined) t.timer.refresh();
    else t.progress++;
  }

  /** Stops `t`'s limit (the attempt ended). */
  disarm(t: Timed): void {
    if (t.limitMs === 0) return;
    t.limitMs = 0;
    if (t.timer !== undefined) {
      clearTimeout(t.timer);
      t.timer = undefined;
      this.short.delete(t);
    } else this.tracked.delete(t);
  }

  /** Attempts being timed. */
  get size(): number {
    return this.tracked.size + this.short.size;
  }

  private fireShort(t: Timed): void {
    t.timer = undefined;
    this.short.delete(t);
    t.limitMs = 0;
    t.expire();
  }

  private sweep(): void {
    if (this.tracked.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      return;
    }
    const now = performance.now();
    for (const t of this.tracked) {
      if (t.progress !== t.seenProgress) {
        t.seenProgress = t.progress;
        t.sinceMs = now;
      } else if (now - t.sinceMs >= t.limitMs) {
        this.tracked.delete(t);
        t.limitMs = 0;
        t.expire();
      }
    }
  }
}
