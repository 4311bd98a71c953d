import { timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Endpoint } from '../cluster/Endpoint.js';
import { readRegularFile } from '../config/load.js';
import { GatewayError, GatewayErrorCodes } from '../errors.js';
import type { GatewayStatus } from './status.js';
import { statusPage } from './statusPage.js';

/**
 * What the admin listener serves: one process's runtime (`runtimeAdminSource`) or, in the CLI's
 * multi-worker mode, the primary's view of every worker. Both go through the same listener, so the
 * Host check and the bearer token guard every admin API the same way.
 */
export interface AdminSource {
  readonly draining: boolean;
  metrics(): Promise<{ contentType: string; text: string }>;
  status(): GatewayStatus | Promise<GatewayStatus>;
  setDrained(cluster: string, url: string, drained: boolean): Promise<{ url: string; drained: boolean; inFlight: number }>;
  /** Why the gateway is not ready (503 on /readyz), or undefined when it is. */
  notReady(): string | undefined;
}

/** What the admin listener needs of one gateway runtime (GatewayRuntime implements it). */
export interface AdminRuntime {
  readonly draining: boolean;
  readonly metrics: { readonly registry: { readonly contentType: string; metrics(): Promise<string> } };
  status(): GatewayStatus;
  setDrained(cluster: string, url: string, drained: boolean): Endpoint;
  /** Ready when not draining and every cluster a route uses has a healthy, non-drained endpoint; else why not. */
  readiness(): { ready: boolean; status: string };
}

/** The admin source of a gateway running in this process. */
export function runtimeAdminSource(runtime: AdminRuntime): AdminSource {
  return {
    get draining() {
      return runtime.draining;
    },
    async metrics() {
      return { contentType: runtime.metrics.registry.contentType, text: await runtime.metrics.registry.metrics() };
    },
    status: () => runtime.status(),
    async setDrained(cluster, url, drained) {
      const e = runtime.setDrained(cluster, url, drained);
      return { url: e.url, drained: e.drained, inFlight: e.inFlight };
    },
    notReady() {
      const r = runtime.readiness();
      return r.ready ? undefined : r.status;
    },
  };
}

/** Who may use the admin listener. */
export interface AdminAccess {
  /** Bearer token of state-changing endpoints; undefined = none needed (loopback-only listeners). */
  token: string | undefined;
  /** Host header values accepted besides the listener's own address. */
  allowedHosts: readonly string[];
}

/** The admin bearer token from `admin.tokenFile` (trimmed; shorter than 16 characters is refused). */
export function adminToken(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  const token = readRegularFile(file, 4096, 'admin token file').trim();
  if (token.length < 16) throw new GatewayError(GatewayErrorCodes.CONFIG_READ, `the admin token file ${file} holds ${token.length} characters; use at least 16 (e.g. openssl rand -hex 32 > ${file})`);
  return token;
}

function wantsHtml(request: FastifyRequest): boolean {
  const q = request.query as Record<string, string | undefined>;
  if (q['format'] === 'json') return false;
  if (q['format'] === 'html' || request.url.startsWith('/status.html')) return true;
  const accept = request.headers.accept ?? '';
  return accept.includes('text/html');
}

function hostOf(address: string | undefined, port: number | undefined): string {
  return address?.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The Host header is the listener's own address (as the client connected to it), localhost on loopback, or an allowed name. */
function hostAllowed(request: FastifyRequest, allowed: ReadonlySet<string>): boolean {
  const host = request.headers.host?.toLowerCase();
  if (!host) return false;
  const s = request.raw.socket;
  if (host === hostOf(s.localAddress, s.localPort)) return true;
  if (s.localAddress?.startsWith('::ffff:') && host === hostOf(s.localAddress.slice(7), s.localPort)) return true;
  const loopback = s.localAddress === '::1' || s.localAddress?.startsWith('127.') || s.localAddress?.startsWith('::ffff:127.');
  if (loopback && host === `localhost:${s.localPort}`) return true;
  return allowed.has(host) || allowed.has(host.replace(/:\d+$/, ''));
}

function tokenMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7).trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * The admin listener (a fastify instance of its own, never the public one): /metrics, /status
 * (JSON, or HTML for browsers and /status.html), POST /endpoints/drain and /endpoints/undrain
 * with { cluster, url }, /healthz (the process is up) and /readyz (503 while draining or while a
 * cluster that a route uses has no healthy, non-drained endpoint: GatewayRuntime.readiness). A Host that is not the listener's own address gets 421 (DNS
 * rebinding); with a token, every request that is not GET/HEAD needs `Authorization: Bearer`.
 */
export function createAdminServer(source: AdminSource, logger: FastifyBaseLogger, access: AdminAccess = { token: undefined, allowedHosts: [] }): FastifyInstance {
  const admin = Fastify({ loggerInstance: logger.child({ listener: 'admin' }), logController: new LogController({ disableRequestLogging: true }) });
  const allowed = new Set(access.allowedHosts.map((h) => h.toLowerCase()));
  admin.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _request, reply) => {
    const status = err.statusCode ?? 500;
    void reply.code(status).send({ statusCode: status, code: err.code, message: err.message });
  });
  admin.addHook('onRequest', async (request) => {
    if (!hostAllowed(request, allowed)) {
      throw new GatewayError(GatewayErrorCodes.ADMIN_MISDIRECTED, `Host "${request.headers.host ?? ''}" is not this admin listener; add it to admin.allowedHosts if it is a name of this listener`);
    }
    const m = request.method;
    if (access.token !== undefined && m !== 'GET' && m !== 'HEAD' && !tokenMatches(request.headers.authorization, access.token)) {
      throw new GatewayError(GatewayErrorCodes.ADMIN_UNAUTHORIZED, 'this admin endpoint changes state: send Authorization: Bearer <the token in admin.tokenFile>');
    }
  });
  admin.get('/metrics', async (_request, reply) => {
    const { contentType, text } = await source.metrics();
    return reply.header('content-type', contentType).send(text);
  });
  const status = async (request: FastifyRequest, reply: FastifyReply) => {
    const s = await source.status();
    reply.header('cache-control', 'no-store');
    if (wantsHtml(request)) return reply.type('text/html; charset=utf-8').send(statusPage(s));
    return reply.send(s);
  };
  admin.get('/status', status);
  admin.get('/status.html', status);
  admin.get('/status.json', async () => source.status());
  const drain = (drained: boolean) => async (request: FastifyRequest) => {
    const body = request.body as { cluster?: unknown; url?: unknown } | undefined;
    if (!body || typeof body.cluster !== 'string' || typeof body.url !== 'string') {
      throw new GatewayError(GatewayErrorCodes.BAD_ADMIN_REQUEST, 'expected a JSON body { "cluster": "<name>", "url": "http://host:port" }');
    }
    const e = await source.setDrained(body.cluster, body.url, drained);
    return { cluster: body.cluster, url: e.url, drained: e.drained, inFlight: e.inFlight };
  };
  admin.post('/endpoints/drain', drain(true));
  admin.post('/endpoints/undrain', drain(false));
  admin.get('/healthz', async () => ({ status: 'ok' }));
  admin.get('/readyz', async (_request, reply) => {
    const why = source.notReady();
    if (why !== undefined) return reply.code(503).send({ status: why });
    return { status: 'ready' };
  });
  return admin;
}
