import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { adminToken, createAdminServer, runtimeAdminSource } from './admin/AdminServer.js';
import { readRegularFile, toConfig, type GatewayConfigSource } from './config/load.js';
import { GatewayError, GatewayErrorCodes } from './errors.js';
import { GatewayRuntime } from './Gateway.js';
import { Listener } from './listener/Listener.js';
import { raiseFileLimit } from './limits.js';
import { createLogDestination } from './logDestination.js';
import { directHandler, EXTRA_HTTP_METHODS, webtierGateway } from './plugin.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The gateway runtime (routes, clusters, metrics, reload) of an instance made by createGateway. */
    gateway: GatewayRuntime;
  }
}

/** Options of createGateway/startGateway. */
export interface CreateGatewayOptions {
  /** A pino logger to use instead of a new one at the config's logLevel (the CLI passes its own). */
  loggerInstance?: FastifyBaseLogger;
  /** Run the active health checks in this process; false when another process runs them and feeds results through `runtime.applyHealth` (the CLI's workers). @default true */
  startHealthChecks?: boolean;
}

export type { GatewayConfigSource } from './config/load.js';

/**
 * Builds the public fastify instance of a gateway (not listening yet; `app.gateway` is the
 * runtime). Takes a config object or a YAML/JSON file path (GW_ERR_CONFIG_READ); validates the
 * config (GW_ERR_BAD_CONFIG) unless it is already a parsed, frozen one.
 */
export async function createGateway(config: GatewayConfigSource, options: CreateGatewayOptions = {}): Promise<FastifyInstance> {
  const cfg = toConfig(config);
  const runtime = new GatewayRuntime(cfg);
  const logStream = options.loggerInstance ? undefined : createLogDestination();
  const app = Fastify({
    ...(logStream ? { logger: { level: cfg.logLevel, stream: logStream.stream } } : { loggerInstance: options.loggerInstance! }),
    logController: new LogController({ disableRequestLogging: true }),
    // The Forwarder routes; fastify's router only sees the catch-all, so long paths are fine.
    routerOptions: { maxParamLength: 65_536 },
    return503OnClosing: true,
    requestIdHeader: false,
    // No per-request child logger (it cost ~2 µs a request): the access line and the forwarder's
    // warnings carry the gateway's requestId themselves.
    ...(logStream ? { childLoggerFactory: (logger: FastifyBaseLogger) => logger } : {}),
  });
  for (const m of EXTRA_HTTP_METHODS) if (!app.supportedMethods.includes(m)) app.addHttpMethod(m, { hasBody: true });
  app.decorate('gateway', runtime);
  const startHealthChecks = options.startHealthChecks ?? true;
  await app.register(webtierGateway, logStream ? { runtime, logDestination: logStream.stream, startHealthChecks } : { runtime, startHealthChecks });
  app.addHook('onClose', async () => {
    await runtime.close(true);
    logStream?.close();
  });
  await app.ready();
  return app;
}

/** A running gateway: public listeners, admin listener, reload and graceful close. */
export interface RunningGateway {
  app: FastifyInstance;
  /** The admin fastify instance, or undefined when the config has no `admin`. */
  admin: FastifyInstance | undefined;
  runtime: GatewayRuntime;
  /** `http(s)://host:port` of every listener, in config order (port 0 resolved). */
  urls: string[];
  adminUrl: string | undefined;
  /**
   * Applies a new config without dropping connections (listener and admin addresses stay) and
   * re-reads every TLS listener's certificate and key files (new handshakes get them, open
   * connections keep theirs). Throws GW_ERR_BAD_CONFIG or GW_ERR_TLS and keeps the old config and certificates.
   */
  reload(config: GatewayConfigSource): { added: string[]; removed: string[] };
  /**
   * Marks the gateway draining (/readyz 503, responses carry `Connection: close`), keeps accepting
   * for drainDelayMs, then stops accepting, lets in-flight requests finish for up to drainTimeoutMs
   * and closes everything. Resolves true when nothing had to be cut.
   */
  close(drainTimeoutMs?: number, drainDelayMs?: number): Promise<boolean>;
}

