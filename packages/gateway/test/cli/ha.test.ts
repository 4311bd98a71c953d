// #14 items 1-2: `webtier-gateway check` (keepalived's probe of the local gateway) against a real
// gateway, and `webtier-gateway keepalived` configs, validated by the real keepalived (`-t`).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CLI, cliScope, configFor, freePort, sleep, who, type CliUpstream } from './cliHarness.js';

const { dir, upstream, start } = cliScope();

/** Runs `webtier-gateway check` asynchronously (the gateway under test runs in this process's children). */
function check(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, 'check', ...args]);
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('exit', (status) => resolve({ status, stdout, stderr, ms: Date.now() - t0 }));
  });
}

describe('webtier-gateway check', () => {
  let a: CliUpstream;
  let silent: Server;
  let silentPort: number;
  let closedPort: number;
  beforeAll(async () => {
    closedPort = await freePort();
    a = await upstream('a');
    // Accepts connections and never answers: the check must give up within its timeout.
    silent = createNetServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(() => void silent.close());

  it('ready → 0; an endpoint failing its health check → 5 naming the cluster; SIGTERM (draining) → 5 at once, while in-flight requests finish', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const file = join(dir, 'check.yaml');
    const hc = { path: '/healthz', intervalMs: 100, timeoutMs: 100, healthyThreshold: 1, unhealthyThreshold: 1 };
    writeFileSync(file, stringify(configFor(port, adminPort, [a.url], { drainTimeoutMs: 10_000, clusters: { web: { endpoints: [{ url: a.url }], healthCheck: hc } } })));
    const gw = await start(file, port, adminPort);
    const admin = `http://127.0.0.1:${adminPort}`;
    // The 1 s default bound is tested below; here a loaded machine must not turn an answer into "no answer".
    const probe = () => check('--admin', admin, '--timeout-ms', '5000');
    const ok = await probe();
    expect(ok).toMatchObject({ status: 0, stdout: `ready: ${admin}/readyz answered 200 (ready)\n` });

    // Reload onto a dead endpoint: the check fails once the health check has.
    const dead = `http://127.0.0.1:${await freePort()}`;
    writeFileSync(file, stringify(configFor(port, adminPort, [dead], { drainTimeoutMs: 10_000, clusters: { web: { endpoints: [{ url: dead }], healthCheck: hc } } })));
    gw.child.kill('SIGHUP');
    let down = await probe();
    for (let i = 0; i < 30 && down.status === 0; i++) down = await probe();
    expect(down).toMatchObject({ status: 5, stderr: `not ready: ${admin}/readyz answered 503 (no healthy endpoint in cluster web)\n` });

    writeFileSync(file, stringify(configFor(port, adminPort, [a.url], { drainTimeoutMs: 10_000, clusters: { web: { endpoints: [{ url: a.url }], healthCheck: hc } } })));
    gw.child.kill('SIGHUP');
    let up = await probe();
    for (let i = 0; i < 30 && up.status !== 0; i++) up = await probe();
    expect(up.status).toBe(0);

    // Long enough that the gateway is still draining (admin up) when the check's node process has
    // started, even on a loaded machine.
    const inFlight = who(gw.base, '/sleep/6000');
    await sleep(200);
    gw.child.kill('SIGTERM');
    await sleep(100);
    const draining = await probe();
    expect(draining).toMatchObject({ status: 5, stderr: `not ready: ${admin}/readyz answered 503 (draining)\n` });
    expect(await inFlight).toBe('a');
    expect(await gw.exit).toEqual({ code: 0, signal: null });
  });

  const failures: Array<{ name: string; args: () => string[]; stderr: RegExp; maxMs: number }> = [
    { name: 'nothing listening', args: () => ['--admin', `http://127.0.0.1:${closedPort}`], stderr: /^not ready: http:\/\/127\.0\.0\.1:\d+\/readyz: ECONNREFUSED\n$/, maxMs: 5000 },
    { name: 'an admin that never answers, default 1 s bound', args: () => ['--admin', `http://127.0.0.1:${silentPort}`], stderr: /^not ready: .*: no answer within 1000 ms\n$/, maxMs: 1000 + 6000 },
    { name: 'a bound of 300 ms', args: () => ['--admin', `http://127.0.0.1:${silentPort}`, '--timeout-ms', '300'], stderr: /no answer within 300 ms/, maxMs: 300 + 6000 },
    { name: 'not a URL', args: () => ['--admin', 'nope'], stderr: /^not ready: --admin "nope" is not a URL/, maxMs: 5000 },
  ];
  for (const f of failures) {
    it(`${f.name} → 5, one line why`, async () => {
      const r = await check(...f.args());
      expect(r.status).toBe(5);
      expect(r.stderr).toMatch(f.stderr);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.ms).toBeLessThan(f.maxMs);
    });
  }
});

