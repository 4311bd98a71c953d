import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayErrorCodes, loadConfig, validateConfig } from '../src/index.js';

// Config values that broke the gateway (issue 9 item 5): each refused with the path of the bad value.

const dir = mkdtempSync(join(tmpdir(), 'gw-cfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = () => ({ listeners: [{ port: 8080 }], routes: [{ match: { prefix: '/' }, cluster: 'web' }], clusters: { web: { endpoints: [{ url: 'http://10.0.0.1:80' }] } } as Record<string, unknown> });

describe('config values that broke the gateway', () => {
  const TOO_LONG = 3_000_000_000;
  const timerCases: Array<{ path: string; patch: (c: ReturnType<typeof base>) => void }> = [
    { path: 'clusters.web.healthCheck.intervalMs', patch: (c) => (c.clusters['web'] = { endpoints: [{ url: 'http://10.0.0.1:80' }], healthCheck: { intervalMs: TOO_LONG } }) },
    { path: 'clusters.web.connectTimeoutMs', patch: (c) => (c.clusters['web'] = { endpoints: [{ url: 'http://10.0.0.1:80' }], connectTimeoutMs: TOO_LONG }) },
    { path: 'clusters.web.outlierDetection.baseEjectionTimeMs', patch: (c) => (c.clusters['web'] = { endpoints: [{ url: 'http://10.0.0.1:80' }], outlierDetection: { baseEjectionTimeMs: TOO_LONG } }) },
    { path: 'routes[0].timeoutMs', patch: (c) => Object.assign(c.routes[0]!, { timeoutMs: TOO_LONG }) },
    { path: 'routes[0].clientBodyTimeoutMs', patch: (c) => Object.assign(c.routes[0]!, { clientBodyTimeoutMs: TOO_LONG }) },
    { path: 'listeners[0].clientHeaderTimeoutMs', patch: (c) => Object.assign(c.listeners[0]!, { clientHeaderTimeoutMs: TOO_LONG }) },
    { path: 'drainTimeoutMs', patch: (c) => Object.assign(c, { drainTimeoutMs: TOO_LONG }) },
    { path: 'drainDelayMs', patch: (c) => Object.assign(c, { drainDelayMs: TOO_LONG }) },
  ];
  it.each(timerCases)('a timer above 2^31-1 ms: $path', ({ path, patch }) => {
    const c = base();
    patch(c);
    expect(validateConfig(c)).toEqual([{ path, message: expect.stringContaining('2147483647') }]);
  });

  it('2^31-1 itself is accepted', () => {
    const c = base();
    Object.assign(c.routes[0]!, { timeoutMs: 2 ** 31 - 1 });
    expect(validateConfig(c)).toEqual([]);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('a cluster named %s (from JSON, as a file would give it)', (name) => {
    const c = JSON.parse(`{"listeners":[{"port":8080}],"routes":[{"match":{"prefix":"/"},"cluster":"${name}"}],"clusters":{"${name}":{"endpoints":[{"url":"http://10.0.0.1:80"}]}}}`);
    expect(validateConfig(c)).toContainEqual({ path: `clusters.${name}`, message: expect.stringContaining('reserved') });
  });

  it('a route named constructor', () => {
    const c = base();
    Object.assign(c.routes[0]!, { name: 'constructor' });
    expect(validateConfig(c)).toEqual([{ path: 'routes[0].name', message: expect.stringContaining('reserved') }]);
  });

  it.each(['Content-Length', 'transfer-encoding', 'Host', 'Connection', 'Upgrade', 'TE', 'x request id'])('requestIdHeader: %s', (h) => {
    expect(validateConfig({ ...base(), requestIdHeader: h })).toEqual([{ path: 'requestIdHeader', message: expect.any(String) }]);
  });

  it('requestIdHeader X-Correlation-Id is fine', () => {
    expect(validateConfig({ ...base(), requestIdHeader: 'X-Correlation-Id' })).toEqual([]);
  });

  it('duplicate keys are refused in JSON as in YAML', () => {
    writeFileSync(join(dir, 'dup.json'), '{"listeners":[{"port":8080}],"routes":[{"match":{"prefix":"/"},"cluster":"web"}],"clusters":{"web":{"endpoints":[{"url":"http://10.0.0.1:80"}]},"web":{"endpoints":[{"url":"http://10.0.0.2:80"}]}}}');
    writeFileSync(join(dir, 'dup.yaml'), 'listeners: [{ port: 8080 }]\nlisteners: [{ port: 8081 }]\nroutes: [{ match: { prefix: / }, cluster: web }]\nclusters: { web: { endpoints: [{ url: "http://10.0.0.1:80" }] } }\n');
    for (const f of ['dup.json', 'dup.yaml']) expect(() => loadConfig(join(dir, f))).toThrow(expect.objectContaining({ code: GatewayErrorCodes.CONFIG_READ, message: expect.stringMatching(/unique|duplicate/i) }));
  });

  it('the config path must be a regular file under 1 MiB: a FIFO (no hang), /dev/zero, a directory, a 1 MiB file', () => {
    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(1024 * 1024)}\n`);
    const t0 = Date.now();
    expect(() => loadConfig(fifo)).toThrow(expect.objectContaining({ code: GatewayErrorCodes.CONFIG_READ, message: expect.stringContaining('not a regular file') }));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(() => loadConfig('/dev/zero')).toThrow(expect.objectContaining({ code: GatewayErrorCodes.CONFIG_READ, message: expect.stringContaining('not a regular file') }));
    expect(() => loadConfig(dir)).toThrow(expect.objectContaining({ code: GatewayErrorCodes.CONFIG_READ }));
    expect(() => loadConfig(big)).toThrow(expect.objectContaining({ code: GatewayErrorCodes.CONFIG_READ, message: expect.stringContaining('limit') }));
  });

  it('http2 and hsts need tls; a TLS listener does not redirect to itself', () => {
    expect(validateConfig({ ...base(), listeners: [{ port: 80, http2: true, hsts: { maxAgeSeconds: 60 } }] })).toEqual([
      { path: 'listeners[0].http2', message: expect.stringContaining('tls') },
      { path: 'listeners[0].hsts', message: expect.stringContaining('tls') },
    ]);
    expect(validateConfig({ ...base(), listeners: [{ port: 443, tls: { certFile: '/c', keyFile: '/k' }, redirectToHttps: true }] })).toEqual([{ path: 'listeners[0].redirectToHttps', message: expect.any(String) }]);
  });

  it("issue 9's TLS listener contract validates as written", () => {
    const c = {
      ...base(),
      listeners: [
        {
          host: '0.0.0.0',
          port: 443,
          tls: { certFile: '/etc/webtier/tls/mail.example.org.crt', keyFile: '/etc/webtier/tls/mail.example.org.key', minVersion: 'TLSv1.2', sni: [{ serverNames: ['autodiscover.example.org'], certFile: '/a.crt', keyFile: '/a.key' }] },
          http2: true,
          hsts: { maxAgeSeconds: 31536000, includeSubDomains: false },
        },
        { host: '0.0.0.0', port: 80, redirectToHttps: true },
      ],
    };
    expect(validateConfig(c)).toEqual([]);
  });
});