function urlOf(host: string, server: Server): string {
  const { port } = server.address() as AddressInfo;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** createGateway, then listen on every listener and on the admin listener. */
export async function startGateway(config: GatewayConfigSource, options: CreateGatewayOptions = {}): Promise<RunningGateway> {
  const cfg = toConfig(config);
  // Certificates and the admin token are read before anything listens: a bad file is a clear start error.
  const token = cfg.admin ? adminToken(cfg.admin.tokenFile) : undefined;
  const app = await createGateway(cfg, options);
  const runtime = app.gateway;
  // Each held long poll takes two descriptors: raise the soft limit first (once per process) and say what it allows.
  const files = raiseFileLimit();
  if (files.connections < 10_000) app.log.warn({ nofile: files.soft, connections: files.connections }, files.message);
  else app.log.info({ nofile: files.soft, connections: files.connections }, files.message);
  const listeners: Listener[] = [];
  let admin: FastifyInstance | undefined;
  try {
    // Every listener feeds the same fastify instance (its own server never listens), like fastify's
    // secondary servers; plain proxied HTTP/1.x requests go to the forwarder directly (directHandler).
    const routing = (req: IncomingMessage, res: ServerResponse) => app.routing(req, res);
    const handle = directHandler(runtime, routing, app.supportedMethods) ?? routing;
    for (const l of cfg.listeners) {
      const listener = new Listener(l, handle);
      listener.server.on('upgrade', (...args: unknown[]) => app.server.emit('upgrade', ...args));
      await listener.listen();
      listeners.push(listener);
    }
    if (cfg.admin) {
      admin = createAdminServer(runtimeAdminSource(runtime), app.log, { token, allowedHosts: cfg.admin.allowedHosts ?? [] });
      await admin.listen({ host: cfg.admin.host, port: cfg.admin.port });
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await admin?.close();
    await app.close();
    throw err;
  }
  const urls = listeners.map((l) => l.url);
  const adminUrl = admin && cfg.admin ? urlOf(cfg.admin.host, admin.server) : undefined;
  let closing: Promise<boolean> | undefined;
  return {
    app,
    admin,
    runtime,
    urls,
    adminUrl,
    reload(next) {
      const parsed = toConfig(next);
      // Certificates first: a bad pair throws before anything changes. Listeners keep their
      // addresses, so the files are those of the listener at the same index.
      const swaps = listeners.map((l, i) => {
        const lc = parsed.listeners[i];
        return lc?.tls && l.config.tls ? { l, certs: l.prepareCertificates(lc) } : undefined;
      });
      const result = runtime.reload(parsed);
      for (const s of swaps) if (s) s.l.applyCertificates(s.certs);
      app.log.info({ ...result, routes: parsed.routes.length, clusters: Object.keys(parsed.clusters), certificates: swaps.filter(Boolean).length }, 'config reloaded');
      return result;
    },
    close(drainTimeoutMs = runtime.state.config.drainTimeoutMs, drainDelayMs = runtime.state.config.drainDelayMs) {
      closing ??= (async () => {
        runtime.draining = true;
        // Refusing connections at once would fail every client until keepalived moves the service
        // address (issue 14: 938 failed requests on `stop`); serve them, with Connection: close, meanwhile.
        if (drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
        // Held long polls are answered when accepting stops, so the device's re-Ping lands on the new holder.
        for (const answer of [...runtime.heldLongPolls]) answer();
        let cut = false;
        // Keep-alive connections whose request finished are closed as soon as they are idle.
        const idle = setInterval(() => listeners.forEach((l) => l.closeIdleConnections()), 100);
        const force = setTimeout(() => {
          cut = true;
          app.log.warn({ drainTimeoutMs }, 'drain timeout: closing the remaining connections');
          listeners.forEach((l) => l.closeAllConnections());
        }, drainTimeoutMs);
        const closed = listeners.map((l) => l.close());
        try {
          await Promise.all(closed);
          await app.close();
        } finally {
          clearInterval(idle);
          clearTimeout(force);
          await admin?.close();
        }
        return !cut;
      })();
      return closing;
    },
  };
}
