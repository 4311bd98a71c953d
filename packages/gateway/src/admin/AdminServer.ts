import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { GatewayError, GatewayErrorCodes } from '../errors.js';
import type { GatewayRuntime } from '../Gateway.js';
import { statusPage } from './statusPage.js';

function wantsHtml(request: FastifyRequest): boolean {
  const q = request.query as Record<string, string | undefined>;
  if (q['format'] === 'json') return false;
  if (q['format'] === 'html' || request.url.startsWith('/status.html')) return true;
  const accept = request.headers.accept ?? '';
  return accept.includes('text/html');
}

/**
 * /readyz: ready when not draining and every cluster that a route uses has an endpoint that is
 * healthy and not drained. keepalived's check (`webtier-gateway check`) relies on this rule: a
 * gateway that cannot serve one of its routes hands its service address to the peer.
 */
export function readiness(runtime: GatewayRuntime): { ready: boolean; status: string } {
  if (runtime.draining) return { ready: false, status: 'draining' };
  const routed = new Set(runtime.state.routes.routes.map((r) => r.cluster));
  const down = [...routed].filter((name) => !runtime.state.clusters.get(name)?.cluster.endpoints.some((e) => e.healthy && !e.drained));
  if (down.length > 0) return { ready: false, status: `no healthy endpoint in cluster ${down.join(', ')}` };
  return { ready: true, status: 'ready' };
}

/**
 * The admin listener (a fastify instance of its own, never the public one): /metrics, /status
 * (JSON, or HTML for browsers and /status.html), POST /endpoints/drain and /endpoints/undrain
 * with { cluster, url }, /healthz (the process is up) and /readyz (see readiness).
 */
export function createAdminServer(runtime: GatewayRuntime, logger: FastifyBaseLogger): FastifyInstance {
  const admin = Fastify({ loggerInstance: logger.child({ listener: 'admin' }), logController: new LogController({ disableRequestLogging: true }) });
  admin.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _request, reply) => {
    const status = err.statusCode ?? 500;
    void reply.code(status).send({ statusCode: status, code: err.code, message: err.message });
  });
  admin.get('/metrics', async (_request, reply) => {
    reply.header('content-type', runtime.metrics.registry.contentType);
    return runtime.metrics.registry.metrics();
  });
  const status = async (request: FastifyRequest, reply: import('fastify').FastifyReply) => {
    const s = runtime.status();
    reply.header('cache-control', 'no-store');
    if (wantsHtml(request)) return reply.type('text/html; charset=utf-8').send(statusPage(s));
    return reply.send(s);
  };
  admin.get('/status', status);
  admin.get('/status.html', status);
  admin.get('/status.json', async () => runtime.status());
  const drain = (drained: boolean) => async (request: FastifyRequest) => {
    const body = request.body as { cluster?: unknown; url?: unknown } | undefined;
    if (!body || typeof body.cluster !== 'string' || typeof body.url !== 'string') {
      throw new GatewayError(GatewayErrorCodes.BAD_ADMIN_REQUEST, 'expected a JSON body { "cluster": "<name>", "url": "http://host:port" }', { statusCode: 400 });
    }
    const e = runtime.setDrained(body.cluster, body.url, drained);
    return { cluster: body.cluster, url: e.url, drained: e.drained, inFlight: e.inFlight };
  };
  admin.post('/endpoints/drain', drain(true));
  admin.post('/endpoints/undrain', drain(false));
  admin.get('/healthz', async () => ({ status: 'ok' }));
  admin.get('/readyz', async (_request, reply) => {
    const r = readiness(runtime);
    return r.ready ? { status: r.status } : reply.code(503).send({ status: r.status });
  });
  return admin;
}
