import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BlockList, isIPv4 } from 'node:net';

/** RFC 9110 7.6.1 hop-by-hop headers, plus `expect` (the gateway answers 100-continue itself). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization', 'expect', 'http2-settings']);

/**
 * Client-IP and URL-override headers some upstreams believe: dropped from untrusted peers (a
 * client must not choose the address an upstream logs or rate-limits, nor the path it serves).
 */
export const CLIENT_IP_HEADERS: readonly string[] = ['x-real-ip', 'x-client-ip', 'true-client-ip', 'cf-connecting-ip', 'x-cluster-client-ip', 'fastly-client-ip', 'x-original-url', 'x-rewrite-url'];
/** Set by upstreamRequestHeaders itself (from a trusted peer's values or this hop's): never copied as they came. */
const SET_HERE = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port']);
/** Dropped from requests of untrusted peers: only the gateway (or a trusted proxy) sets them. */
const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded', ...CLIENT_IP_HEADERS]);

/** The trustedProxies list: which peers may send X-Forwarded-* and X-Request-Id. */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(cidrs: readonly string[]) {
    this.empty = cidrs.length === 0;
    for (const c of cidrs) {
      const [addr, bits] = c.split('/') as [string, string | undefined];
      const type = isIPv4(addr) ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(bits), type);
    }
  }

  has(address: string | undefined): boolean {
    if (this.empty || !address) return false;
    // An IPv4 peer on a dual-stack socket shows up as ::ffff:a.b.c.d.
    if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return this.list.check(address.slice(7), 'ipv4');
    return this.list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
  }
}

const NO_TOKENS: string[] = [];

function connectionTokens(value: string | string[] | undefined): string[] {
  if (!value) return NO_TOKENS;
  // The usual values name no header besides hop-by-hop ones: skip the split.
  if (value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close') return NO_TOKENS;
  return (Array.isArray(value) ? value.join(',') : value).split(',').map((t) => t.trim().toLowerCase()).filter(Boolean);
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}


/** Options of upstreamRequestHeaders. */
export interface ForwardingInfo {
  trusted: TrustedProxies;
  requestIdHeader: string;
  /** Extra headers (lower-case) dropped from untrusted peers, besides X-Forwarded-* and CLIENT_IP_HEADERS. */
  stripHeaders?: ReadonlySet<string>;
}

/**
 * Headers for the upstream request, appended to `out` as a flat [name, value, ...] list (the form
 * undici validates without Object.keys or an iterator check): hop-by-hop ones removed (also those
 * named in Connection), X-Forwarded-For appended (a trusted peer's list kept, an untrusted peer's
 * dropped), X-Forwarded-Proto/-Host/-Port kept from a trusted peer else set from this hop, and
 * X-Request-Id kept from a trusted peer else generated. Returns the request id.
 */
export function upstreamRequestHeaders(req: IncomingMessage, info: ForwardingInfo, out: string[]): string {
  const src = req.headers;
  const socket = req.socket;
  const peer = socket.remoteAddress;
  const trusted = info.trusted.has(peer);
  const drop = connectionTokens(src.connection);
  const idHeader = info.requestIdHeader;
  const strip = info.stripHeaders;
  for (const key in src) {
    const v = src[key];
    // h2 pseudo-headers (:method, :path, :authority, :scheme) are not HTTP/1.1 header fields.
    if (v === undefined || HOP_BY_HOP.has(key) || key === idHeader || key.charCodeAt(0) === 58 || SET_HERE.has(key)) continue;
    if (!trusted && (FORWARDING.has(key) || (strip !== undefined && strip.has(key)))) continue;
    if (drop.length > 0 && drop.includes(key)) continue;
    if (typeof v === 'string') out.push(key, v);
    else for (const x of v) out.push(key, x);
  }
  const clientIp = peer === undefined ? 'unknown' : peer.startsWith('::ffff:') ? peer.slice(7) : peer;
  const prior = trusted ? first(src['x-forwarded-for']) : undefined;
  const proto = (trusted && first(src['x-forwarded-proto'])) || ((socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  const host = (trusted && first(src['x-forwarded-host'])) || src.host;
  const port = (trusted && first(src['x-forwarded-port'])) || String(socket.localPort ?? '');
  const given = trusted ? first(src[idHeader]) : undefined;
  const requestId = given && given.length <= 200 ? given : randomUUID();
  out.push('x-forwarded-for', prior ? `${prior}, ${clientIp}` : clientIp, 'x-forwarded-proto', proto);
  if (host) out.push('x-forwarded-host', host);
  out.push('x-forwarded-port', port, idHeader, requestId);
  return requestId;
}

/** upstreamRequestHeaders as an object (repeated names as arrays), for the WebSocket upgrade's proxy. */
export function upstreamRequestHeaderRecord(req: IncomingMessage, info: ForwardingInfo): { headers: Record<string, string | string[]>; requestId: string } {
  const flat: string[] = [];
  const requestId = upstreamRequestHeaders(req, info, flat);
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!;
    const v = flat[i + 1]!;
    const prev = headers[k];
    headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return { headers, requestId };
}

/**
 * The upstream's response headers (undici's parsed object: lower-case names, repeated ones such
 * as Set-Cookie as arrays) appended to `out` as a flat [name, value, ...] list for writeHead,
 * without hop-by-hop headers and those the upstream's Connection names. Returns whether the
 * upstream sent an X-Request-Id.
 */
export function downstreamHeaders(headers: Record<string, string | string[] | undefined>, out: string[]): boolean {
  const drop = connectionTokens(headers['connection']);
  let requestId = false;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined || HOP_BY_HOP.has(name) || (drop.length > 0 && drop.includes(name))) continue;
    if (name === 'x-request-id') requestId = true;
    if (Array.isArray(v)) for (const x of v) out.push(name, x);
    else out.push(name, v);
  }
  return requestId;
}
