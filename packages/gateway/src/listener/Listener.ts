import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { DEFAULT_LISTENER, type ListenerConfig } from '../config/schema.js';
import { GatewayError, GatewayErrorCodes, statusOf, type GatewayErrorCode } from '../errors.js';
import { htmlPage, prefersHtml } from '../proxy/errorResponse.js';
import { loadListenerCertificates, sniContext, type ListenerCertificates } from '../tls/certificates.js';
import { applyPathRules } from './pathRules.js';

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;
/** What a listener hands an accepted request to (fastify's `routing`). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Answers an edge error before routing: JSON, or the small HTML page for browsers; the connection closes. */
function reject(req: Req, res: Res, code: GatewayErrorCode, message: string): void {
  const status = statusOf(code);
  const html = prefersHtml(req.headers.accept);
  const body = html ? htmlPage(status, '-') : JSON.stringify({ statusCode: status, code, message });
  const headers: Record<string, string> = { 'content-type': html ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) };
  if (req.httpVersionMajor === 1) headers['connection'] = 'close';
  (res as ServerResponse).writeHead(status, headers).end(body);
}

/**
 * One public listener: a plain HTTP, HTTPS or HTTPS+h2 (ALPN, HTTP/1.1 fallback) server in front
 * of the gateway's routing. Before a request reaches routing it enforces the edge rules: 308 to
 * https on a redirect listener, one Host header, at most `maxHeaderCount` header fields (431, never
 * silently dropped), the path rules; and it sets HSTS. Connection-level limits are Node's own:
 * headersTimeout (clientHeaderTimeoutMs), maxConnections, keepAliveTimeout.
 */
/** A listener's config with every default applied. */
export type ResolvedListener = ListenerConfig & typeof DEFAULT_LISTENER;

export class Listener {
  readonly config: ResolvedListener;
  readonly server: Server | Http2SecureServer;
  private certs: ListenerCertificates | undefined;
  private readonly hsts: string | undefined;

