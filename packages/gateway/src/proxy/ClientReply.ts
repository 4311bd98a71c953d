import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { GatewayErrorCode } from '../errors.js';
import type { GatewayLogger } from './state.js';

/** What the access log and metrics record about one request. */
export interface RequestInfo {
  route: string;
  cluster: string;
  endpoint: string;
  retries: number;
  requestId: string;
  error?: GatewayErrorCode;
}

/** The client's request as the forwarder uses it: fastify's FastifyRequest has this shape, and so does RawReply's. */
export interface ClientRequest {
  readonly raw: IncomingMessage;
  readonly headers: IncomingHttpHeaders;
  /** The gateway's record of a proxied request (null until the forwarder takes it). */
  gw: RequestInfo | null;
  readonly log: RequestLogger;
}

/** The logger of a request: fastify's (pino), whose level the access log reads. */
export type RequestLogger = GatewayLogger & { readonly level: string };

/**
 * The client's response as the forwarder uses it: the part of fastify's FastifyReply it needs, so
 * that the same forwarder serves requests routed by fastify (the plugin, `inject`) and requests a
 * listener hands over directly (RawReply: no router, no hooks, no Request/Reply objects).
 */
export interface ClientReply {
  readonly raw: ServerResponse;
  readonly request: ClientRequest;
  readonly log: RequestLogger;
  /** Whether the answer went out (or was taken over). */
  readonly sent: boolean;
  readonly statusCode: number;
  /** Headers set on the answer so far (by hooks, the listener, the forwarder). */
  getHeaders(): Record<string, number | string | string[] | undefined>;
  header(name: string, value: string): unknown;
  code(status: number): unknown;
  /** Sends a complete answer with this body (status and headers as set). */
  send(body: string): unknown;
  /** The forwarder writes the proxied answer to `raw` itself from here on. */
  hijack(): unknown;
}

/** What runs once the answer of a RawReply is finished or failed (the access log and metrics). */
export type ReplyDone = (reply: RawReply, elapsedMs: number) => void;

/**
 * A ClientReply straight on Node's request and response, for HTTP/1.x requests a listener hands to
 * the forwarder without fastify: fastify's per-request Request/Reply objects, router lookup and hook
 * runners cost about a tenth of the gateway's CPU per proxied request against a bare Node proxy
 * (issue 15). Headers go straight to the ServerResponse; `done` runs on 'finish' or 'error', as
 * fastify's onResponse hooks do.
 */
export class RawReply implements ClientReply {
  readonly request: ClientRequest;
  private readonly startedAt = performance.now();
  private finished = false;
  private readonly onEnd = () => {
    if (this.finished) return;
    this.finished = true;
    this.done(this, performance.now() - this.startedAt);
  };

  constructor(
    req: IncomingMessage,
    readonly raw: ServerResponse,
    readonly log: RequestLogger,
    private readonly done: ReplyDone,
  ) {
    this.request = { raw: req, headers: req.headers, gw: null, log };
    // `on`, not `once`: onEnd runs its body once anyway, and once() costs a wrapper per event and request.
    raw.on('finish', this.onEnd);
    raw.on('error', this.onEnd);
  }

  get sent(): boolean {
    return this.raw.headersSent;
  }

  get statusCode(): number {
    return this.raw.statusCode;
  }

  getHeaders(): Record<string, number | string | string[] | undefined> {
    return this.raw.getHeaders();
  }

  header(name: string, value: string): void {
    this.raw.setHeader(name, value);
  }

  code(status: number): void {
    this.raw.statusCode = status;
  }

  send(body: string): void {
    const res = this.raw;
    if (!res.hasHeader('content-length')) res.setHeader('content-length', Buffer.byteLength(body));
    res.end(body);
  }

  hijack(): void {}
}
