// The public packages (and @webtier/errors, their error-table helper) as their users get them: `npm pack`, then `npm install` of the tarballs
// into a fresh project under the OS temp dir (no workspace, no links), plus the peers the READMEs
// name. There: express + express-session (ESM and CommonJS) and fastify + @fastify/session keep a
// session on real memcached across two processes, and the webtier-gateway bin checks a config and
// serves a request. Installs come from the npm cache `npm install` filled (--prefer-offline).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, MemcachedCluster } from '@webtier/testkit';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..');
const PACKAGES = ['errors', 'hash-ring', 'session-store', 'gateway'];
/** The peers, at the versions this workspace tests with (so the npm cache already has them). */
const PEERS = ['express', 'express-session', 'fastify', '@fastify/session', '@fastify/cookie', '@types/node', '@types/express-session', '@types/express'].map(
  (name) => `${name}@${(JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version}`,
);

const project = mkdtempSync(join(tmpdir(), 'webtier-pack-'));
let memcached: MemcachedCluster;
const children: ChildProcess[] = [];
let upstream: Server;

async function npm(args: string[], cwd: string, timeout = 90_000): Promise<string> {
  try {
    const { stdout } = await run('npm', args, { cwd, timeout, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`npm ${args.join(' ')} (in ${cwd}) failed:\n${e.stderr || e.message}`);
  }
}

beforeAll(async () => {
  expect(project.startsWith(root)).toBe(false);
  memcached = await MemcachedCluster.start(2, { namePrefix: 'pack' });
  const packed = JSON.parse(await npm(['pack', '--json', '--pack-destination', project, ...PACKAGES.flatMap((p) => ['-w', `packages/${p}`])], root)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  expect(packed.map((p) => p.filename).sort()).toEqual(['webtier-errors-0.1.0.tgz', 'webtier-gateway-0.1.0.tgz', 'webtier-hash-ring-0.1.0.tgz', 'webtier-session-store-0.1.0.tgz']);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'webtier-pack-probe', version: '1.0.0', private: true }, null, 2));
  for (const f of readdirSync(join(root, 'test', 'pack'))) copyFileSync(join(root, 'test', 'pack', f), join(project, f));
  const tarballs = readdirSync(project).filter((f) => f.endsWith('.tgz')).map((f) => `./${f}`);
  await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs, ...PEERS], project);
  upstream = createServer((_req, res) => res.writeHead(200, { 'x-upstream': 'pack' }).end('served through the packed gateway'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
}, 180_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  upstream?.close();
  await memcached?.stop();
  rmSync(project, { recursive: true, force: true });
});

describe('npm pack → npm install in a fresh project outside the workspace', () => {
  it('each tarball holds dist, README, LICENSE and package.json, no tests or sources', () => {
    for (const p of PACKAGES) {
      const pkg = JSON.parse(readFileSync(join(project, 'node_modules', '@webtier', p, 'package.json'), 'utf8')) as Record<string, unknown>;
      const files = readdirSync(join(project, 'node_modules', '@webtier', p));
      expect(files).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'dist']));
      expect(files).not.toContain('src');
      expect(files).not.toContain('test');
      expect(pkg['engines']).toEqual({ node: '^20.19.0 || ^22.12.0 || >=24' });
      expect(pkg['types']).toBeTruthy();
      expect(pkg['exports']).toHaveProperty(['.', 'require']);
    }
    // Installed from the tarballs, not linked: real directories in the project's node_modules.
    expect(readdirSync(join(project, 'node_modules', '@webtier')).sort()).toEqual(['errors', 'gateway', 'hash-ring', 'session-store']);
  });

  it('TypeScript (ESM and CommonJS) finds every package\'s types through its exports map; a wrong option is a type error', async () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    // One program for both files (a second tsc run would check fastify's and undici's types again).
    // The @ts-expect-error lines fail the check if a package's types resolved to `any`.
    const args = [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', 'types.mts', 'types.cts'];
    const r = await run(process.execPath, args, { cwd: project, timeout: 90_000 }).catch((err: { stdout?: string; message: string }) => ({ stdout: err.stdout ?? err.message }));
    expect(r.stdout.trim()).toBe('');
  });

  const apps = [
    { name: 'express + express-session, ESM', file: 'express-app.mjs' },
    { name: 'express + express-session, CommonJS', file: 'express-app.cjs' },
    { name: 'fastify + @fastify/session', file: 'fastify-app.mjs' },
  ];
  for (const app of apps) {
    it(`${app.name}: a session set by one process is read by the next, through memcached`, async () => {
      const env = { ...process.env, MEMCACHED: memcached.servers.join(',') };
      const step = async (...args: string[]) => JSON.parse((await run(process.execPath, [app.file, ...args], { cwd: project, env, timeout: 20_000 })).stdout) as { status: number; cookie?: string; value?: string };
      const value = `v-${app.file}-${Date.now()}`;
      const set = await step('set', value);
      expect(set.status).toBe(200);
      expect(set.cookie).toMatch(/^(connect\.sid|sessionId)=/);
      const got = await step('get', set.cookie!);
      expect(got).toEqual({ status: 200, value });
    });
  }

  it('npx webtier-gateway --check, then the bin serves a request and drains on SIGTERM', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const cfg = join(project, 'gw.yaml');
    writeFileSync(
      cfg,
      stringify({
        listeners: [{ host: '127.0.0.1', port }],
        admin: { host: '127.0.0.1', port: adminPort },
        routes: [{ match: { prefix: '/' }, cluster: 'web' }],
        clusters: { web: { endpoints: [{ url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` }] } },
      }),
    );
    // npx runs the project's own bin (node_modules/.bin), installed from the tarball.
    const check = await run('npx', ['webtier-gateway', '--config', 'gw.yaml', '--check'], { cwd: project, timeout: 30_000 });
    expect(check.stdout).toMatch(/gw\.yaml: OK \(1 listener\(s\), 1 route\(s\), 1 cluster\(s\), 1 endpoint\(s\), 1 worker\(s\)\)/);
    expect((await run('npx', ['webtier-gateway', '--version'], { cwd: project })).stdout).toMatch(/^webtier-gateway 0\.1\.0 /);

    const gw = spawn(join(project, 'node_modules', '.bin', 'webtier-gateway'), ['--config', cfg], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(gw);
    let out = '';
    gw.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    gw.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exit = new Promise<number | null>((r) => gw.once('exit', (code) => r(code)));
    const deadline = Date.now() + 15_000;
    while (!out.includes('gateway listening')) {
      if (Date.now() > deadline || gw.exitCode !== null) throw new Error(`the packed gateway did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const res = await fetch(`http://127.0.0.1:${port}/hello`, { signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-upstream')).toBe('pack');
    expect(await res.text()).toBe('served through the packed gateway');
    gw.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(out).toMatch(/"msg":"access"/);
  });
});
