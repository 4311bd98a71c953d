import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { connect } from 'node:tls';
import { copyFileSync } from 'node:fs';
// The gateway package's test helper: certificates made with openssl at test time.
import { makeCert } from '../../../packages/gateway/test/support/tls.js';

const CLI = fileURLToPath(new URL('../dist/esm/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gw-cli-'));
const children: ChildProcess[] = [];
const servers: Server[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Upstream answering { name } after /sleep/<ms>, 200 on /healthz. */
async function upstream(name: string): Promise<string> {
  const s = createServer((req, res) => {
    const m = /\/sleep\/(\d+)/.exec(req.url ?? '');
    setTimeout(() => res.writeHead(200, { 'x-upstream': name }).end(name), m ? Number(m[1]) : 0);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

function configFor(port: number, adminPort: number, endpoints: string[], extra: Record<string, unknown> = {}) {
  return {
    listeners: [{ host: '127.0.0.1', port }],
    admin: { host: '127.0.0.1', port: adminPort },
    routes: [{ match: { prefix: '/' }, cluster: 'web' }],
    clusters: { web: { endpoints: endpoints.map((url) => ({ url })) } },
    ...extra,
  };
}

interface Running {
  child: ChildProcess;
  base: string;
  admin: string;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startCli(file: string, port: number, adminPort: number): Promise<Running> {
  const child = spawn(process.execPath, [CLI, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const admin = `http://127.0.0.1:${adminPort}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await fetch(`${admin}/healthz`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`gateway CLI did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, base: `http://127.0.0.1:${port}`, admin, output: () => out, exit };
}

async function who(base: string, path = '/x'): Promise<string> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return res.headers.get('x-upstream') ?? `status ${res.status}`;
}

let a: string;
let b: string;
beforeAll(async () => {
  a = await upstream('a');
  b = await upstream('b');
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid!, 'SIGKILL');
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

describe('webtier-gateway --check', () => {
  it('exits 0 on a valid YAML file', () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, stringify(configFor(8080, 9901, ['http://10.0.0.11:8000'])));
    const r = spawnSync(process.execPath, [CLI, '--config', file, '--check'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/OK \(1 listener\(s\), 1 route\(s\), 1 cluster\(s\), 1 endpoint\(s\)\)/);
  });

  it('exits non-zero listing every problem by path', () => {
    const file = join(dir, 'bad.json');
    const bad = configFor(8080, 9901, ['http://10.0.0.11:8000', 'nope']) as Record<string, any>;
    bad['clusters'].web.endpoints[0].weight = -1;
    bad['clusters'].web.lbPolicy = 'fastest';
    bad['routes'][0].cluster = 'mail';
    bad['listner'] = [];
    writeFileSync(file, JSON.stringify(bad));
    const r = spawnSync(process.execPath, [CLI, '--config', file, '--check'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('GW_ERR_BAD_CONFIG');
    for (const path of ['clusters.web.endpoints[0].weight: expected a positive integer', 'clusters.web.endpoints[1].url', 'clusters.web.lbPolicy', 'routes[0].cluster: no cluster named "mail"', 'listner: unknown key']) {
      expect(r.stderr).toContain(path);
    }
  });

  it('validates TLS files: prints subject and expiry, warns under 14 days, fails on a mismatched pair', () => {
    const good = makeCert(join(dir, 'tls'), 'good', ['mail.example.org']);
    const soon = makeCert(join(dir, 'tls'), 'soon', ['autodiscover.example.org'], { days: 5 });
    const file = join(dir, 'tls.yaml');
    const tlsListener = (certFile: string, keyFile: string) => ({ host: '127.0.0.1', port: 8443, tls: { certFile, keyFile, sni: [{ serverNames: ['autodiscover.example.org'], certFile: soon.certFile, keyFile: soon.keyFile }] } });
    writeFileSync(file, stringify({ ...configFor(8080, 9901, ['http://10.0.0.11:8000']), listeners: [tlsListener(good.certFile, good.keyFile)] }));
    const ok = spawnSync(process.execPath, [CLI, '--config', file, '--check'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`listeners\\[0\\] ${good.certFile}: CN=mail.example.org \\(mail.example.org\\), expires \\d{4}-\\d\\d-\\d\\dT.* \\(29 days\\)`));
    expect(ok.stderr).toMatch(/warning: .*soon\.crt expires in 4 days/);
    writeFileSync(file, stringify({ ...configFor(8080, 9901, ['http://10.0.0.11:8000']), listeners: [tlsListener(good.certFile, soon.keyFile)] }));
    const bad = spawnSync(process.execPath, [CLI, '--config', file, '--check'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`listeners[0].tls: GW_ERR_TLS: ${soon.keyFile} is not the key of ${good.certFile}`);
  });

  it('exits 2 without --config', () => {
    expect(spawnSync(process.execPath, [CLI], { encoding: 'utf8' }).status).toBe(2);
  });
});

describe('signals', () => {
  it('SIGHUP reloads a good file without dropping in-flight requests, and keeps the old config on a bad one', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const file = join(dir, 'reload.yaml');
    writeFileSync(file, stringify(configFor(port, adminPort, [a])));
    const gw = await startCli(file, port, adminPort);
    expect(await who(gw.base)).toBe('a');
    const inFlight = who(gw.base, '/sleep/1500');
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(file, stringify(configFor(port, adminPort, [b])));
    gw.child.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    while ((await who(gw.base)) !== 'b' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await who(gw.base)).toBe('b');
    expect(await inFlight).toBe('a');

    writeFileSync(file, 'listeners: [ { port: "eighty" } ]\nroutes: []\nclusters: {}\n');
    gw.child.kill('SIGHUP');
    const until = Date.now() + 5000;
    while (!gw.output().includes('config reload rejected') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(gw.output()).toContain('config reload rejected');
    expect(gw.output()).toContain('listeners[0].port');
    for (let i = 0; i < 3; i++) expect(await who(gw.base)).toBe('b');
    gw.child.kill('SIGTERM');
    expect(await gw.exit).toEqual({ code: 0, signal: null });
  });

  it('SIGHUP swaps the TLS certificate for new connections; a mismatched pair is refused and the old one stays', async () => {
    const one = makeCert(join(dir, 'tls'), 'one', ['localhost']);
    const two = makeCert(join(dir, 'tls'), 'two', ['localhost']);
    const live = { certFile: join(dir, 'tls', 'live.crt'), keyFile: join(dir, 'tls', 'live.key') };
    const use = (c: { certFile: string; keyFile: string }) => {
      copyFileSync(c.certFile, live.certFile);
      copyFileSync(c.keyFile, live.keyFile);
    };
    use(one);
    const [port, adminPort] = [await freePort(), await freePort()];
    const file = join(dir, 'tls-reload.yaml');
    writeFileSync(file, stringify({ ...configFor(port, adminPort, [a]), listeners: [{ host: '127.0.0.1', port, tls: live }] }));
    const gw = await startCli(file, port, adminPort);
    const fingerprint = () =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
          resolve(s.getPeerCertificate().fingerprint256);
          s.end();
        });
        s.once('error', reject);
      });
    expect(await fingerprint()).toBe(one.fingerprint256);
    use(two);
    gw.child.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    while ((await fingerprint()) !== two.fingerprint256 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await fingerprint()).toBe(two.fingerprint256);
    copyFileSync(one.keyFile, live.keyFile);
    gw.child.kill('SIGHUP');
    const until = Date.now() + 5000;
    while (!gw.output().includes('GW_ERR_TLS') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(gw.output()).toContain('config reload rejected');
    expect(gw.output()).toContain('is not the key of');
    expect(await fingerprint()).toBe(two.fingerprint256);
    gw.child.kill('SIGTERM');
    expect(await gw.exit).toEqual({ code: 0, signal: null });
  });

  it('SIGTERM: stops accepting, lets the in-flight request finish, exits 0', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const file = join(dir, 'drain.yaml');
    writeFileSync(file, stringify(configFor(port, adminPort, [a], { drainTimeoutMs: 10_000 })));
    const gw = await startCli(file, port, adminPort);
    const started = Date.now();
    const inFlight = who(gw.base, '/sleep/1500');
    await new Promise((r) => setTimeout(r, 300));
    gw.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    await expect(fetch(`${gw.base}/new`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    expect(await inFlight).toBe('a');
    const exit = await gw.exit;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(gw.output()).toMatch(/"clean":true/);
  });

  it('SIGTERM: a request longer than drainTimeoutMs is cut at the drain timeout, exit 0', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const file = join(dir, 'cut.yaml');
    writeFileSync(file, stringify(configFor(port, adminPort, [a], { drainTimeoutMs: 500 })));
    const gw = await startCli(file, port, adminPort);
    const inFlight = who(gw.base, '/sleep/20000').catch(() => 'cut');
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    gw.child.kill('SIGTERM');
    const exit = await gw.exit;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(500 + 3000);
    expect(await inFlight).toBe('cut');
    expect(gw.output()).toMatch(/"clean":false/);
  });
});
