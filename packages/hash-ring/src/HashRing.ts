import { DEFAULT_PORT, md5, pointName, pointsPerServer } from './ketama.js';
import { RingError, RingErrorCodes } from './errors.js';

/** A server on the ring: `"host:port"` (port defaults to 11211) or an object. */
export type NodeInput = string | { host: string; port?: number; weight?: number };

/** A server as the ring placed it. */
export interface RingNode {
  /** `"host:port"`, the identity `get` and `nodesFor` return. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** @default 1 */
  readonly weight: number;
  /** Number of continuum points this node owns. */
  readonly points: number;
}

export interface NodesForOptions {
  /** Nodes for which this returns true are passed over (e.g. down nodes); other keys do not move. */
  skip?: (node: string) => boolean;
}

function parseNode(input: NodeInput, where: string): { host: string; port: number; weight: number } {
  let host: string;
  let port: number = DEFAULT_PORT;
  let weight = 1;
  if (typeof input === 'string') {
    const text = input.trim();
    const colon = text.lastIndexOf(':');
    if (text.startsWith('[')) {
      const close = text.indexOf(']');
      if (close < 0) throw new RingError(RingErrorCodes.BAD_NODE, `${where}: "${input}" has an unclosed "[" (write IPv6 hosts as "[::1]:11211")`);
      host = text.slice(1, close);
      const rest = text.slice(close + 1);
      if (rest !== '') {
        if (!rest.startsWith(':')) throw new RingError(RingErrorCodes.BAD_NODE, `${where}: "${input}" is not "[host]:port"`);
        port = parsePort(rest.slice(1), input, where);
      }
    } else if (colon >= 0) {
      host = text.slice(0, colon);
      port = parsePort(text.slice(colon + 1), input, where);
    } else {
      host = text;
    }
  } else if (input !== null && typeof input === 'object') {
    if (typeof input.host !== 'string') throw new RingError(RingErrorCodes.BAD_NODE, `${where}: host must be a string, got ${JSON.stringify(input.host)}`);
    host = input.host.trim();
    if (input.port !== undefined) {
      if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) {
        throw new RingError(RingErrorCodes.BAD_PORT, `${where}: port ${JSON.stringify(input.port)} is not an integer from 1 to 65535`);
      }
      port = input.port;
    }
    if (input.weight !== undefined) {
      if (typeof input.weight !== 'number' || !Number.isInteger(input.weight) || input.weight <= 0) {
        throw new RingError(RingErrorCodes.BAD_WEIGHT, `${where}: weight ${JSON.stringify(input.weight)} must be a positive integer (libmemcached weights are integers)`);
      }
      weight = input.weight;
    }
  } else {
    throw new RingError(RingErrorCodes.BAD_NODE, `${where}: expected "host:port" or { host, port, weight }, got ${JSON.stringify(input)}`);
  }
  if (host === '' || /\s/.test(host)) {
    throw new RingError(RingErrorCodes.BAD_NODE, `${where}: host ${JSON.stringify(host)} is empty or contains whitespace`);
  }
  return { host, port, weight };
}

