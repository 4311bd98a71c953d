import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { GatewayErrorCodes, loadConfig, parseConfig, type GatewayConfigInput } from '../src/index.js';
import { resolveRoute } from '../src/config/resolve.js';
import { dispatchTimeouts } from '../src/proxy/Forwarder.js';

/** Issue 4's example, as written. */
export const ISSUE_EXAMPLE = {
  listeners: [{ host: '0.0.0.0', port: 8080 }],
  admin: { host: '127.0.0.1', port: 9901 },
  routes: [
    { match: { prefix: '/Microsoft-Server-ActiveSync', caseInsensitive: true }, cluster: 'activesync' },
    { match: { prefix: '/autodiscover/', caseInsensitive: true }, cluster: 'activesync' },
    { match: { prefix: ['/assets/', '/skins/', '/program/js/', '/static.php'] }, cluster: 'assets' },
    { match: { prefix: '/' }, cluster: 'webmail' },
  ],
  clusters: {
    webmail: {
      lbPolicy: 'round_robin',
      endpoints: [{ url: 'http://10.0.0.11:8000' }, { url: 'http://10.0.0.12:8000', weight: 2 }],
      healthCheck: { path: '/healthz', intervalMs: 1000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 2 },
    },
    activesync: { lbPolicy: 'ring_hash', hashOn: { query: 'DeviceId' }, endpoints: [{ url: 'http://10.0.0.21:8000' }, { url: 'http://10.0.0.22:8000' }] },
    assets: { endpoints: [{ url: 'http://10.0.0.31:8000', priority: 200 }, { url: 'http://10.0.0.32:8000', priority: 100 }] },
  },
} satisfies GatewayConfigInput;

function problemsOf(input: unknown): Array<{ path: string; message: string }> {
  try {
    parseConfig(input);
  } catch (err) {
    expect((err as { code: string }).code).toBe(GatewayErrorCodes.BAD_CONFIG);
    return [...(err as { problems: Array<{ path: string; message: string }> }).problems];
  }
  throw new Error('expected the config to be rejected');
}

