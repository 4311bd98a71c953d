import { MemcachedNode, type MemcachedNodeOptions } from './MemcachedNode.js';

export interface MemcachedClusterOptions extends Omit<MemcachedNodeOptions, 'port' | 'name'> {
  /** Name prefix; nodes are named `${prefix}-1` ... @default 'memcached' */
  namePrefix?: string;
}

/** N real memcached processes on free loopback ports. Always `await cluster.stop()`. */
export class MemcachedCluster {
  readonly nodes: MemcachedNode[];

  private constructor(nodes: MemcachedNode[]) {
    this.nodes = nodes;
  }

  /** Starts `count` nodes in parallel and resolves when every one answers. */
  static async start(count: number, options: MemcachedClusterOptions = {}): Promise<MemcachedCluster> {
    const prefix = options.namePrefix ?? 'memcached';
    const nodes = Array.from({ length: count }, (_, i) => new MemcachedNode({ ...options, name: `${prefix}-${i + 1}` }));
    const cluster = new MemcachedCluster(nodes);
    try {
      await Promise.all(nodes.map((n) => n.start()));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** `"host:port"` of every node, in order. */
  get servers(): string[] {
    return this.nodes.map((n) => n.address);
  }

  node(i: number): MemcachedNode {
    const n = this.nodes[i];
    if (!n) throw new RangeError(`no node ${i}; the cluster has ${this.nodes.length}`);
    return n;
  }

  /** The node listening on `"host:port"`. */
  byAddress(address: string): MemcachedNode {
    const n = this.nodes.find((x) => x.address === address);
    if (!n) throw new RangeError(`no node at ${address}; nodes are ${this.servers.join(', ')}`);
    return n;
  }

  /** Stops every node; never throws, never leaves a process behind. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.stop()));
  }

}
