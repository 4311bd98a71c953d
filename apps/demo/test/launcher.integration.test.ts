import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive, track } from '@webtier/testkit';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeInfo } from '../src/index.js';

const CLI = join(import.meta.dirname, '..', 'dist', 'esm', 'cli.js');

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `webtier <args>` as a user runs it, against the launcher of this test (its own state file). */
function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `webtier up` with a small topology; resolves when it prints that the demo is up. */
async function up(dir: string, env: NodeJS.ProcessEnv): Promise<{ launcher: ChildProcess; output: () => string }> {
  const file = join(dir, 'small.yaml');
  writeFileSync(file, 'memcached: { nodes: 2 }\nwebmail: { nodes: 2 }\nactivesync: { nodes: 1 }\nassets: { nodes: 1 }\n');
  const launcher = spawn(process.execPath, [CLI, 'up', file, '--port', '0', '--https-port', '0', '--admin-port', '0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  track(launcher);
  let output = '';
  launcher.stdout!.on('data', (d) => (output += d));
  launcher.stderr!.on('data', (d) => (output += d));
  await until('"webtier demo is up"', () => output.includes('webtier demo is up') || (launcher.exitCode !== null ? Promise.reject(new Error(`launcher exited ${launcher.exitCode}:\n${output}`)) : undefined), 60_000);
  return { launcher, output: () => output };
}

describe('webtier up / status / kill / restart and clean stops (CLI, real processes)', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'webtier-launcher-test-'));
    env = { CI: 'true', WEBTIER_STATE_FILE: join(dir, 'state.json') };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the chaos commands from another terminal, reports a crash without respawning, and stops every process on SIGTERM', async () => {
    const { launcher, output } = await up(dir, env);
    const status = async () => JSON.parse((await cli(env, 'status', '--json')).stdout) as { nodes: NodeInfo[]; url: string; httpUrl: string; certFile: string };
    const first = await status();
    // HTTPS with the self-signed certificate the launcher made (trusted here, not ignored); the old HTTP port redirects.
    expect(first.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(output()).toContain(`Open the webmail:        ${first.url}/   (${first.httpUrl}/ redirects there)`);
    expect(output()).toContain(`The certificate is self-signed`);
    expect(output()).toContain(`trust ${first.certFile}`);
    const dispatcher = new Agent({ connect: { ca: readFileSync(first.certFile, 'utf8') } });
    const get = (path: string) => fetch(`${first.url}${path}`, { dispatcher, signal: AbortSignal.timeout(10_000) });
    const redirect = await fetch(`${first.httpUrl}/login?x=1`, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    expect([redirect.status, redirect.headers.get('location')]).toEqual([308, `${first.url}/login?x=1`]);
    // Without the demo's certificate the client refuses it: it is self-signed, not from a public CA.
    await expect(fetch(`${first.url}/login`, { signal: AbortSignal.timeout(10_000) })).rejects.toMatchObject({ cause: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' } });
    expect(first.nodes.map((n) => `${n.name}:${n.state}`)).toEqual([
      'memcached-1:running', 'memcached-2:running', 'webmail-1:running', 'webmail-2:running', 'activesync-1:running', 'assets-1:running', 'gateway:running',
    ]);
    const pids = first.nodes.map((n) => n.pid!);
    expect((await get('/login')).status).toBe(200);

    expect((await cli(env, 'kill', 'memcached-2')).stdout).toContain('memcached-2: killed');
    expect(processAlive(first.nodes[1]!.pid!)).toBe(false);
    const restarted = await cli(env, 'restart', 'memcached-2');
    expect(restarted.stdout).toMatch(/memcached-2: running \(pid \d+\)/);
    const unknown = await cli(env, 'kill', 'webmail-9');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('[DEMO_ERR_UNKNOWN_NODE] no node named "webmail-9"');

    // A crash (not asked for by the launcher) is reported and not respawned.
    const webmail1 = first.nodes.find((n) => n.name === 'webmail-1')!;
    process.kill(webmail1.pid!, 'SIGKILL');
    await until('the crash report', () => output().includes('webmail-1 exited unexpectedly (signal SIGKILL)'), 10_000);
    expect((await status()).nodes.find((n) => n.name === 'webmail-1')!.state).toBe('crashed');
    // The site still answers through the gateway (webmail-2).
    expect((await get('/login')).status).toBe(200);
    await dispatcher.close();

    const current = (await status()).nodes.map((n) => n.pid).filter((p): p is number => p !== undefined);
    launcher.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => launcher.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(output()).toContain('all stopped.');
    for (const pid of [...pids, ...current]) expect(processAlive(pid), `pid ${pid} is gone`).toBe(false);
    expect((await cli(env, 'status')).stderr).toContain('[DEMO_ERR_NOT_RUNNING]');
  }, 90_000);

  it('leaves no process behind when the launcher itself is SIGKILLed', async () => {
    const { launcher } = await up(dir, env);
    const nodes = (JSON.parse((await cli(env, 'status', '--json')).stdout) as { nodes: NodeInfo[] }).nodes;
    const pids = nodes.map((n) => n.pid!);
    expect(pids.every((p) => processAlive(p))).toBe(true);
    launcher.kill('SIGKILL');
    // App children see their stdin pipe close; the watchdog kills memcached.
    await until('every child to exit', () => pids.every((p) => !processAlive(p)), 10_000);
  }, 90_000);
});