describe('webtier-gateway keepalived', () => {
  const out = mkdtempSync(join(tmpdir(), 'gw-keepalived-'));
  const gen = (...args: string[]) => spawnSync(process.execPath, [CLI, 'keepalived', ...args], { encoding: 'utf8' });
  const base = ['--interface', 'eth0', '--vip', '192.0.2.3/24', '--vip', '192.0.2.4/24'];

  it('--out-dir writes both hosts: two vrrp_instances each, 200/100 swapped, advert_int 1, one shared password, unicast peers', () => {
    const r = gen(...base, '--peer', '192.0.2.1', '--peer', '192.0.2.2', '--out-dir', out, '--bin', CLI);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [h1, h2] = [1, 2].map((h) => readFileSync(join(out, `keepalived-host${h}.conf`), 'utf8'));
    const instances = (conf: string) =>
      [...conf.matchAll(/vrrp_instance (\S+) \{[\s\S]*?state (\S+)[\s\S]*?virtual_router_id (\d+)[\s\S]*?priority (\d+)[\s\S]*?auth_pass (\S+)[\s\S]*?(?:unicast_src_ip (\S+)[\s\S]*?unicast_peer \{\s*(\S+)[\s\S]*?)?virtual_ipaddress \{\s*(\S+) dev eth0/g)].map((m) => m.slice(1));
    const pw = /auth_pass (\S+)/.exec(h1!)![1]!;
    expect(instances(h1!)).toEqual([
      ['webtier_vip1', 'MASTER', '51', '200', pw, '192.0.2.1', '192.0.2.2', '192.0.2.3/24'],
      ['webtier_vip2', 'BACKUP', '52', '100', pw, '192.0.2.1', '192.0.2.2', '192.0.2.4/24'],
    ]);
    expect(instances(h2!)).toEqual([
      ['webtier_vip1', 'BACKUP', '51', '100', pw, '192.0.2.2', '192.0.2.1', '192.0.2.3/24'],
      ['webtier_vip2', 'MASTER', '52', '200', pw, '192.0.2.2', '192.0.2.1', '192.0.2.4/24'],
    ]);
    for (const conf of [h1!, h2!]) {
      expect(conf.match(/advert_int 1\n/g)).toHaveLength(2);
      expect(conf.match(/track_script \{\s*webtier_gateway\s*\}/g)).toHaveLength(2);
      expect(conf.match(/notify "\/usr\/bin\/logger -t webtier-keepalived"/g)).toHaveLength(2);
      expect(conf).toContain(`script "${CLI} check --admin http://127.0.0.1:9901 --timeout-ms 1000"`);
      expect(conf).not.toMatch(/^\s*nopreempt/m);
      // --failover fault (the default): new connections to an address in FAULT are dropped, not refused.
      for (const vip of ['192.0.2.3', '192.0.2.4']) {
        expect(conf).toContain(`notify_fault "/usr/sbin/iptables -w -I INPUT -d ${vip} -p tcp --syn -j DROP"`);
        for (const state of ['backup', 'master']) expect(conf).toContain(`notify_${state} "/usr/sbin/iptables -w -D INPUT -d ${vip} -p tcp --syn -j DROP"`);
      }
    }
  });

  // fault (default): a failing check without weight puts the instance into FAULT, keepalived sends a
  // priority-0 advert and the peer takes over at once; weight: the Kolab guide's recipe.
  it.each([
    { failover: [], weight: null },
    { failover: ['--failover', 'fault'], weight: null },
    { failover: ['--failover', 'weight'], weight: '-101' },
  ])('$failover → vrrp_script weight $weight', ({ failover, weight }) => {
    const r = gen(...base, '--host', '1', '--password', 's3cret', '--bin', CLI, ...failover);
    expect(r.status).toBe(0);
    const script = /vrrp_script webtier_gateway \{([^}]*)\}/.exec(r.stdout)![1]!;
    expect(/^\s*weight (\S+)$/m.exec(script)?.[1] ?? null).toBe(weight);
    expect(script).toMatch(/interval 1\n[\s\S]*fall 1\n/);
  });

  it('keepalived -t accepts both generated files (multicast and unicast)', () => {
    const which = spawnSync('sh', ['-c', 'command -v keepalived'], { encoding: 'utf8' });
    if (which.status !== 0) throw new Error('keepalived is missing: install the Debian package "keepalived" (.ci/run does)');
    for (const extra of [[], ['--peer', '192.0.2.1', '--peer', '192.0.2.2'], ['--failover', 'weight']]) {
      for (const host of ['1', '2']) {
        const r = gen(...base, ...extra, '--host', host, '--password', 's3cret', '--bin', CLI);
        expect(r.status).toBe(0);
        const file = join(out, `check-${host}-${extra.length}.conf`);
        writeFileSync(file, r.stdout);
        const t = spawnSync('keepalived', ['-t', '-f', file], { encoding: 'utf8' });
        expect({ file, status: t.status, output: `${t.stdout}${t.stderr}`.trim() }).toEqual({ file, status: 0, output: '' });
      }
    }
  });

  const bad: Array<{ args: string[]; stderr: RegExp }> = [
    { args: ['--interface', 'eth0', '--vip', '192.0.2.3/24', '--out-dir', out], stderr: /--vip: give exactly two service addresses/ },
    { args: [...base, '--host', '1'], stderr: /--password is required with --host/ },
    { args: [...base, '--host', '1', '--password', 'x', '--failover', 'nopreempt'], stderr: /--failover: expected fault .* or weight .* \(got "nopreempt"\)/ },
    { args: [...base, '--host', '3', '--password', 'x'], stderr: /--host: expected 1 or 2/ },
    { args: [...base, '--host', '1', '--password', 'waytoolongpassword'], stderr: /--password: 1 to 8 printable characters/ },
    { args: ['--interface', 'eth0', '--vip', '192.0.2.3', '--vip', '192.0.2.4/24', '--out-dir', out], stderr: /--vip: "192\.0\.2\.3" is not an address with a prefix length/ },
    { args: [...base, '--peer', '192.0.2.1', '--out-dir', out], stderr: /--peer: give both hosts' own addresses/ },
    { args: [...base, '--out-dir', out, '--router-id', '255'], stderr: /--router-id: expected 1\.\.254/ },
    { args: [...base], stderr: /give --host 1\|2 .* or --out-dir/ },
  ];
  for (const b of bad) {
    it(`rejects ${b.args.join(' ').replaceAll(out, '<dir>')} with exit 2`, () => {
      const r = gen(...b.args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(b.stderr);
    });
  }
});
