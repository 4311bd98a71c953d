import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AccessLog, type LogDestination } from './AccessLog.js';
import { toConfig, type GatewayConfigSource } from './config/load.js';
import { GatewayRuntime } from './Gateway.js';
import { Forwarder } from './proxy/Forwarder.js';
import { createWebSocketProxy } from './proxy/WebSocketProxy.js';

/** Options of the webtierGateway fastify plugin: a config (validated here) or a runtime to share. */
export interface WebtierGatewayOptions {
  /** A config object or the path of a YAML/JSON file. */
  config?: GatewayConfigSource;
  runtime?: GatewayRuntime;
  /** Start active health checks when the plugin loads. @default true */
  startHealthChecks?: boolean;
  /**
   * The destination the instance's pino logger writes to, when the caller made it (createGateway
   * does): access lines are then written to it directly in pino's format. @default undefined (log.info)
   */
  logDestination?: LogDestination;
}

/** Methods besides fastify's defaults that groupware clients send (WebDAV/CalDAV/CardDAV). */
export const EXTRA_HTTP_METHODS = ['PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'REPORT', 'SEARCH', 'MKCALENDAR'];

function accessLog(runtime: GatewayRuntime, enabled: boolean, destination: LogDestination | undefined) {
  const lines = new AccessLog(destination);
  return (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const info = request.gw;
    if (info) {
      const ms = reply.elapsedTime;
      runtime.metrics.request(info.route, info.cluster, reply.statusCode, ms / 1000);
      if (enabled) {
        lines.write(request.log, {
          route: info.route,
          cluster: info.cluster,
          endpoint: info.endpoint,
          method: request.raw.method,
          url: request.raw.url,
          status: reply.statusCode,
          durationMs: Math.round(ms * 10) / 10,
          retries: info.retries,
          requestId: info.requestId,
          error: info.error,
        });
      }
    }
    done();
  };
}

/**
 * The gateway as a fastify plugin: every path and method of the instance it is registered on is
 * proxied (register it in its own context/prefix when the app has routes of its own). Request
 * bodies are not parsed; they stream or are buffered for retries.
 */
export const webtierGateway: FastifyPluginAsync<WebtierGatewayOptions> = async (fastify: FastifyInstance, opts: WebtierGatewayOptions) => {
  let runtime = opts.runtime;
  if (!runtime) {
    if (!opts.config) throw new TypeError('webtierGateway: pass { config } or { runtime }');
    runtime = new GatewayRuntime(toConfig(opts.config));
  }
  const rt = runtime;
  rt.log = fastify.log;
  const forwarder = new Forwarder(rt);

  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_request, _payload, done) => done(null));
  if (!fastify.hasRequestDecorator('gw')) fastify.decorateRequest('gw', null);
  fastify.addHook('onRequest', (request, reply, done) => {
    if (rt.draining) {
      // Clients reconnect, and after keepalived moved the service address they land on its new holder.
      if (request.raw.httpVersionMajor === 1) reply.header('connection', 'close');
      // h2 has no Connection header: GOAWAY (this stream still finishes).
      else (request.raw as unknown as { stream?: { session?: { closed: boolean; close(): void } } }).stream?.session?.close();
    }
    done();
  });
  fastify.addHook('onResponse', accessLog(rt, rt.state.config.accessLog, opts.logDestination));
  // Leftovers (client errors from fastify itself, bugs): 4xx stay 4xx, nothing becomes a 500.
  fastify.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 502;
    if (status === 502) request.log.error({ err }, 'gateway error');
    void reply.code(status).send({ statusCode: status, code: err.code ?? 'GW_ERR_UPSTREAM_RESET', message: status === 502 ? 'bad gateway' : err.message });
  });
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    await forwarder.handle(request, reply);
    return reply;
  };
  fastify.all('/', handler);
  fastify.all('/*', handler);

  const wsApp = await createWebSocketProxy(fastify.server, rt, fastify.log);
  fastify.addHook('onClose', async () => {
    await wsApp.close();
  });
  if (opts.startHealthChecks !== false) rt.start();
};
