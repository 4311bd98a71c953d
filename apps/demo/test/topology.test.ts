import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TOPOLOGY, DemoErrorCodes, gatewayConfig, loadTopology, resolveTopology } from '../src/index.js';
import { ensureMemcached } from '../src/memcached.js';

describe('topology files (pure)', () => {
  it('defaults to 4 memcached nodes in 2 pairs, 2 webmail, 2 ActiveSync, 2 asset nodes, gateway on 8080', () => {
    expect(resolveTopology({})).toEqual(DEFAULT_TOPOLOGY);
    expect(DEFAULT_TOPOLOGY).toMatchObject({ gateway: { port: 8080 }, memcached: { nodes: 4, mode: 'pairs' }, webmail: { nodes: 2 }, activesync: { nodes: 2 }, assets: { nodes: 2 } });
  });

  it.each([
    [{ webmail: { nodes: 0 } }, 'topology.webmail.nodes: 0 must be an integer from 1 to 8'],
    [{ memcached: { nodes: 3 } }, 'topology.memcached.nodes: 3 nodes cannot form pairs; use an even number or mode: ring'],
    [{ memcached: { mode: 'mesh' } }, 'topology.memcached.mode: "mesh" must be one of pairs, ring'],
    [{ webmail: { replicas: 2 } }, 'topology.webmail.replicas: unknown key; known: nodes, lbPolicy'],
    [{ database: {} }, 'topology.database: unknown section'],
  ])('rejects %j', (input, message) => {
    expect(() => resolveTopology(input)).toThrow(expect.objectContaining({ code: DemoErrorCodes.BAD_TOPOLOGY, message: expect.stringContaining(message) }));
  });

  it('loads YAML and names the file in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webtier-topology-'));
    try {
      writeFileSync(join(dir, 'ok.yaml'), 'memcached: { nodes: 6, mode: ring }\nwebmail: { nodes: 3 }\n');
      expect(loadTopology(join(dir, 'ok.yaml'))).toMatchObject({ memcached: { nodes: 6, mode: 'ring' }, webmail: { nodes: 3 }, assets: { nodes: 2 } });
      writeFileSync(join(dir, 'bad.yaml'), 'assets: { nodes: many }\n');
      expect(() => loadTopology(join(dir, 'bad.yaml'))).toThrow(`${join(dir, 'bad.yaml')}.assets.nodes: "many" must be an integer`);
      expect(() => loadTopology(join(dir, 'missing.yaml'))).toThrow(/cannot read the topology file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('generates the gateway config of the gateway README: routes, clusters, health checks, admin listener', () => {
    const config = gatewayConfig({ listenPort: 8080, adminPort: 9901, webmail: ['http://a'], activesync: ['http://b', 'http://c'], assets: ['http://d', 'http://e'], healthCheck: DEFAULT_TOPOLOGY.healthCheck, webmailLbPolicy: 'round_robin' });
    expect(config).toMatchObject({
      listeners: [{ host: '127.0.0.1', port: 8080 }],
      admin: { host: '127.0.0.1', port: 9901 },
      clusters: {
        activesync: { lbPolicy: 'ring_hash', hashOn: { query: 'DeviceId' } },
        assets: { endpoints: [{ url: 'http://d', priority: 200 }, { url: 'http://e', priority: 100 }] },
        webmail: { healthCheck: { path: '/healthz', intervalMs: 1000 } },
      },
    });
    expect((config['routes'] as Array<{ cluster: string }>).map((r) => r.cluster)).toEqual(['activesync', 'activesync', 'assets', 'webmail']);
  });
});

describe('a missing memcached binary', () => {
  it('is reported with how to install it (no install attempted when not asked)', () => {
    const saved = process.env['WEBTIER_MEMCACHED_BIN'];
    process.env['WEBTIER_MEMCACHED_BIN'] = '/nonexistent/memcached';
    try {
      expect(() => ensureMemcached(false, () => {})).toThrow(expect.objectContaining({ code: DemoErrorCodes.NO_MEMCACHED, message: expect.stringContaining('sudo apt-get install -y memcached') }));
    } finally {
      if (saved === undefined) delete process.env['WEBTIER_MEMCACHED_BIN'];
      else process.env['WEBTIER_MEMCACHED_BIN'] = saved;
    }
  });
});
