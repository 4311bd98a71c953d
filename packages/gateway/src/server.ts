import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { createAdminServer } from './admin/AdminServer.js';
import { loadConfig, parseConfig } from './config/load.js';
import type { GatewayConfig, GatewayConfigInput } from './config/schema.js';
import { GatewayRuntime } from './Gateway.js';
import { LogStream } from './LogStream.js';
import { EXTRA_HTTP_METHODS, webtierGateway } from './plugin.js';

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

/** A config object (validated here unless already parsed and frozen) or the path of a YAML/JSON file. */
export type GatewayConfigSource = GatewayConfig | GatewayConfigInput | string;

function toConfig(config: GatewayConfigSource): GatewayConfig {
  if (typeof config === 'string') return loadConfig(config);
  return Object.isFrozen(config) ? (config as GatewayConfig) : parseConfig(config);
}

/**
 * Builds the public fastify instance of a gateway (not listening yet; `app.gateway` is the
 * runtime). Takes a config object or a YAML/JSON file path (GW_ERR_CONFIG_READ); validates the
 * config (GW_ERR_BAD_CONFIG) unless it is already a parsed, frozen one.
 */
export async function createGateway(config: GatewayConfigSource, options: CreateGatewayOptions = {}): Promise<FastifyInstance> {
  const cfg = toConfig(config);
  const runtime = new GatewayRuntime(cfg);
  const logStream = options.loggerInstance ? undefined : new LogStream();
  const app = Fastify({
    ...(logStream ? { logger: { level: cfg.logLevel, stream: logStream } } : { loggerInstance: options.loggerInstance! }),
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
  await app.register(webtierGateway, logStream ? { runtime, logDestination: logStream, startHealthChecks } : { runtime, startHealthChecks });
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
  /** `http://host:port` of every listener, in config order (port 0 resolved). */
  urls: string[];
  adminUrl: string | undefined;
  /** Applies a new config without dropping connections (listeners/admin addresses stay). Throws GW_ERR_BAD_CONFIG and keeps the old one. */
  reload(config: GatewayConfigSource): { added: string[]; removed: string[] };
  /** Stops accepting, lets in-flight requests finish for up to drainTimeoutMs, then closes everything. Resolves true when nothing had to be cut. */
  close(drainTimeoutMs?: number): Promise<boolean>;
}

function urlOf(host: string, server: Server): string {
  const { port } = server.address() as AddressInfo;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** createGateway, then listen on every listener and on the admin listener. */
export async function startGateway(config: GatewayConfigSource, options: CreateGatewayOptions = {}): Promise<RunningGateway> {
  const cfg = toConfig(config);
  const app = await createGateway(cfg, options);
  const runtime = app.gateway;
  const extra: Server[] = [];
  let admin: FastifyInstance | undefined;
  try {
    const [first, ...rest] = cfg.listeners;
    await app.listen({ host: first!.host, port: first!.port });
    for (const l of rest) {
      // Further listeners feed the same fastify instance, like fastify's own secondary servers.
      const s = createServer((req, res) => app.routing(req, res));
      s.on('upgrade', (...args) => app.server.emit('upgrade', ...args));
      s.keepAliveTimeout = app.server.keepAliveTimeout;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(l.port, l.host, () => resolve());
      });
      extra.push(s);
    }
    if (cfg.admin) {
      admin = createAdminServer(runtime, app.log);
      await admin.listen({ host: cfg.admin.host, port: cfg.admin.port });
    }
  } catch (err) {
    for (const s of extra) s.close();
    await admin?.close();
    await app.close();
    throw err;
  }
  const urls = [urlOf(cfg.listeners[0]!.host, app.server), ...extra.map((s, i) => urlOf(cfg.listeners[i + 1]!.host, s))];
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
      const result = runtime.reload(parsed);
      app.log.info({ ...result, routes: parsed.routes.length, clusters: Object.keys(parsed.clusters) }, 'config reloaded');
      return result;
    },
    close(drainTimeoutMs = runtime.state.config.drainTimeoutMs) {
      closing ??= (async () => {
        runtime.draining = true;
        const servers = [app.server, ...extra];
        let cut = false;
        // Keep-alive connections whose request finished are closed as soon as they are idle.
        const idle = setInterval(() => servers.forEach((s) => s.closeIdleConnections()), 100);
        const force = setTimeout(() => {
          cut = true;
          app.log.warn({ drainTimeoutMs }, 'drain timeout: closing the remaining connections');
          servers.forEach((s) => s.closeAllConnections());
        }, drainTimeoutMs);
        const extraClosed = extra.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
        try {
          await app.close();
          await Promise.all(extraClosed);
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
