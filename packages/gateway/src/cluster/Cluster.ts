import type { IncomingHttpHeaders } from 'node:http';
import type { ClusterConfig } from '../config/schema.js';
import { Endpoint } from './Endpoint.js';
import { hashKeyOf } from './hashKey.js';
import { LeastRequest } from './lb/LeastRequest.js';
import type { LoadBalancer } from './lb/LoadBalancer.js';
import { Random } from './lb/Random.js';
import { RingHash } from './lb/RingHash.js';
import { RoundRobin } from './lb/RoundRobin.js';

function createLoadBalancer(config: ClusterConfig, endpoints: readonly Endpoint[]): LoadBalancer {
  switch (config.lbPolicy) {
    case 'least_request':
      return new LeastRequest();
    case 'ring_hash':
      return new RingHash(endpoints);
    case 'random':
      return new Random();
    case 'round_robin':
      return new RoundRobin();
  }
}

/** How a pick went: the endpoint, or why there is none. */
export interface Selection {
  endpoint: Endpoint | undefined;
  /** True when panic routing (too few healthy endpoints) chose among all endpoints. */
  panic: boolean;
}

/**
 * A named group of endpoints with one load-balancing policy (Envoy's cluster). Selection:
 * drained endpoints never get new requests; the highest-priority group that has a healthy
 * endpoint takes the traffic (with `preempt: false` traffic stays on the group it moved to while
 * that group stays healthy); `backup` endpoints only when no other is healthy; below
 * `healthyPanicThreshold` percent healthy (but at least one) every non-drained primary is a
 * candidate. With no healthy endpoint at all (and a threshold above 0), panic routes to every
 * non-drained endpoint that passes its active health check, outlier-ejected ones included; only
 * when none passes active checks (or all are drained) is there no pick (503).
 */
export class Cluster {
  readonly name: string;
  readonly config: ClusterConfig;
  readonly endpoints: readonly Endpoint[];
  private readonly lb: LoadBalancer;
  /** The priority group that took traffic last (for preempt: false). */
  private activePriority: number | undefined;

  /** `reuse` hands over endpoints of the previous config (same URL) so that state and connections survive a reload. */
  constructor(name: string, config: ClusterConfig, reuse?: ReadonlyMap<string, Endpoint>) {
    this.name = name;
    this.config = config;
    this.endpoints = config.endpoints.map((ep) => {
      const old = reuse?.get(new URL(ep.url).origin);
      if (old) {
        old.update(ep);
        old.setBudgets(config.connectionsPerEndpoint, config.maxLongPolls);
        return old;
      }
      return new Endpoint(name, ep, { connectTimeoutMs: config.connectTimeoutMs, connections: config.connectionsPerEndpoint, keepAliveTimeoutMs: config.keepAliveTimeoutMs, maxLongPolls: config.maxLongPolls });
    });
    this.lb = createLoadBalancer(config, this.endpoints);
  }

  /** The ring_hash key of a request. */
  hashKey(url: string, headers: IncomingHttpHeaders): string | undefined {
    return this.config.lbPolicy === 'ring_hash' ? hashKeyOf(this.config.hashOn, url, headers) : undefined;
  }

  /** Endpoints allowed for the next attempt; `exclude` holds the ones already tried. */
  candidates(exclude?: ReadonlySet<Endpoint>): { candidates: Endpoint[]; panic: boolean } {
    const primaries: Endpoint[] = [];
    let healthyPrimaries = 0;
    for (const e of this.endpoints) {
      if (e.drained || e.backup) continue;
      primaries.push(e);
      if (e.healthy) healthyPrimaries++;
    }
    const usable = (e: Endpoint) => !exclude?.has(e);
    if (healthyPrimaries > 0) {
      if ((healthyPrimaries * 100) / primaries.length < this.config.healthyPanicThreshold) {
        return { candidates: primaries.filter(usable), panic: true };
      }
      const group = this.priorityGroup(primaries.filter((e) => e.healthy), exclude);
      if (group.length > 0) return { candidates: group, panic: false };
    }
    const backups = this.endpoints.filter((e) => e.backup && !e.drained && e.healthy);
    if (backups.length > 0 || healthyPrimaries > 0 || this.config.healthyPanicThreshold === 0) return { candidates: backups.filter(usable), panic: false };
    // 0% healthy is below any panic threshold: passive ejection alone must not empty the cluster (it 503'd
    // everyone while ejected endpoints could serve); only failing active checks (or drain) leave nothing (503).
    const alive = this.endpoints.filter((e) => !e.drained && e.activeHealthy);
    return { candidates: alive.filter(usable), panic: alive.length > 0 };
  }

  private priorityGroup(healthy: Endpoint[], exclude?: ReadonlySet<Endpoint>): Endpoint[] {
    const untried = exclude && exclude.size > 0 ? healthy.filter((e) => !exclude.has(e)) : healthy;
    if (untried.length === 0) return untried;
    let top = -1;
    for (const e of healthy) if (e.priority > top) top = e.priority;
    let chosen = top;
    if (!this.config.preempt && this.activePriority !== undefined && healthy.some((e) => e.priority === this.activePriority)) {
      chosen = this.activePriority;
    }
    if (!exclude || exclude.size === 0) this.activePriority = chosen;
    let group = untried.filter((e) => e.priority === chosen);
    if (group.length === 0) {
      // Every endpoint of the chosen group was tried: fall to the best remaining group.
      let next = -1;
      for (const e of untried) if (e.priority > next) next = e.priority;
      group = untried.filter((e) => e.priority === next);
    }
    return group;
  }

  /** Picks the endpoint for one attempt. */
  pick(hashKey: string | undefined, exclude?: ReadonlySet<Endpoint>): Selection {
    // The usual first attempt: every endpoint a healthy, undrained primary of one priority. candidates()
    // would return them all (100 % healthy is above any panic threshold, the one group is the chosen
    // one) after building three arrays; this is the same answer without them.
    if (!exclude || exclude.size === 0) {
      const all = this.endpoints;
      const priority = all[0]?.priority;
      let uniform = all.length > 0;
      for (let i = 0; uniform && i < all.length; i++) {
        const e = all[i]!;
        uniform = !e.drained && !e.backup && e.priority === priority && e.healthy;
      }
      if (uniform) {
        this.activePriority = priority;
        return { endpoint: this.lb.pick({ candidates: all, hashKey }), panic: false };
      }
    }
    const { candidates, panic } = this.candidates(exclude);
    if (candidates.length === 0) return { endpoint: undefined, panic };
    return { endpoint: this.lb.pick({ candidates, hashKey }), panic };
  }

  /** The priority group currently taking traffic (for /status). */
  get currentPriority(): number | undefined {
    return this.activePriority;
  }

  find(url: string): Endpoint | undefined {
    let origin = url;
    try {
      origin = new URL(url).origin;
    } catch {
      /* compared as given */
    }
    return this.endpoints.find((e) => e.url === origin || e.address === url);
  }
}
