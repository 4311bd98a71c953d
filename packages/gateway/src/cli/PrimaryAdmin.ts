import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { createAdminServer, type AdminAccess } from '../admin/AdminServer.js';
import type { GatewayRuntime } from '../index.js';
import type { AggregatedStatus } from './aggregate.js';

/** What the primary's admin listener asks the supervisor. */
export interface PrimarySource {
  /** The primary's runtime: the one health checker, routes, draining flag. */
  checker: GatewayRuntime;
  /** Prometheus text of the whole gateway. */
  metrics(): Promise<{ contentType: string; text: string }>;
  status(): Promise<AggregatedStatus>;
  /** Drains or undrains an endpoint in every worker; resolves the in-flight count over all of them. */
  setDrained(cluster: string, url: string, drained: boolean): Promise<number>;
  listeningWorkers(): number;
}

/**
 * The admin listener of a multi-worker gateway, served by the primary: the same admin server as a
 * single process (same routes, Host check and bearer token), answered for the whole gateway (every
 * worker) rather than one worker's slice.
 */
export function createPrimaryAdmin(source: PrimarySource, logger: FastifyBaseLogger, access: AdminAccess): FastifyInstance {
  const { checker } = source;
  return createAdminServer(
    {
      get draining() {
        return checker.draining;
      },
      metrics: () => source.metrics(),
      status: () => source.status(),
      async setDrained(cluster, url, drained) {
        const e = checker.setDrained(cluster, url, drained);
        const inFlight = await source.setDrained(cluster, url, drained);
        return { url: e.url, drained: e.drained, inFlight };
      },
      notReady() {
        // The primary's runtime has the health results; ejections are per worker and not counted here.
        if (!checker.draining && source.listeningWorkers() === 0) return 'no worker listening';
        const r = checker.readiness();
        return r.ready ? undefined : r.status;
      },
    },
    logger,
    access,
  );
}