  constructor(
    written: ListenerConfig,
    private readonly handle: RequestHandler,
  ) {
    const config = { ...DEFAULT_LISTENER } as ResolvedListener;
    for (const [k, v] of Object.entries(written)) if (v !== undefined) (config as Record<string, unknown>)[k] = v;
    this.config = config;
    const onRequest = (req: Req, res: Res) => this.onRequest(req, res);
    // Node enforces headersTimeout on a sweep of this period (30 s by default): short header timeouts need a finer one.
    const httpOptions = { connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(config.clientHeaderTimeoutMs / 4))) };
    if (config.tls) {
      this.certs = loadListenerCertificates(config.tls);
      const tlsOptions = {
        cert: this.certs.cert,
        key: this.certs.key,
        minVersion: this.certs.minVersion,
        SNICallback: (servername: string, cb: (err: Error | null, ctx?: import('node:tls').SecureContext) => void) => cb(null, this.certs && sniContext(this.certs, servername)),
      };
      this.server = config.http2
        ? createSecureServer({ ...tlsOptions, allowHTTP1: true, maxHeaderListPairs: config.maxHeaderCount + 1, settings: { maxHeaderListSize: 65_536 } }, onRequest as never)
        : (createHttpsServer({ ...httpOptions, ...tlsOptions }, onRequest as never) as unknown as Server);
    } else {
      this.server = createHttpServer(httpOptions, onRequest as never);
    }
    const s = this.server as Server;
    // Node counts a header past maxHeadersCount by dropping it: one more than the limit lets us see it and answer 431.
    s.maxHeadersCount = config.maxHeaderCount + 1;
    s.headersTimeout = config.clientHeaderTimeoutMs;
    // The whole-request timer would cut long uploads; the body's idle timer (clientBodyTimeoutMs) is per route.
    s.requestTimeout = 0;
    s.keepAliveTimeout = config.keepAliveTimeoutMs;
    if (config.maxConnections > 0) s.maxConnections = config.maxConnections;
    if (config.http2) {
      const h2 = this.server as Http2SecureServer;
      // h2 sessions have no idle timeout of their own here: a 3540 s Ping on a stream is the upstream's wait.
      h2.setTimeout(0);
      // Http2SecureServer has no closeIdleConnections/closeAllConnections: track sessions and sockets for drain.
      h2.on('session', (session: ServerHttp2Session) => {
        this.sessions.add(session);
        session.once('close', () => this.sessions.delete(session));
      });
      h2.on('secureConnection', (socket: TLSSocket) => {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
      });
    }
    if (config.hsts) this.hsts = `max-age=${config.hsts.maxAgeSeconds}${config.hsts.includeSubDomains ? '; includeSubDomains' : ''}`;
  }

  private onRequest(req: Req, res: Res): void {
    const config = this.config;
    const raw = req.rawHeaders;
    if (raw.length > config.maxHeaderCount * 2) return reject(req, res, GatewayErrorCodes.TOO_MANY_HEADERS, `more than ${config.maxHeaderCount} header fields`);
    if (req.httpVersionMajor === 1) {
      let hosts = 0;
      for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++;
      if (hosts > 1) return reject(req, res, GatewayErrorCodes.BAD_REQUEST, 'more than one Host header');
    } else if (req.headers.host === undefined && req.headers[':authority'] !== undefined) {
      // h2 carries the host in :authority; upstreams (HTTP/1.1) and routing want Host.
      req.headers.host = req.headers[':authority'] as string;
    }
    if (config.redirectToHttps) return this.redirect(req, res);
    const verdict = applyPathRules(req.url ?? '/', config.pathNormalization);
    if (!verdict.ok) return reject(req, res, GatewayErrorCodes.BAD_PATH, verdict.reason);
    if (verdict.url !== req.url) req.url = verdict.url;
    if (this.hsts) res.setHeader('strict-transport-security', this.hsts);
    this.handle(req as IncomingMessage, res as ServerResponse);
  }

  private redirect(req: Req, res: Res): void {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    // A Host with anything but name characters could write a Location elsewhere: refuse it.
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/.test(host)) return reject(req, res, GatewayErrorCodes.BAD_REQUEST, 'a Host header is required for the https redirect');
    const port = this.config.redirectPort === 443 ? '' : `:${this.config.redirectPort}`;
    (res as ServerResponse).writeHead(308, { location: `https://${host}${port}${req.url ?? '/'}`, 'content-length': '0', connection: 'close' }).end();
  }

  /**
   * Re-reads the certificate and key files and swaps them in for new handshakes; open connections
   * keep theirs. Throws GW_ERR_TLS (bad pair, unreadable, expired) and keeps the old certificates.
   */
  reloadCertificates(config: ListenerConfig = this.config): void {
    this.applyCertificates(this.prepareCertificates(config));
  }

  /** Reads and checks the files of `config.tls` without applying them (GW_ERR_TLS). */
  prepareCertificates(config: ListenerConfig): ListenerCertificates {
    if (!config.tls) throw new GatewayError(GatewayErrorCodes.TLS, `listener ${this.config.host}:${this.config.port} has no tls block`);
    return loadListenerCertificates(config.tls);
  }

  /** Swaps prepared certificates in for new handshakes (setSecureContext); open connections keep theirs. */
  applyCertificates(next: ListenerCertificates): void {
    (this.server as import('node:tls').Server).setSecureContext({ cert: next.cert, key: next.key, minVersion: next.minVersion });
    this.certs = next;
  }

  listen(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.port, this.config.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    const host = this.config.host;
    return `${this.config.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly sockets = new Set<TLSSocket>();

  /** Drain: idle keep-alive connections close; h2 sessions get GOAWAY (their open streams finish). */
  closeIdleConnections(): void {
    if (!this.config.http2) return (this.server as Server).closeIdleConnections();
    for (const s of this.sessions) if (!s.closed) s.close();
  }

  /** Drain timeout: every connection closes now. */
  closeAllConnections(): void {
    if (!this.config.http2) return (this.server as Server).closeAllConnections();
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

