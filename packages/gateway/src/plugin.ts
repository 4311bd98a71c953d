import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AccessLog, type LogDestination } from './AccessLog.js';
import { toConfig, type GatewayConfigSource } from './config/load.js';
import { GatewayRuntime } from './Gateway.js';
import { RawReply, type ClientReply, type ClientRequest } from './proxy/ClientReply.js';
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

/** Metrics and the access line of one finished request (fastify's onResponse hook, RawReply's done). */
function accessRecorder(runtime: GatewayRuntime, enabled: boolean, destination: LogDestination | undefined) {
  const lines = new AccessLog(destination);
  return (request: ClientRequest, status: number, ms: number) => {
    const info = request.gw;
    if (!info) return;
    runtime.metrics.request(info.route, info.cluster, status, ms / 1000);
    if (enabled) {
      lines.write(request.log, {
        route: info.route,
        cluster: info.cluster,
        endpoint: info.endpoint,
        method: request.raw.method,
        url: request.raw.url,
        status,
        durationMs: Math.round(ms * 10) / 10,
        retries: info.retries,
        requestId: info.requestId,
        error: info.error,
      });
    }
  };
}

/** What a listener hands a request to. */
export type RawHandler = (req: IncomingMessage, res: ServerResponse) => void;

// The direct handler of each runtime's plugin, for startGateway's listeners (not public API).
const rawHandlers = new WeakMap<GatewayRuntime, RawHandler>();

/**
 * The listeners' way in past fastify (issue 15: fastify's routing, Request/Reply objects and hooks
 * were about a tenth of the CPU of a proxied request): HTTP/1.x requests with a method fastify routes
 * and a path without percent-escapes go straight to the forwarder on a RawReply, with the same
 * draining rule, access log, metrics and error answers as the plugin's fastify route; anything else
 * (h2, other methods, escapes that fastify's router decodes or refuses with 400) takes `fallback`
 * (fastify's routing). Undefined when `runtime` has no plugin registered.
 */
export function directHandler(runtime: GatewayRuntime, fallback: RawHandler, methods: readonly string[]): RawHandler | undefined {
  const direct = rawHandlers.get(runtime);
  if (!direct) return undefined;
  const routed = new Set(methods);
  return (req, res) => {
    const url = req.url!;
    if (req.httpVersionMajor !== 1 || !routed.has(req.method!) || url.charCodeAt(0) !== 47 /* / */) return fallback(req, res);
    const pct = url.indexOf('%');
    if (pct >= 0) {
      const q = url.indexOf('?');
      if (q < 0 || pct < q) return fallback(req, res);
    }
    direct(req, res);
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
  const record = accessRecorder(rt, rt.state.config.accessLog, opts.logDestination);
  fastify.addHook('onResponse', (request, reply, done) => {
    record(request, reply.statusCode, reply.elapsedTime);
    done();
  });
  // Leftovers (client errors from fastify itself, bugs): 4xx stay 4xx, nothing becomes a 500.
  fastify.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 502;
    if (status === 502) request.log.error({ err }, 'gateway error');
    void reply.code(status).send({ statusCode: status, code: err.code ?? 'GW_ERR_UPSTREAM_RESET', message: status === 502 ? 'bad gateway' : err.message });
  });
  // Settles when the answer is committed or sent (fastify then waits on the reply itself), or
  // rejects with an error that escaped the forwarder (the error handler above answers it).
  const handler = (_request: FastifyRequest, reply: FastifyReply) =>
    new Promise<FastifyReply>((resolve, reject) => forwarder.handle(reply, (_reply, err) => (err === undefined ? resolve(reply) : reject(err))));
  fastify.all('/', handler);
  fastify.all('/*', handler);
  const log = fastify.log;
  const done = (reply: RawReply, ms: number) => record(reply.request, reply.statusCode, ms);
  // The plugin's error handler, for requests that skip fastify: nothing becomes a 500. One function
  // for all requests (no closure per request); it only acts on an error that escaped the forwarder.
  const settledDirect = (reply: ClientReply, err?: unknown) => {
    if (err === undefined) return;
    log.error({ err }, 'gateway error');
    const res = reply.raw;
    if (res.headersSent) return void res.destroy();
    res.writeHead(502, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ statusCode: 502, code: 'GW_ERR_UPSTREAM_RESET', message: 'bad gateway' }));
  };
  rawHandlers.set(rt, (req, res) => {
    const reply = new RawReply(req, res, log, done);
    // The plugin's onRequest hook, for requests that skip fastify.
    if (rt.draining) reply.header('connection', 'close');
    forwarder.handle(reply, settledDirect);
  });

  const wsApp = await createWebSocketProxy(fastify.server, rt, fastify.log);
  fastify.addHook('onClose', async () => {
    await wsApp.close();
  });
  if (opts.startHealthChecks !== false) rt.start();
};
