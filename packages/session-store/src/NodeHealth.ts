import { SessionStoreError, SessionStoreErrorCodes } from './errors.js';
import type { NodeConnection } from './NodeConnection.js';

/** `up` takes traffic; `ejected` waits for its next probe; `probing` has a probe in flight. */
export type NodeState = 'up' | 'ejected' | 'probing';

/** One node as `store.health()` reports it. */
export interface NodeHealthReport {
  readonly node: string;
  readonly state: NodeState;
  readonly consecutiveFailures: number;
  readonly lastError: string | undefined;
  /** Epoch ms of the last successful operation or probe. */
  readonly lastSeenAt: number | undefined;
  /** Epoch ms at which an ejected node is probed next. */
  readonly nextProbeAt: number | undefined;
  /** memcached's pid as last seen in `stats`. */
  readonly pid: number | undefined;
  /** The node may lack copies (it missed writes or restarted) until a re-sync finishes. */
  readonly needsResync: boolean;
  readonly resyncing: boolean;
}

export interface NodeHealthHooks {
  onDown(node: string, error: Error, retryInMs: number): void;
  onUp(node: string, downForMs: number): void;
  onRestarted(node: string, pid: number | undefined, previousPid: number | undefined): void;
}

export interface NodeHealthOptions {
  failureThreshold: number;
  retryIntervalMs: number;
  maxRetryIntervalMs: number;
}

/**
 * Failure accounting and ejection for one node: `failureThreshold` consecutive failures eject it for
 * `retryIntervalMs` (doubling per failed probe up to `maxRetryIntervalMs`); a `stats` probe must
 * succeed before it takes traffic again. `stats` also tells a restarted (empty) node by its pid and
 * start time.
 */
export class NodeHealth {
  readonly node: string;
  state: NodeState = 'up';
  consecutiveFailures = 0;
  lastError: string | undefined;
  lastSeenAt: number | undefined;
  nextProbeAt: number | undefined;
  needsResync = false;
  resyncing = false;
  /** Grows on every failure; a re-sync that saw it change cannot vouch for the node. */
  failureEpoch = 0;
  #pid: number | undefined;
  #startedAt: number | undefined;
  #downSince = 0;
  #failedProbes = 0;
  #lastProbeAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #checking = false;
  #closed = false;
  readonly #conn: NodeConnection;
  readonly #opts: NodeHealthOptions;
  readonly #hooks: NodeHealthHooks;

