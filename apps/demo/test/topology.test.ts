import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TOPOLOGY, DemoErrorCodes, gatewayConfig, loadTopology, resolveTopology } from '../src/index.js';
import { makeDemoCertificate } from '../src/certificate.js';
import { ensureMemcached } from '../src/memcached.js';

describe('topology files (pure)', () => {
  it('defaults to 4 memcached nodes in 2 pairs, 2 webmail, 2 ActiveSync, 2 asset nodes, gateway on https 8443 with http 8080', () => {
    expect(resolveTopology({})).toEqual(DEFAULT_TOPOLOGY);
    expect(DEFAULT_TOPOLOGY).toMatchObject({ gateway: { port: 8080, httpsPort: 8443, adminPort: 9901 }, memcached: { nodes: 4, mode: 'pairs' }, webmail: { nodes: 2 }, activesync: { nodes: 2 }, assets: { nodes: 2 } });
  });

  it.each([
    [{ webmail: { nodes: 0 } }, 'topology.webmail.nodes: 0 must be an integer from 1 to 8'],
    [{ memcached: { nodes: 3 } }, 'topology.memcached.nodes: 3 nodes cannot form pairs; use an even number or mode: ring'],
    [{ memcached: { mode: 'mesh' } }, 'topology.memcached.mode: "mesh" must be one of pairs, ring'],
    [{ webmail: { replicas: 2 } }, 'topology.webmail.replicas: unknown key; known: nodes, lbPolicy'],
    [{ database: {} }, 'topology.database: unknown section'],
    [{ gateway: { httpsPort: 8080 } }, 'topology.gateway.httpsPort: must differ from gateway.port'],
    [{ gateway: { httpsPort: 9901 } }, 'topology.gateway.httpsPort: must differ from gateway.adminPort'],
    [{ gateway: { httpsPort: 70000 } }, 'topology.gateway.httpsPort: 70000 must be an integer from 0 to 65535'],
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

  // The lab calls gatewayConfig without tls and must keep one plain HTTP listener; the demo passes tls.
  it.each([
    ['without tls (the lab): one plain HTTP listener', {}, [{ host: '127.0.0.1', port: 8080 }]],
    ['with listenHost, without tls', { listenHost: '0.0.0.0' }, [{ host: '0.0.0.0', port: 8080 }]],
    [
      'with tls (the demo): HTTPS + h2 on tls.port, a 308 redirect on listenPort, no HSTS',
      { tls: { port: 8443, certFile: '/run/demo.crt', keyFile: '/run/demo.key' } },
      [
        { host: '127.0.0.1', port: 8443, tls: { certFile: '/run/demo.crt', keyFile: '/run/demo.key' }, http2: true },
        { host: '127.0.0.1', port: 8080, redirectToHttps: true, redirectPort: 8443 },
      ],
    ],
  ])('listeners %s', (_name, extra, listeners) => {
    const config = gatewayConfig({ listenPort: 8080, adminPort: 9901, webmail: ['http://a'], activesync: ['http://b'], assets: ['http://d'], healthCheck: DEFAULT_TOPOLOGY.healthCheck, webmailLbPolicy: 'round_robin', ...extra });
    expect(config['listeners']).toEqual(listeners);
  });
});

describe("the demo's self-signed certificate", () => {
  it('is made with openssl for localhost, 127.0.0.1 and ::1: a server certificate (CA:FALSE), key 0600, 30 days', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webtier-cert-'));
    try {
      const cert = makeDemoCertificate(join(dir, 'tls'));
      const x509 = new X509Certificate(readFileSync(cert.certFile));
      expect(x509.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
      expect(x509.ca).toBe(false);
      expect([x509.issuer, x509.verify(x509.publicKey)]).toEqual([x509.subject, true]); // self-signed
      expect(x509.checkPrivateKey(createPrivateKey(readFileSync(cert.keyFile)))).toBe(true);
      expect(statSync(cert.keyFile).mode & 0o077).toBe(0);
      expect(cert.validTo.getTime() - Date.now()).toBeGreaterThan(29 * 86_400_000);
      expect(cert.spkiSha256).toBe(createHash('sha256').update(x509.publicKey.export({ type: 'spki', format: 'der' })).digest('base64'));
      // A second start makes a new key.
      expect(makeDemoCertificate(join(dir, 'tls2')).spkiSha256).not.toBe(cert.spkiSha256);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the Debian package openssl when the binary is missing', () => {
    const saved = process.env['WEBTIER_OPENSSL_BIN'];
    process.env['WEBTIER_OPENSSL_BIN'] = '/nonexistent/openssl';
    const dir = mkdtempSync(join(tmpdir(), 'webtier-cert-'));
    try {
      expect(() => makeDemoCertificate(dir)).toThrow(expect.objectContaining({ code: DemoErrorCodes.NO_OPENSSL, message: expect.stringContaining('sudo apt-get install -y openssl') }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      if (saved === undefined) delete process.env['WEBTIER_OPENSSL_BIN'];
      else process.env['WEBTIER_OPENSSL_BIN'] = saved;
    }
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
