import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HashRing } from '../src/index.js';

const pkgDir = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { bin: Record<string, string>; version: string };
const cli = join(pkgDir, pkg.bin['webtier-ring']!);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (as its shebang does, no `node` in front), feeding `input` to stdin. */
function run(args: string[], input = ''): Promise<Run> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx turbo run build --filter=@webtier/hash-ring)`);
  return new Promise((resolve, reject) => {
    const child = spawn(cli, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

const servers = ['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11300'];
const ring = new HashRing(servers);

describe('webtier-ring CLI (built dist/esm/cli.js)', () => {
  it('is an executable file with a node shebang, as the "bin" entry needs', () => {
    expect(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(() => accessSync(cli, constants.X_OK)).not.toThrow();
  });

  it('prints each key and the node it maps to, in argument order', async () => {
    const keys = ['sess:abc', 'sess:def', 'user:42', 'ünïcödé'];
    const r = await run(['--servers', servers.join(','), ...keys]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(keys.map((k) => `${k}\t${ring.get(k)}\n`).join(''));
  });

  it('--replicas N prints the preference list, primary first; --json prints one object per line', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `sess:${i}`);
    const text = await run(['-s', servers.join(','), '--replicas', '2', ...keys]);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(keys.map((k) => `${k}\t${ring.nodesFor(k, 2).join('\t')}\n`).join(''));
    const json = await run(['--servers', servers.join(','), '-r', '3', '--json', ...keys]);
    expect(json.code).toBe(0);
    const lines = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { key: string; nodes: string[] });
    expect(lines).toEqual(keys.map((key) => ({ key, nodes: ring.nodesFor(key, 3) })));
  });

  it('takes weights and IPv6 in --servers (host:port:weight, [v6]:port:weight)', async () => {
    const weighted = new HashRing([
      { host: 'a', port: 11211, weight: 1 },
      { host: 'b', port: 11212, weight: 3 },
      { host: '::1', port: 11300, weight: 2 },
      { host: 'c', port: 11211, weight: 1 },
    ]);
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    const r = await run(['--servers', 'a:11211:1,b:11212:3,[::1]:11300:2,c', ...keys]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(keys.map((k) => `${k}\t${weighted.get(k)}\n`).join(''));
  });

  it('reads keys from stdin, one per line, when none are given (CRLF and blank lines tolerated)', async () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `sess:${(i * 2654435761).toString(16)}`);
    const input = keys.map((k, i) => (i % 7 === 0 ? `${k}\r\n\n` : `${k}\n`)).join('');
    const r = await run(['--servers', servers.join(',')], input);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(keys.map((k) => `${k}\t${ring.get(k)}\n`).join(''));
  });

  it('--help prints usage to stdout, --version the package version; both exit 0', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: webtier-ring --servers/);
    expect(help.stdout).toMatch(/--replicas/);
    const version = await run(['-v']);
    expect(version).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it.each<[string, string[], RegExp]>([
    ['no --servers', ['k'], /--servers is required/],
    ['empty --servers', ['--servers', '', 'k'], /--servers is empty/],
    ['stray comma', ['--servers', 'a,,b', 'k'], /--servers\[1\]: empty entry in "a,,b"/],
    ['bad port', ['--servers', 'a:11211,a:11a11', 'k'], /--servers\[1\]: port "11a11" in "a:11a11" is not a number/],
    ['port out of range', ['--servers', 'a:70000', 'k'], /--servers\[0\]: port 70000 in "a:70000" is out of range/],
    ['bad weight', ['--servers', 'a:11211:x', 'k'], /--servers\[0\]: weight "x" in "a:11211:x" is not a positive integer/],
    ['weight 0', ['--servers', 'a:11211:0', 'k'], /--servers\[0\]: weight "0"/],
    ['duplicate', ['--servers', 'a,b,a:11211', 'k'], /--servers\[2\]: "a:11211" is listed twice \(also --servers\[0\]\)/],
    ['unbracketed IPv6', ['--servers', 'fe80::1', 'k'], /--servers\[0\]: "fe80::1" has more than one ":"; write an IPv6 host in brackets/],
    ['bad --replicas', ['--servers', 'a', '--replicas', '0', 'k'], /--replicas "0" is not an integer >= 1/],
    ['non-numeric --replicas', ['--servers', 'a', '--replicas', 'two', 'k'], /--replicas "two"/],
    ['unknown flag', ['--servers', 'a', '--bogus', 'k'], /Unknown option '--bogus'/],
    ['flag missing its value', ['--servers'], /--servers <value>' argument missing/],
  ])('%s: a clear error on stderr, exit code 2, nothing on stdout', async (_name, args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^webtier-ring: /);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/Run "webtier-ring --help" for usage/);
  });
});
