import type { IncomingMessage, Server } from 'node:http';
import httpProxy, { type FastifyHttpProxyOptions } from '@fastify/http-proxy';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { GatewayRuntime } from '../Gateway.js';
import { upstreamRequestHeaders } from './headers.js';

const WS_DROP = new Set(['host', 'content-length', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol', 'sec-websocket-accept']);

/**
 * WebSocket upgrades go through @fastify/http-proxy (websocket: true). It runs in a fastify
 * instance of its own that shares the public http.Server (serverFactory) and never listens: it
 * sees only `upgrade` events, so its catch-all HTTP routes never compete with the Forwarder's.
 * Its onRequest hook does the route match and endpoint pick (503 when none is healthy) and
 * `replyOptions.getUpstream` hands the picked endpoint to the proxy.
 */
export async function createWebSocketProxy(server: Server, runtime: GatewayRuntime, logger: FastifyBaseLogger): Promise<FastifyInstance> {
  const wsApp = Fastify({
    serverFactory: () => server,
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    // The public instance already answers client errors on this server.
    clientErrorHandler: () => undefined,
  });
  const targets = new WeakMap<object, string>();
  wsApp.addHook('onRequest', (request, reply, done) => {
    const state = runtime.state;
    const route = state.routes.match(request.url);
    const cs = route ? state.clusters.get(route.cluster) : undefined;
    if (!route || !cs) {
      reply.code(404).send({ statusCode: 404, code: 'GW_ERR_NO_ROUTE', message: `no route matches ${request.url.split('?')[0]}` });
      return;
    }
    const { endpoint } = cs.cluster.pick(cs.cluster.hashKey(request.url, request.headers));
    if (!endpoint) {
      reply.code(503).send({ statusCode: 503, code: 'GW_ERR_NO_HEALTHY_UPSTREAM', message: `cluster "${cs.cluster.name}" has no healthy endpoint` });
      return;
    }
    targets.set(request, endpoint.url);
    request.log.info({ route: route.name, cluster: cs.cluster.name, endpoint: endpoint.address, url: request.url }, 'websocket upgrade');
    done();
  });
  // Typed loosely: the plugin's types want http2-capable request types this server never has.
  const proxyOptions = {
    upstream: '',
    websocket: true,
    replyOptions: { getUpstream: (request: object) => targets.get(request) ?? 'http://127.0.0.1:9' },
    wsClientOptions: {
      rewriteRequestHeaders: (_headers: Record<string, unknown>, request: { raw: unknown }) => {
        const { headers } = upstreamRequestHeaders(request.raw as IncomingMessage, { trusted: runtime.state.trusted, requestIdHeader: runtime.state.config.requestIdHeader });
        for (const k of Object.keys(headers)) if (WS_DROP.has(k)) delete headers[k];
        return headers;
      },
    },
  };
  await wsApp.register(httpProxy, proxyOptions as unknown as FastifyHttpProxyOptions);
  await wsApp.ready();
  return wsApp;
}
