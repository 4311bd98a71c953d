import type { IncomingMessage, Server } from 'node:http';
import httpProxy, { type FastifyHttpProxyOptions } from '@fastify/http-proxy';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { GatewayErrorCodes } from '../errors.js';
import { sendError } from './errorResponse.js';
import { upstreamRequestHeaderRecord } from './headers.js';
import type { ProxyRuntime } from './state.js';

const WS_DROP = new Set(['host', 'content-length', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol', 'sec-websocket-accept']);

/**
 * WebSocket upgrades go through @fastify/http-proxy (websocket: true). It runs in a fastify
 * instance of its own that shares the public http.Server (serverFactory) and never listens: it
 * sees only `upgrade` events, so its catch-all HTTP routes never compete with the Forwarder's.
 * Its onRequest hook does the route match and endpoint pick, answering with the same error table
 * as the Forwarder (404, 503, and 503 past the cluster's `maxWebSocketConnections`);
 * `replyOptions.getUpstream` hands the picked endpoint to the proxy.
 */
export async function createWebSocketProxy(server: Server, runtime: ProxyRuntime, logger: FastifyBaseLogger): Promise<FastifyInstance> {
  const wsApp = Fastify({
    serverFactory: () => server,
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    // The public instance already answers client errors on this server.
    clientErrorHandler: () => undefined,
  });
  const targets = new WeakMap<object, string>();
  // The upgrade's upstream headers, computed once with the request id the log line names.
  const upstreamHeaders = new WeakMap<object, Record<string, string | string[]>>();
  wsApp.addHook('onRequest', (request, reply, done) => {
    const state = runtime.state;
    const { headers, requestId } = upstreamRequestHeaderRecord(request.raw, state.forwarding);
    const route = state.routes.match(request.url);
    const cs = route ? state.clusters.get(route.cluster) : undefined;
    if (!route || !cs) return sendError(reply, GatewayErrorCodes.NO_ROUTE, `no route matches ${request.url.split('?')[0]}`, requestId, state.errorPages);
    const max = cs.cluster.config.maxWebSocketConnections;
    if (cs.webSockets.open >= max) return sendError(reply, GatewayErrorCodes.TOO_MANY_WEBSOCKETS, `cluster "${cs.cluster.name}" has ${max} WebSocket connections open (maxWebSocketConnections)`, requestId, state.errorPages);
    const { endpoint } = cs.cluster.pick(cs.cluster.hashKey(request.url, request.headers));
    if (!endpoint) return sendError(reply, GatewayErrorCodes.NO_HEALTHY_UPSTREAM, `cluster "${cs.cluster.name}" has no healthy endpoint`, requestId, state.errorPages);
    const counter = cs.webSockets;
    counter.open++;
    request.raw.socket.once('close', () => counter.open--);
    targets.set(request, endpoint.url);
    upstreamHeaders.set(request.raw, headers);
    request.log.info({ route: route.name, cluster: cs.cluster.name, endpoint: endpoint.address, url: request.url, requestId }, 'websocket upgrade');
    done();
  });
  // Typed loosely: the plugin's types want http2-capable request types this server never has.
  const proxyOptions = {
    upstream: '',
    websocket: true,
    replyOptions: { getUpstream: (request: object) => targets.get(request) ?? 'http://127.0.0.1:9' },
    wsClientOptions: {
      rewriteRequestHeaders: (_headers: Record<string, unknown>, request: { raw: IncomingMessage }) => {
        const headers = upstreamHeaders.get(request.raw) ?? {};
        for (const k of Object.keys(headers)) if (WS_DROP.has(k)) delete headers[k];
        return headers;
      },
    },
  };
  await wsApp.register(httpProxy, proxyOptions as unknown as FastifyHttpProxyOptions);
  await wsApp.ready();
  return wsApp;
}