function parsePort(text: string, input: string, where: string): number {
  if (!/^\d+$/.test(text)) throw new RingError(RingErrorCodes.BAD_PORT, `${where}: port "${text}" in "${input}" is not a number`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new RingError(RingErrorCodes.BAD_PORT, `${where}: port ${port} in "${input}" is out of range 1-65535`);
  return port;
}

/**
 * A consistent-hash ring bit-exact with libmemcached's weighted ketama
 * (MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, php-memcached's OPT_LIBKETAMA_COMPATIBLE), so that PHP and
 * Node clients agree on which memcached node owns a key.
 */
export class HashRing {
  /** The nodes in the order given. */
  readonly nodes: readonly RingNode[];
  // Sorted continuum point values and, at the same index, the node index owning that point.
  readonly #values: Uint32Array;
  readonly #owners: Uint32Array;
  readonly #ids: string[];

  constructor(nodes: readonly NodeInput[]) {
    if (!Array.isArray(nodes) || nodes.length === 0) {
      throw new RingError(RingErrorCodes.EMPTY, 'the ring needs at least one node, e.g. ["127.0.0.1:11211"]');
    }
    const parsed = nodes.map((n, i) => parseNode(n, `nodes[${i}]`));
    const seen = new Map<string, number>();
    parsed.forEach((n, i) => {
      const id = formatId(n.host, n.port);
      const first = seen.get(id);
      if (first !== undefined) {
        throw new RingError(RingErrorCodes.DUPLICATE_NODE, `nodes[${i}]: "${id}" is listed twice (also nodes[${first}]); list each server once and use weight to give it more keys`);
      }
      seen.set(id, i);
    });
    const totalWeight = parsed.reduce((sum, n) => sum + n.weight, 0);
    const counts = parsed.map((n) => pointsPerServer(n.weight, totalWeight, parsed.length));
    const total = counts.reduce((a, b) => a + b, 0);
    const points: Array<{ value: number; owner: number }> = [];
    parsed.forEach((n, owner) => {
      const digests = (counts[owner] ?? 0) / 4;
      for (let i = 0; i < digests; i++) {
        const d = md5(pointName(n.host, n.port, i));
        for (let a = 0; a < 4; a++) points.push({ value: d.readUInt32LE(a * 4), owner });
      }
    });
    // Equal values (an md5 collision on 32 bits) keep the lower server index first, deterministically.
    points.sort((x, y) => x.value - y.value || x.owner - y.owner);
    this.#values = new Uint32Array(total);
    this.#owners = new Uint32Array(total);
    points.forEach((p, i) => {
      this.#values[i] = p.value;
      this.#owners[i] = p.owner;
    });
    this.#ids = parsed.map((n) => formatId(n.host, n.port));
    this.nodes = Object.freeze(
      parsed.map((n, i) => Object.freeze({ id: this.#ids[i]!, host: n.host, port: n.port, weight: n.weight, points: counts[i]! })),
    );
  }

  /** Number of continuum points in all. */
  get size(): number {
    return this.#values.length;
  }

  /** The `"host:port"` of the node that owns `key`, where libmemcached would put it. */
  get(key: string): string {
    return this.#ids[this.#owners[this.#pointIndex(key)]!]!;
  }

  /**
   * Up to `n` distinct nodes for `key`, walking clockwise from the key's point: the key's
   * preference list. Nodes for which `skip(node)` is true are passed over.
   */
  nodesFor(key: string, n: number, options?: NodesForOptions): string[] {
    if (!Number.isInteger(n) || n < 1) {
      throw new RingError(RingErrorCodes.BAD_COUNT, `nodesFor: n must be an integer >= 1, got ${JSON.stringify(n)}`);
    }
    const skip = options?.skip;
    const want = Math.min(n, this.#ids.length);
    const out: string[] = [];
    const len = this.#values.length;
    const start = this.#pointIndex(key);
    let taken = 0; // bitset for small rings, Set beyond 32 nodes
    const takenSet = this.#ids.length > 32 ? new Set<number>() : undefined;
    for (let step = 0; step < len && out.length < want; step++) {
      const owner = this.#owners[(start + step) % len]!;
      if (takenSet ? takenSet.has(owner) : (taken & (1 << owner)) !== 0) continue;
      if (takenSet) takenSet.add(owner);
      else taken |= 1 << owner;
      const id = this.#ids[owner]!;
      if (skip?.(id)) continue;
      out.push(id);
    }
    return out;
  }

  #pointIndex(key: string): number {
    if (typeof key !== 'string') {
      throw new RingError(RingErrorCodes.BAD_KEY, `key must be a string, got ${typeof key}`);
    }
    const hash = md5(key).readUInt32LE(0);
    const values = this.#values;
    let left = 0;
    let right = values.length;
    while (left < right) {
      const middle = (left + right) >>> 1;
      if (values[middle]! < hash) left = middle + 1;
      else right = middle;
    }
    return right === values.length ? 0 : right;
  }
}

function formatId(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
