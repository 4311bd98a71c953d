import { spawn, spawnSync } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CLI, cliScope, configFor, freePort, who } from './cliHarness.js';

const { dir, upstream: startUpstream, start } = cliScope();
const upstream = async (name: string) => (await startUpstream(name)).url;
const startCli = start;

let a: string;
let b: string;
beforeAll(async () => {
  a = await upstream('a');
  b = await upstream('b');
});

describe('webtier-gateway --check', () => {
  it('exits 0 on a valid YAML file', () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, stringify(configFor(8080, 9901, ['http://10.0.0.11:8000'])));
    const r = spawnSync(process.execPath, [CLI, '--config', file, '--check'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/OK \(1 listener\(s\), 1 route\(s\), 1 cluster\(s\), 1 endpoint\(s\), 1 worker\(s\)\)/);
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

  it('exits 2 without --config', () => {
    expect(spawnSync(process.execPath, [CLI], { encoding: 'utf8' }).status).toBe(2);
  });
});

describe('command line', () => {
  const version = (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version;
  const cases: Array<{ args: string[]; status: number; stdout?: RegExp; stderr?: RegExp }> = [
    { args: ['--version'], status: 0, stdout: new RegExp(`^webtier-gateway ${version.replace(/\./g, '\\.')} \\(node v\\d+`) },
    { args: ['--help'], status: 0, stdout: /exit codes: 0 ok, 1 config invalid/ },
    { args: ['--config'], status: 2, stderr: /argument missing/ },
    { args: ['--config', 'x.yaml', '--workers', 'many'], status: 2, stderr: /--workers: "many" is not a whole number/ },
    { args: ['--config', 'x.yaml', '--log-format', 'xml'], status: 2, stderr: /--log-format: "xml" is not json or pretty/ },
    { args: ['--bogus'], status: 2, stderr: /Unknown option '--bogus'/ },
    { args: ['--config', '/nonexistent/gw.yaml'], status: 1, stderr: /GW_ERR_CONFIG_READ/ },
    { args: ['check', '--timeout-ms', '0'], status: 2, stderr: /--timeout-ms: "0"/ },
  ];
  for (const c of cases) {
    it(`${c.args.join(' ') || '(none)'} → exit ${c.status}`, () => {
      const r = spawnSync(process.execPath, [CLI, ...c.args], { encoding: 'utf8' });
      expect(r.status).toBe(c.status);
      if (c.stdout) expect(r.stdout).toMatch(c.stdout);
      if (c.stderr) expect(r.stderr).toMatch(c.stderr);
    });
  }

  for (const workers of ['1', '2']) {
    it(`a listener that cannot bind (address in use) → exit 3 naming the error, --workers ${workers}`, async () => {
      const taken = createNetServer();
      await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
      const port = (taken.address() as { port: number }).port;
      const file = join(dir, `taken-${workers}.yaml`);
      writeFileSync(file, stringify(configFor(port, await freePort(), [a])));
      const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [CLI, '--config', file, '--workers', workers], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        c.on('exit', (status) => resolve({ status, stderr }));
      });
      taken.close();
      expect(r.status).toBe(3);
      expect(r.stderr).toMatch(/cannot start the gateway: .*EADDRINUSE/);
    });
  }

  it('--log-format pretty prints one readable line per record; the default is one JSON object per line', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const file = join(dir, 'pretty.yaml');
    writeFileSync(file, stringify(configFor(port, adminPort, [a])));
    for (const format of ['pretty', 'json']) {
      const gw = await startCli(file, port, adminPort, ['--log-format', format]);
      expect(await who(gw.base)).toBe('a');
      gw.child.kill('SIGTERM');
      await gw.exit;
      const lines = gw.output().trim().split('\n');
      if (format === 'pretty') {
        expect(lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} INFO  gateway listening {2}listeners=\["http:\/\/127\.0\.0\.1:\d+"\]/.test(l))).toBe(true);
        expect(lines.some((l) => /INFO  access {2}.*route=.* status=200/.test(l))).toBe(true);
      } else {
        const records = lines.map((l) => JSON.parse(l) as { msg: string });
        expect(records.map((r) => r.msg)).toEqual(expect.arrayContaining(['gateway listening', 'access', 'gateway stopped']));
      }
    }
  });
});

describe('signals', () => {
  it('started exactly as the README says (exec node_modules/.bin/webtier-gateway), SIGHUP then SIGTERM to the pid the operator has reload and drain', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const file = join(dir, 'readme.yaml');
    writeFileSync(file, stringify(configFor(port, adminPort, [a])));
    const root = fileURLToPath(new URL('../../../../', import.meta.url));
    // The shell's pid is the one an operator (or a process manager) holds; exec makes it the gateway's.
    const gw = await startCli(file, port, adminPort, [], ['sh', '-c', `cd '${root}' && exec node_modules/.bin/webtier-gateway "$@"`, 'sh']);
    expect(await who(gw.base)).toBe('a');
    writeFileSync(file, stringify(configFor(port, adminPort, [b])));
    process.kill(gw.child.pid!, 'SIGHUP');
    const deadline = Date.now() + 5000;
    while ((await who(gw.base)) !== 'b' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await who(gw.base)).toBe('b');
    const inFlight = who(gw.base, '/sleep/800');
    await new Promise((r) => setTimeout(r, 200));
    process.kill(gw.child.pid!, 'SIGTERM');
    expect(await inFlight).toBe('b');
    expect(await gw.exit).toEqual({ code: 0, signal: null });
    expect(gw.output()).toContain('"msg":"config reloaded"');
    expect(gw.output()).toMatch(/"signal":"SIGTERM".*"msg":"draining: no new connections/);
    expect(gw.output()).toMatch(/"clean":true,"msg":"gateway stopped"/);
  });

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
