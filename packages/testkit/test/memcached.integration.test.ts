import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemcachedCluster, MemcachedNode, memcachedCommand, findMemcached, processAlive, TestkitErrorCodes } from '@webtier/testkit';

/** Resolves 'answered', 'refused' or 'silent' for a `version` command within `ms`. */
function poke(port: number, ms = 300): Promise<'answered' | 'refused' | 'silent'> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const t = setTimeout(() => (s.destroy(), resolve('silent')), ms);
    s.once('error', () => (clearTimeout(t), resolve('refused')));
    s.once('connect', () => s.write('version\r\n'));
    s.once('data', () => (clearTimeout(t), s.destroy(), resolve('answered')));
  });
}

describe('MemcachedCluster (real memcached)', () => {
  let cluster: MemcachedCluster;
  beforeAll(async () => {
    cluster = await MemcachedCluster.start(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('starts N nodes on distinct free loopback ports that answer', async () => {
    expect(new Set(cluster.servers).size).toBe(3);
    for (const node of cluster.nodes) {
      expect(node.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(await poke(node.port)).toBe('answered');
    }
  });

  it('kill() SIGKILLs: the process is gone and the port refuses', async () => {
    const node = cluster.node(0);
    const pid = node.pid!;
    await node.kill();
    expect(processAlive(pid)).toBe(false);
    expect(node.state).toBe('killed');
    expect(await poke(node.port)).toBe('refused');
  });

  it('restart() brings the node back on the same port, empty', async () => {
    const node = cluster.node(1);
    const port = node.port;
    expect(await memcachedCommand('127.0.0.1', port, 'set k 0 0 1\r\nv')).toContain('STORED');
    const before = await node.stats();
    await node.restart();
    expect(node.port).toBe(port);
    const after = await node.stats();
    expect(after['pid']).not.toBe(before['pid']);
    expect(await memcachedCommand('127.0.0.1', port, 'get k')).toBe('END\r\n');
  });

  it('freeze() makes the node accept but not answer; thaw() brings its data back', async () => {
    const node = cluster.node(2);
    await memcachedCommand('127.0.0.1', node.port, 'set f 0 0 3\r\nold');
    node.freeze();
    expect(node.state).toBe('frozen');
    expect(await poke(node.port)).toBe('silent');
    node.thaw();
    expect(await memcachedCommand('127.0.0.1', node.port, 'get f')).toContain('old');
  });

  it('stop() leaves no process behind, even a frozen one', async () => {
    const extra = await MemcachedCluster.start(2);
    const pids = extra.nodes.map((n) => n.pid!);
    extra.node(0).freeze();
    await extra.stop();
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
  });
});

describe('missing memcached binary', () => {
  it('fails with a message naming the Debian package, never skips', () => {
    const saved = process.env['WEBTIER_MEMCACHED_BIN'];
    process.env['WEBTIER_MEMCACHED_BIN'] = '/nonexistent/memcached';
    try {
      expect(() => new MemcachedNode()).toThrowError(/apt-get install -y memcached/);
      expect(() => findMemcached()).toThrowError(expect.objectContaining({ code: TestkitErrorCodes.NO_MEMCACHED }));
    } finally {
      if (saved === undefined) delete process.env['WEBTIER_MEMCACHED_BIN'];
      else process.env['WEBTIER_MEMCACHED_BIN'] = saved;
    }
  });
});