describe('config', () => {
  it("accepts issue 4's example and fills in the defaults", () => {
    const c = parseConfig(ISSUE_EXAMPLE);
    expect(c.clusters['assets']!.lbPolicy).toBe('round_robin');
    expect(c.clusters['webmail']!.endpoints[0]!.weight).toBe(1);
    expect(c.clusters['webmail']!.healthCheck!.expectedStatuses).toEqual(['200-399']);
    expect(c.clusters['activesync']!.outlierDetection.consecutiveGatewayFailures).toBe(5);
    expect(c.clusters['activesync']!.preempt).toBe(true);
    expect(c.routes[0]!.match.caseInsensitive).toBe(true);
    expect(c.routes[3]!.match.caseInsensitive).toBe(false);
    expect(c.trustedProxies).toEqual([]);
    expect(c.drainTimeoutMs).toBe(30_000);
    expect(c.drainDelayMs).toBe(0);
  });

  it('returns a deeply frozen config', () => {
    const c = parseConfig(ISSUE_EXAMPLE);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.clusters['webmail']!.endpoints[1])).toBe(true);
    expect(() => {
      (c.clusters['webmail']!.endpoints[1] as { weight: number }).weight = 9;
    }).toThrow();
  });

  it('reports every problem with its path, unknown keys included', () => {
    const bad = structuredClone(ISSUE_EXAMPLE) as unknown as Record<string, any>;
    bad['clusters'].webmail.endpoints[1].weight = 0;
    bad['clusters'].webmail.endpoints[1].colour = 'red';
    bad['clusters'].webmail.lbPolicy = 'round_robbin';
    bad['listeners'][0].port = 70000;
    bad['routes'][1].cluster = 'activsync';
    bad['routes'][2].match.prefix = ['assets/'];
    bad['clusters'].activesync.hashOn = { query: 'DeviceId', header: 'X-Device' };
    bad['clusters'].assets.endpoints[1].url = 'http://10.0.0.31:8000';
    bad['extra'] = true;
    const problems = problemsOf(bad);
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
    expect(byPath['clusters.webmail.endpoints[1].weight']).toBe('expected a positive integer');
    expect(byPath['clusters.webmail.endpoints[1].colour']).toMatch(/unknown key/);
    expect(byPath['clusters.webmail.lbPolicy']).toMatch(/round_robin, least_request, ring_hash, random/);
    expect(byPath['listeners[0].port']).toMatch(/port number/);
    expect(byPath['routes[1].cluster']).toMatch(/no cluster named "activsync"/);
    expect(byPath['routes[2].match.prefix[0]']).toMatch(/starting with "\/"/);
    expect(byPath['clusters.activesync.hashOn']).toMatch(/exactly one/);
    expect(byPath['clusters.assets.endpoints[1].url']).toMatch(/duplicate of endpoints\[0\]/);
    expect(byPath['extra']).toMatch(/unknown key/);
    expect(problems).toHaveLength(9);
  });

  it('requires hashOn with ring_hash, listeners, routes and endpoints', () => {
    const paths = problemsOf({ listeners: [], routes: [], clusters: { a: { lbPolicy: 'ring_hash', endpoints: [] } } }).map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['listeners', 'routes', 'clusters.a.endpoints', 'clusters.a.hashOn']));
    expect(problemsOf({ routes: [{ match: { prefix: '/' }, cluster: 'a' }], clusters: { a: { endpoints: [{ url: 'http://x:1' }] } } })).toEqual([
      { path: 'listeners', message: expect.stringMatching(/^required/) },
    ]);
  });

  it('rejects bad CIDRs in trustedProxies and a health-check timeout above its interval', () => {
    const bad = { ...structuredClone(ISSUE_EXAMPLE), trustedProxies: ['10.0.0.0/8', '10.0.0.0/33', 'proxy'] } as Record<string, any>;
    bad['clusters'].webmail.healthCheck.timeoutMs = 5000;
    expect(problemsOf(bad).map((p) => p.path)).toEqual(['trustedProxies[1]', 'trustedProxies[2]', 'clusters.webmail.healthCheck.timeoutMs']);
  });

  it('timeout rule: ActiveSync routes >= 3,660,000 ms, webmail 60 s, assets 30 s; body limits 20/25 MiB', () => {
    const c = parseConfig(ISSUE_EXAMPLE);
    const routes = c.routes.map((r) => resolveRoute(r, r.cluster, c.clusters[r.cluster], c));
    const [eas, autodiscover, assets, webmail] = routes;
    for (const r of [eas!, autodiscover!]) {
      expect(r.timeoutMs).toBeGreaterThanOrEqual(3_660_000);
      expect(r.longPoll).toBe(true);
      expect(r.bodyLimitBytes).toBe(20 * 1024 * 1024);
      // The undici options the forwarder builds for each request of the route: never undici's 300 s default.
      const t = dispatchTimeouts(r);
      expect(t.headersTimeout).toBeGreaterThanOrEqual(3_660_000);
      expect(t.bodyTimeout).toBeGreaterThanOrEqual(3_660_000);
    }
    expect(webmail!.timeoutMs).toBe(60_000);
    expect(webmail!.bodyLimitBytes).toBe(25 * 1024 * 1024);
    expect(assets!.timeoutMs).toBe(30_000);
    expect(dispatchTimeouts(webmail!)).toEqual({ headersTimeout: 60_000, bodyTimeout: 60_000 });
  });

  it('timeout rule: route beats cluster beats longPoll; 0 disables the timeout', () => {
    const input = structuredClone(ISSUE_EXAMPLE) as Record<string, any>;
    input['routes'][3].timeoutMs = 1234;
    input['routes'][2].longPoll = true;
    input['clusters'].activesync.timeoutMs = 0;
    const c = parseConfig(input);
    const r = c.routes.map((x) => resolveRoute(x, x.cluster, c.clusters[x.cluster], c));
    expect(r[3]!.timeoutMs).toBe(1234);
    expect(r[2]!.timeoutMs).toBe(3_660_000);
    expect(dispatchTimeouts(r[0]!)).toEqual({ headersTimeout: 0, bodyTimeout: 0 });
  });

  // Regression (issue 15): the long-poll and assets defaults by cluster name are config (clusterDefaults), not literals in the code.
  const byName = [
    { name: 'default table: activesync long-polls Ping, assets 30 s', clusterDefaults: undefined, expected: { activesync: [true, 3_660_000], assets: [false, 30_000], webmail: [false, 60_000] } },
    { name: 'clusterDefaults: {} turns the names off', clusterDefaults: {}, expected: { activesync: [false, 60_000], assets: [false, 60_000], webmail: [false, 60_000] } },
    { name: 'any name can get them', clusterDefaults: { webmail: { longPoll: true }, assets: { timeoutMs: 5000 } }, expected: { activesync: [false, 60_000], assets: [false, 5000], webmail: [true, 3_660_000] } },
  ];
  for (const c of byName) {
    it(`clusterDefaults: ${c.name}`, () => {
      const cfg = parseConfig({ ...ISSUE_EXAMPLE, ...(c.clusterDefaults !== undefined ? { clusterDefaults: c.clusterDefaults } : {}) });
      const got: Record<string, [boolean, number]> = {};
      for (const r of cfg.routes) {
        const resolved = resolveRoute(r, r.cluster, cfg.clusters[r.cluster], cfg);
        got[r.cluster] = [resolved.longPoll, resolved.timeoutMs];
      }
      expect(got).toEqual(c.expected);
    });
  }

  it('loadConfig reads YAML and JSON, and names the file in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-config-'));
    writeFileSync(join(dir, 'g.yaml'), stringify(ISSUE_EXAMPLE));
    writeFileSync(join(dir, 'g.json'), JSON.stringify(ISSUE_EXAMPLE));
    writeFileSync(join(dir, 'bad.yaml'), 'listeners: [ { port: 8080, hots: x } ]\nroutes: []\nclusters: {}\n');
    writeFileSync(join(dir, 'broken.yaml'), 'listeners: [\n');
    expect(loadConfig(join(dir, 'g.yaml'))).toEqual(loadConfig(join(dir, 'g.json')));
    expect(() => loadConfig(join(dir, 'bad.yaml'))).toThrow(/bad\.yaml[\s\S]*listeners\[0\]\.hots: unknown key/);
    expect(() => loadConfig(join(dir, 'broken.yaml'))).toThrow(expect.objectContaining({ code: GatewayErrorCodes.CONFIG_READ }));
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(expect.objectContaining({ code: GatewayErrorCodes.CONFIG_READ }));
  });
});
