import type { OutlierDetectionConfig } from '../config/schema.js';
import type { Endpoint } from '../cluster/Endpoint.js';

/** What one upstream attempt came to, as far as outlier detection cares. */
export type AttemptOutcome = 'success' | 'gateway-failure' | '5xx';

/** Called when outlier detection ejects an endpoint. */
export type EjectionListener = (endpoint: Endpoint, ejectionMs: number, reason: string) => void;

/**
 * Passive health (Envoy's outlier detection): consecutive gateway failures (connect failure,
 * reset, timeout) or consecutive 5xx answers eject an endpoint for baseEjectionTimeMs × the number
 * of times it was ejected (capped at maxEjectionTimeMs). At most maxEjectionPercent of the cluster
 * (at least one endpoint) is ejected at a time, never the last endpoint that is neither ejected nor
 * drained. Ejection ends by time; an endpoint that stayed in
 * for maxEjectionTimeMs starts again from one ejection.
 */
export class OutlierDetector {
  private readonly lastEjectionEnd = new Map<Endpoint, number>();

  constructor(
    private readonly endpoints: readonly Endpoint[],
    private readonly config: OutlierDetectionConfig,
    private readonly onEject: EjectionListener,
  ) {}

  record(e: Endpoint, outcome: AttemptOutcome): void {
    if (outcome === 'success') {
      e.consecutiveGatewayFailures = 0;
      e.consecutive5xx = 0;
      return;
    }
    // Envoy counts gateway failures towards consecutive 5xx as well.
    e.consecutive5xx++;
    if (outcome === 'gateway-failure') e.consecutiveGatewayFailures++;
    const { consecutiveGatewayFailures: gf, consecutive5xx: fx } = this.config;
    if (gf > 0 && e.consecutiveGatewayFailures >= gf) this.eject(e, `${e.consecutiveGatewayFailures} consecutive gateway failures`);
    else if (fx > 0 && e.consecutive5xx >= fx) this.eject(e, `${e.consecutive5xx} consecutive 5xx`);
  }

  private eject(e: Endpoint, reason: string): void {
    if (e.ejected) return;
    const now = Date.now();
    const maxEjected = Math.max(1, Math.floor((this.endpoints.length * this.config.maxEjectionPercent) / 100));
    if (this.config.maxEjectionPercent === 0) return;
    const ejectedNow = this.endpoints.filter((x) => x.ejected).length;
    if (ejectedNow >= maxEjected) return;
    // Never the last endpoint still in rotation: the Math.max(1, …) floor let a small cluster go to zero (503 for all).
    if (!this.endpoints.some((x) => x !== e && !x.ejected && !x.drained)) return;
    const lastEnd = this.lastEjectionEnd.get(e);
    if (lastEnd !== undefined && now - lastEnd > this.config.maxEjectionTimeMs) e.ejections = 0;
    e.ejections++;
    const ms = Math.min(this.config.baseEjectionTimeMs * e.ejections, Math.max(this.config.maxEjectionTimeMs, this.config.baseEjectionTimeMs));
    e.ejectedUntil = now + ms;
    this.lastEjectionEnd.set(e, e.ejectedUntil);
    e.consecutiveGatewayFailures = 0;
    e.consecutive5xx = 0;
    this.onEject(e, ms, reason);
  }
}
