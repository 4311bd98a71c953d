import type { ResolvedRetry } from '../config/resolve.js';

/**
 * Envoy's retry budget for one cluster: retries in flight may be at most `budgetPercent` of the
 * requests in flight, but `minRetryConcurrency` are always allowed. Under a total outage this
 * keeps the gateway from multiplying the load by (1 + maxRetries).
 */
export class RetryBudget {
  activeRequests = 0;
  activeRetries = 0;

  /** Takes a retry slot; false when the budget is spent. Release with `release()`. */
  tryAcquire(policy: Pick<ResolvedRetry, 'minRetryConcurrency' | 'budgetPercent'>): boolean {
    const allowed = Math.max(policy.minRetryConcurrency, Math.floor((this.activeRequests * policy.budgetPercent) / 100));
    if (this.activeRetries >= allowed) return false;
    this.activeRetries++;
    return true;
  }

  release(): void {
    if (this.activeRetries > 0) this.activeRetries--;
  }
}
