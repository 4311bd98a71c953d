import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { GatewayError, GatewayErrorCodes, statusPage, type GatewayRuntime } from '../index.js';
import { readiness } from '../admin/AdminServer.js';
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
 * The admin listener of a multi-worker gateway, served by the primary: the same routes as
 * createAdminServer, answered for the whole gateway (every worker) rather than one worker's slice.
 */
export function createPrimaryAdmin(source: PrimarySource, logger: FastifyBaseLogger): FastifyInstance {
  const admin = Fastify({ loggerInstance: logger.child({ listener: 'admin' }), logController: new LogController({ disableRequestLogging: true }) });
  admin.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _request, reply) => {
    const status = err.statusCode ?? 500;
    void reply.code(status).send({ statusCode: status, code: err.code, message: err.message });
  });
  admin.get('/metrics', async (_request, reply) => {
    const { contentType, text } = await source.metrics();
    return reply.header('content-type', contentType).send(text);
  });
  const status = async (request: FastifyRequest, reply: FastifyReply) => {
    const s = await source.status();
    reply.header('cache-control', 'no-store');
    const q = request.query as Record<string, string | undefined>;
    const html = q['format'] !== 'json' && (q['format'] === 'html' || request.url.startsWith('/status.html') || (request.headers.accept ?? '').includes('text/html'));
    return html ? reply.type('text/html; charset=utf-8').send(statusPage(s)) : reply.send(s);
  };
  admin.get('/status', status);
  admin.get('/status.html', status);
  admin.get('/status.json', async () => source.status());
  const drain = (drained: boolean) => async (request: FastifyRequest) => {
    const body = request.body as { cluster?: unknown; url?: unknown } | undefined;
    if (!body || typeof body.cluster !== 'string' || typeof body.url !== 'string') {
      throw new GatewayError(GatewayErrorCodes.BAD_ADMIN_REQUEST, 'expected a JSON body { "cluster": "<name>", "url": "http://host:port" }', { statusCode: 400 });
    }
    const e = source.checker.setDrained(body.cluster, body.url, drained);
    const inFlight = await source.setDrained(body.cluster, body.url, drained);
    return { cluster: body.cluster, url: e.url, drained: e.drained, inFlight };
  };
  admin.post('/endpoints/drain', drain(true));
  admin.post('/endpoints/undrain', drain(false));
  admin.get('/healthz', async () => ({ status: 'ok' }));
  admin.get('/readyz', async (_request, reply) => {
    // The primary's runtime has the health results; ejections are per worker and not counted here.
    const r = source.listeningWorkers() === 0 && !source.checker.draining ? { ready: false, status: 'no worker listening' } : readiness(source.checker);
    return r.ready ? { status: r.status } : reply.code(503).send({ status: r.status });
  });
  return admin;
}
