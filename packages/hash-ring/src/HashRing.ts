import { keyHash, md5, pointName, pointsPerServer } from './ketama.js';
import { RingError, RingErrorCodes } from './errors.js';
import { describe, formatNodeId, parseNode } from './node.js';
import type { NodeInput } from './node.js';

export type { NodeInput } from './node.js';

/** A server as the ring placed it. */
export interface RingNode {
  /** `"host:port"` (`"[v6]:port"` for IPv6), the identity `get` and `nodesFor` return. */
  readonly id: string;
  /** The host exactly as configured: libmemcached hashes it unresolved. */
  readonly host: string;
  readonly port: number;
  /** @default 1 */
  readonly weight: number;
  /** Number of continuum points this node owns. */
  readonly points: number;
}

/** Options of {@link HashRing.nodesFor}. */
export interface NodesForOptions {
  /**
   * Nodes for which this returns true (e.g. down nodes) are passed over and the walk goes on to
   * the next distinct node; keys whose preference list does not contain them do not move.
   * Called at most once per node and call.
   * @default undefined (no node is skipped)
   */
  skip?: (node: string) => boolean;
}

/**
 * A consistent-hash ring bit-exact with libmemcached's weighted ketama
 * (MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, php-memcached's OPT_LIBKETAMA_COMPATIBLE), so that PHP and
 * Node clients agree on which memcached node owns a key.
 */
export class HashRing {
  /** The nodes in the order given. */
  readonly nodes: readonly RingNode[];
  // Sorted continuum point values and, at the same index, the index of the node owning the point.
  readonly #values: Uint32Array;
  readonly #owners: Uint32Array;
  readonly #ids: readonly string[];
  // nodesFor marks visited nodes with the call's epoch instead of allocating a set per call.
  readonly #visited: Uint32Array;
  #epoch = 0;
  #walking = false;

  constructor(nodes: readonly NodeInput[]) {
    if (!Array.isArray(nodes)) {
      throw new RingError(
        RingErrorCodes.BAD_NODE,
        `nodes must be an array of "host:port" strings or { host, port, weight } objects, got ${describe(nodes)}` +
          (typeof nodes === 'string' ? ' (split a comma-separated list first)' : ''),
      );
    }
    if (nodes.length === 0) {
      throw new RingError(RingErrorCodes.EMPTY, 'the ring needs at least one node, e.g. ["127.0.0.1:11211"]; got an empty list');
    }
    const parsed = nodes.map((n, i) => parseNode(n, `nodes[${i}]`));
    const ids = parsed.map((n) => formatNodeId(n.host, n.port));
    const seen = new Map<string, number>();
    ids.forEach((id, i) => {
      const first = seen.get(id);
      if (first !== undefined) {
        throw new RingError(
          RingErrorCodes.DUPLICATE_NODE,
          `nodes[${i}]: "${id}" is listed twice (also nodes[${first}]); list each server once and use weight to give it more keys`,
        );
      }
      seen.set(id, i);
    });

    const totalWeight = parsed.reduce((sum, n) => sum + n.weight, 0);
    const counts = parsed.map((n) => pointsPerServer(n.weight, totalWeight, parsed.length));
    const total = counts.reduce((a, b) => a + b, 0);
    // Pack (value, owner) into one float64 for a fast numeric sort: value * 2^21 + owner is exact
    // below 2^53 for up to 2^21 nodes. Equal values (a 32-bit md5 collision) keep the lower node
    // index first, deterministically (libmemcached's qsort leaves that order unspecified).
    if (parsed.length > 1 << 21) throw new RingError(RingErrorCodes.BAD_NODE, `a ring holds at most ${1 << 21} nodes, got ${parsed.length}`);
    const packed = new Float64Array(total);
    let p = 0;
    parsed.forEach((n, owner) => {
      const digests = counts[owner]! / 4;
      for (let i = 0; i < digests; i++) {
        const d = md5(pointName(n.host, n.port, i));
        for (let a = 0; a < 4; a++) packed[p++] = d.readUInt32LE(a * 4) * 0x200000 + owner;
      }
    });
    packed.sort();
    this.#values = new Uint32Array(total);
    this.#owners = new Uint32Array(total);
    for (let i = 0; i < total; i++) {
      const owner = packed[i]! % 0x200000;
      this.#owners[i] = owner;
      this.#values[i] = (packed[i]! - owner) / 0x200000;
    }
    this.#ids = ids;
    this.#visited = new Uint32Array(parsed.length);
    this.nodes = Object.freeze(
      parsed.map((n, i) => Object.freeze({ id: ids[i]!, host: n.host, port: n.port, weight: n.weight, points: counts[i]! })),
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
   * preference list, primary first (`nodesFor(key, 1)[0] === get(key)` when nothing is skipped).
   * Nodes for which `options.skip(node)` is true are passed over. Returns fewer than `n` nodes
   * only when the ring has fewer nodes that are not skipped.
   */
  nodesFor(key: string, n: number, options?: NodesForOptions): string[] {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
      throw new RingError(RingErrorCodes.BAD_COUNT, `nodesFor: n must be an integer >= 1, got ${describe(n)}`);
    }
    const skip = options?.skip;
    if (skip !== undefined && typeof skip !== 'function') {
      throw new RingError(RingErrorCodes.BAD_OPTION, `nodesFor: options.skip must be a function, got ${describe(skip)}`);
    }
    const start = this.#pointIndex(key);
    const ids = this.#ids;
    const owners = this.#owners;
    if (n === 1 && skip === undefined) return [ids[owners[start]!]!];

    // A skip callback may call back into this ring: a nested walk gets its own marks.
    const nested = this.#walking;
    const visited = nested ? new Uint32Array(ids.length) : this.#visited;
    let epoch = 1;
    if (!nested) {
      if (this.#epoch === 0xffffffff) {
        this.#visited.fill(0);
        this.#epoch = 0;
      }
      epoch = ++this.#epoch;
    }
    const out: string[] = [];
    const len = owners.length;
    let unvisited = ids.length;
    this.#walking = true;
    try {
      // Stops after n nodes, or once every node was seen (the rest of the walk adds nothing).
      for (let i = start, steps = 0; steps < len && out.length < n && unvisited > 0; steps++) {
        const owner = owners[i]!;
        if (++i === len) i = 0;
        if (visited[owner] === epoch) continue;
        visited[owner] = epoch;
        unvisited--;
        const id = ids[owner]!;
        if (skip !== undefined && skip(id)) continue;
        out.push(id);
      }
    } finally {
      if (!nested) this.#walking = false;
    }
    return out;
  }

  #pointIndex(key: string): number {
    if (typeof key !== 'string') {
      throw new RingError(RingErrorCodes.BAD_KEY, `key must be a string, got ${describe(key)}`);
    }
    const hash = keyHash(key);
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
