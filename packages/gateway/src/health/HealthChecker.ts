import type { HealthCheckConfig } from '../config/schema.js';
import type { Endpoint } from '../cluster/Endpoint.js';

/** Called when an endpoint's active health flips. */
export type HealthChangeListener = (endpoint: Endpoint, healthy: boolean, reason: string) => void;

function statusMatcher(specs: ReadonlyArray<number | string>): (status: number) => boolean {
  const ranges = specs.map((s) => {
    if (typeof s === 'number') return [s, s] as const;
    const [a, b] = s.split('-').map(Number);
    return [a!, b!] as const;
  });
  return (status) => ranges.some(([a, b]) => status >= a && status <= b);
}

/**
 * Active health checks of one cluster: every `intervalMs` (+ random 0..jitterMs) a GET of `path`
 * per endpoint through the endpoint's own pool. `unhealthyThreshold` consecutive failures take it
 * out, `healthyThreshold` consecutive passes bring it back (and end an outlier ejection). Timers are unref'd: checks never keep
 * the process alive.
 */
export class HealthChecker {
  private readonly timers = new Map<Endpoint, NodeJS.Timeout>();
  private readonly expected: (status: number) => boolean;
  private stopped = false;

  constructor(
    private readonly endpoints: readonly Endpoint[],
    private readonly config: HealthCheckConfig,
    private readonly onChange: HealthChangeListener,
  ) {
    this.expected = statusMatcher(config.expectedStatuses);
  }

  start(): void {
    // The first round runs at once so that a dead endpoint is found before the first interval ends.
    for (const e of this.endpoints) this.schedule(e, Math.random() * Math.min(this.config.jitterMs, this.config.intervalMs));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private schedule(e: Endpoint, delayMs: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      void this.check(e).finally(() => this.schedule(e, this.config.intervalMs + Math.random() * this.config.jitterMs));
    }, delayMs);
    t.unref();
    this.timers.set(e, t);
  }

  /** Runs one check of one endpoint and applies the thresholds; returns whether it passed. */
  async check(e: Endpoint): Promise<boolean> {
    let ok = false;
    let status: number | undefined;
    let error: string | undefined;
    const deadline = stallSafeTimeout(this.config.timeoutMs);
    try {
      const res = await e.pool.request({
        method: 'GET',
        path: this.config.path,
        headers: { host: this.config.host ?? e.address, 'user-agent': 'webtier-gateway-healthcheck' },
        // undici's own timers would fire in the same turn as ours; they only back it up.
        headersTimeout: this.config.timeoutMs * 2 + 1000,
        bodyTimeout: this.config.timeoutMs * 2 + 1000,
        signal: deadline.signal,
      });
      status = res.statusCode;
      await res.body.dump().catch(() => undefined);
      ok = this.expected(status);
      if (!ok) error = `status ${status}`;
    } catch (err) {
      error = (err as { code?: string }).code ?? (err as Error).name ?? 'error';
    } finally {
      deadline.clear();
    }
    if (this.stopped) return ok;
    e.lastCheck = { at: Date.now(), ok, ...(status !== undefined ? { status } : {}), ...(error !== undefined ? { error } : {}) };
    if (ok) {
      e.consecutiveCheckFailures = 0;
      e.consecutiveCheckPasses++;
      if (!e.activeHealthy && e.consecutiveCheckPasses >= this.config.healthyThreshold) {
        e.activeHealthy = true;
        // Back from unhealthy ends an outlier ejection too (Envoy's successful_active_health_check_uneject_host):
        // in the multi-host lab an unplugged webmail host stayed ejected for baseEjectionTimeMs after it came back.
        const uneject = e.ejected;
        if (uneject) e.ejectedUntil = 0;
        this.onChange(e, true, `${e.consecutiveCheckPasses} checks passed${uneject ? ' (outlier ejection ended)' : ''}`);
      }
    } else {
      e.consecutiveCheckPasses = 0;
      e.consecutiveCheckFailures++;
      if (e.activeHealthy && e.consecutiveCheckFailures >= this.config.unhealthyThreshold) {
        e.activeHealthy = false;
        this.onChange(e, false, `${e.consecutiveCheckFailures} checks failed (last: ${error})`);
      }
    }
    return ok;
  }
}

/**
 * An AbortSignal that aborts `ms` from now, but not before the sockets have been read once more.
 * After the event loop stalls (a GC pause, or a process starved of CPU on a loaded host), Node runs
 * due timers before it reads sockets, so a plain timeout fails a check whose answer has been waiting
 * in the socket buffer all along, and with unhealthyThreshold 1 a healthy endpoint goes out. The
 * timer hands over to setImmediate, which runs after the poll phase has delivered what arrived.
 */
export function stallSafeTimeout(ms: number): { readonly signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  let immediate: NodeJS.Immediate | undefined;
  const timer = setTimeout(() => {
    immediate = setImmediate(() => controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')));
  }, ms);
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
    },
  };
}
