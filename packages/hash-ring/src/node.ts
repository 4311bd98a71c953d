import { DEFAULT_PORT } from './ketama.js';
import { RingError, RingErrorCodes } from './errors.js';

/**
 * A server on the ring: `"host:port"` (port defaults to 11211; IPv6 as `"[::1]:11211"`) or
 * `{ host, port, weight }` (IPv6 host without brackets, as php-memcached's `addServer` takes it).
 */
export type NodeInput = string | { host: string; port?: number; weight?: number };

/** A parsed server: the host exactly as configured (libmemcached hashes it unresolved). */
export interface ParsedNode {
  host: string;
  port: number;
  weight: number;
}

/** libmemcached keeps weights in a uint32_t. */
const MAX_WEIGHT = 0xffffffff;

/** Parses one node; `where` (e.g. `nodes[2]`) starts every error message. */
export function parseNode(input: unknown, where: string): ParsedNode {
  if (typeof input === 'string') return parseNodeString(input, where);
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new RingError(
      RingErrorCodes.BAD_NODE,
      `${where}: expected "host:port" or { host, port, weight }, got ${describe(input)}`,
    );
  }
  const { host, port, weight } = input as { host?: unknown; port?: unknown; weight?: unknown };
  if (typeof host !== 'string') {
    throw new RingError(RingErrorCodes.BAD_NODE, `${where}: host must be a string, got ${describe(host)}`);
  }
  if (host.startsWith('[')) {
    throw new RingError(
      RingErrorCodes.BAD_NODE,
      `${where}: host ${JSON.stringify(host)}: write an IPv6 host without brackets in { host } (e.g. "::1"); brackets are for the "[::1]:11211" string form`,
    );
  }
  checkHost(host, where);
  let p = DEFAULT_PORT;
  if (port !== undefined) {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RingError(RingErrorCodes.BAD_PORT, `${where}: port ${describe(port)} is not an integer from 1 to 65535`);
    }
    p = port;
  }
  let w = 1;
  if (weight !== undefined) {
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > MAX_WEIGHT) {
      throw new RingError(
        RingErrorCodes.BAD_WEIGHT,
        `${where}: weight ${describe(weight)} must be an integer from 1 to ${MAX_WEIGHT} (libmemcached weights are unsigned integers)`,
      );
    }
    w = weight;
  }
  return { host, port: p, weight: w };
}

function parseNodeString(input: string, where: string): ParsedNode {
  const { host, port } = parseHostPort(input, where);
  return { host, port, weight: 1 };
}

/** Options of {@link parseHostPort}. */
export interface ParseHostPortOptions {
  /** Port when the text has none. @default 11211 */
  defaultPort?: number;
  /** Repeat the whole input in port errors (`port "x" in "a:x"`); off for callers that name the input in `where`. @default true */
  quoteInput?: boolean;
}

/**
 * The one `"host:port"` parser of webtier (the ring, the session store and the CLIs use it):
 * `"host"`, `"host:port"`, `"[v6]"` or `"[v6]:port"`. A bare IPv6 address such as `"::1"` is refused,
 * never guessed (`"fe80::1:11211"` could be a host with a port or an address without one); the
 * message shows the bracketed form. Throws {@link RingError} (`RING_ERR_BAD_NODE` / `RING_ERR_BAD_PORT`)
 * whose message starts with `where`.
 */
export function parseHostPort(input: string, where: string, options: ParseHostPortOptions = {}): { host: string; port: number } {
  const quote = options.quoteInput ?? true;
  const text = input.trim();
  let host: string;
  let port = options.defaultPort ?? DEFAULT_PORT;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) {
      throw new RingError(RingErrorCodes.BAD_NODE, `${where}: "${input}" has an unclosed "[" (write IPv6 hosts as "[::1]:11211")`);
    }
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) {
        throw new RingError(RingErrorCodes.BAD_NODE, `${where}: "${input}" is not "[host]:port" (unexpected ${JSON.stringify(rest)} after "]")`);
      }
      port = parsePort(rest.slice(1), input, where, quote);
    }
  } else {
    const colon = text.indexOf(':');
    if (colon >= 0 && text.indexOf(':', colon + 1) >= 0) {
      throw new RingError(
        RingErrorCodes.BAD_NODE,
        `${where}: "${input}" has more than one ":"; write an IPv6 host in brackets, e.g. "[${text}]:${port}" (or "[host]:port" when the last part is a port)`,
      );
    }
    if (colon >= 0) {
      host = text.slice(0, colon);
      port = parsePort(text.slice(colon + 1), input, where, quote);
    } else {
      host = text;
    }
  }
  checkHost(host, where, input);
  return { host, port };
}

function checkHost(host: string, where: string, input?: string): void {
  if (host === '' || /\s/.test(host)) {
    const of = input === undefined ? '' : ` in "${input}"`;
    throw new RingError(RingErrorCodes.BAD_NODE, `${where}: host ${JSON.stringify(host)}${of} is empty or contains whitespace`);
  }
}

function parsePort(text: string, input: string, where: string, quote: boolean): number {
  const of = quote ? ` in "${input}"` : '';
  if (!/^\d+$/.test(text)) {
    throw new RingError(RingErrorCodes.BAD_PORT, `${where}: port "${text}"${of} is not a number`);
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw new RingError(RingErrorCodes.BAD_PORT, `${where}: port ${port}${of} is out of range 1-65535`);
  }
  return port;
}

/** The `"host:port"` identity of a node; IPv6 hosts in brackets, so the id parses back. */
export function formatNodeId(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A short printable form of any bad value for error messages. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  try {
    const json = JSON.stringify(value);
    return json.length > 60 ? `${json.slice(0, 57)}...` : json;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