  constructor(conn: NodeConnection, opts: NodeHealthOptions, hooks: NodeHealthHooks) {
    this.node = conn.address;
    this.#conn = conn;
    this.#opts = opts;
    this.#hooks = hooks;
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  get pid(): number | undefined {
    return this.#pid;
  }

  recordSuccess(): void {
    this.consecutiveFailures = 0;
    this.lastSeenAt = Date.now();
  }

  /** Counts a failure if it says the node is unreachable (a memcached error status does not). */
  recordFailure(err: unknown): void {
    if (!isNodeFailure(err)) return;
    this.failureEpoch++;
    this.consecutiveFailures++;
    this.lastError = (err as Error)?.message ?? String(err);
    if (this.state === 'up' && this.consecutiveFailures >= this.#opts.failureThreshold) this.#eject(err as Error);
  }

  #eject(err: Error): void {
    this.state = 'ejected';
    this.needsResync = true;
    this.#downSince = Date.now();
    this.#failedProbes = 0;
    // Replies a frozen node sends after it thaws must land on a dead socket, not on a new request.
    this.#conn.reset(`ejected after ${this.consecutiveFailures} consecutive failures`);
    const wait = this.#scheduleProbe();
    this.#hooks.onDown(this.node, err, wait);
  }

  #scheduleProbe(): number {
    const wait = Math.min(this.#opts.maxRetryIntervalMs, this.#opts.retryIntervalMs * 2 ** Math.min(this.#failedProbes, 20));
    this.nextProbeAt = Date.now() + wait;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#probe(), wait);
    this.#timer.unref();
    return wait;
  }

  /**
   * An operation needed this node and found no live replica: probe now instead of at the backed-off
   * time (at most once per retryIntervalMs). The multi-host lab showed a node that had been
   * unreachable, then back for seconds, kept out for up to maxRetryIntervalMs while its pair member
   * was down: every session of the pair failed meanwhile.
   */
  probeSoon(): void {
    if (this.#closed || this.state !== 'ejected') return;
    const at = Math.max(Date.now(), this.#lastProbeAt + this.#opts.retryIntervalMs);
    if (this.nextProbeAt !== undefined && this.nextProbeAt <= at) return;
    this.nextProbeAt = at;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#probe(), at - Date.now());
    this.#timer.unref();
  }

  async #probe(): Promise<void> {
    if (this.#closed || this.state !== 'ejected') return;
    this.#lastProbeAt = Date.now();
    this.state = 'probing';
    try {
      const stats = await this.#conn.stats();
      if (this.#closed) return;
      const restarted = this.#noteIdentity(stats);
      this.state = 'up';
      this.consecutiveFailures = 0;
      this.nextProbeAt = undefined;
      this.lastSeenAt = Date.now();
      this.#hooks.onUp(this.node, Date.now() - this.#downSince);
      if (restarted) this.#hooks.onRestarted(this.node, this.#pid, restarted.previousPid);
    } catch (err) {
      if (this.#closed) return;
      this.state = 'ejected';
      this.lastError = (err as Error)?.message ?? String(err);
      this.#failedProbes++;
      this.#conn.reset('probe failed');
      this.#scheduleProbe();
    }
  }

  /**
   * The periodic `stats` check of a live node: notices a node that restarted (empty) between two
   * requests, and learns the identity of every node at startup.
   */
  async check(): Promise<void> {
    if (this.#closed || this.state !== 'up' || this.#checking) return;
    this.#checking = true;
    try {
      const stats = await this.#conn.stats();
      this.recordSuccess();
      const restarted = this.#noteIdentity(stats);
      if (restarted) this.#hooks.onRestarted(this.node, this.#pid, restarted.previousPid);
    } catch (err) {
      this.recordFailure(err);
    } finally {
      this.#checking = false;
    }
  }

  // Returns the previous identity when stats show a different process (or a later start) than before.
  #noteIdentity(stats: Record<string, string>): { previousPid: number | undefined } | undefined {
    const pid = Number(stats['pid']);
    const startedAt = Number(stats['time']) - Number(stats['uptime']);
    const previousPid = this.#pid;
    const previousStart = this.#startedAt;
    if (Number.isFinite(pid)) this.#pid = pid;
    if (Number.isFinite(startedAt)) this.#startedAt = startedAt;
    if (previousPid === undefined && previousStart === undefined) return undefined; // first sight
    // Start time is in whole seconds and drifts by one; more than 2 s apart is another process.
    const restarted = (Number.isFinite(pid) && pid !== previousPid) || (Number.isFinite(startedAt) && previousStart !== undefined && Math.abs(startedAt - previousStart) > 2);
    if (restarted) this.needsResync = true;
    return restarted ? { previousPid } : undefined;
  }

  report(): NodeHealthReport {
    return {
      node: this.node,
      state: this.state,
      consecutiveFailures: this.consecutiveFailures,
      lastError: this.lastError,
      lastSeenAt: this.lastSeenAt,
      nextProbeAt: this.nextProbeAt,
      pid: this.#pid,
      needsResync: this.needsResync,
      resyncing: this.resyncing,
    };
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** Timeouts and socket errors say a node is unreachable; memcached error statuses do not. */
export function isNodeFailure(err: unknown): boolean {
  if (err instanceof SessionStoreError) return err.code === SessionStoreErrorCodes.TIMEOUT;
  return true;
}
