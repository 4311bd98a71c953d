import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { httpReady, httpStatus, outputReady, processAlive, SupervisedProcess, TestkitErrorCodes, freePort, type SupervisedProcessOptions } from '@webtier/testkit';

const dir = mkdtempSync(join(tmpdir(), 'testkit-supervisor-'));
const started: SupervisedProcess[] = [];
afterAll(async () => {
  await Promise.allSettled(started.map((p) => p.kill()));
  rmSync(dir, { recursive: true, force: true });
});

/** A Node child running `source`. */
function nodeChild(name: string, source: string, extra: Partial<SupervisedProcessOptions> = {}): SupervisedProcess {
  const p = new SupervisedProcess({ name, command: process.execPath, args: ['-e', source], readyTimeoutMs: 5000, ...extra });
  started.push(p);
  return p;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

const SERVER = (port: number) => `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1', () => console.log('listening ${port}'))`;

describe('SupervisedProcess: start fails with the output, never hangs', () => {
  const cases = [
    { name: 'exits during start', source: `console.error('bad config: port "x"'); process.exit(3)`, ready: outputReady(/never/), message: /exited during start \(exit code 3[\s\S]*bad config: port "x"/ },
    { name: 'never gets ready', source: `console.log('still booting'); setInterval(() => {}, 1000)`, ready: outputReady(/never/), readyTimeoutMs: 600, message: /was not ready within 600 ms[\s\S]*still booting/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const p = nodeChild(c.name, c.source, { ready: c.ready, ...(c.readyTimeoutMs ? { readyTimeoutMs: c.readyTimeoutMs } : {}) });
      const err = await p.start().then(() => undefined, (e: Error & { code?: string }) => e);
      expect(err?.code).toBe(TestkitErrorCodes.START_FAILED);
      expect(err?.message).toMatch(c.message);
      expect(p.alive).toBe(false);
    });
  }

  it('a missing binary is a clear error', async () => {
    const p = new SupervisedProcess({ name: 'ghost', command: join(dir, 'no-such-binary'), ready: () => true });
    await expect(p.start()).rejects.toMatchObject({ code: TestkitErrorCodes.START_FAILED, message: expect.stringMatching(/could not be spawned: .*ENOENT/) });
  });
});

describe('SupervisedProcess: a real HTTP child', () => {
  it('ready on its URL; freeze stops answers, thaw brings them back; kill is visible, restart serves again', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const logFile = join(dir, 'http.log');
    const p = nodeChild('http', SERVER(port), { ready: httpReady(url), logFile });
    let crashes = 0;
    p.on('crash', () => crashes++);
    await p.start();
    expect(p.state).toBe('running');
    expect(await httpStatus(url)).toBe(200);
    p.freeze();
    expect(p.state).toBe('frozen');
    expect(await httpStatus(url, { timeoutMs: 300 })).toBe(0);
    p.thaw();
    expect(await httpStatus(url)).toBe(200);
    const pid = p.pid!;
    await p.kill();
    expect(p.state).toBe('killed');
    expect(processAlive(pid)).toBe(false);
    expect(crashes).toBe(0);
    await p.restart();
    expect(await httpStatus(url)).toBe(200);
    expect(readFileSync(logFile, 'utf8')).toMatch(new RegExp(`listening ${port}[\\s\\S]*listening ${port}`));
    await p.stop();
    expect(p.state).toBe('stopped');
  });

  it('an exit nobody asked for is reported (state crashed, crash event with the tail)', async () => {
    const p = nodeChild('crasher', `console.log('up'); setTimeout(() => { console.error('out of memory'); process.exit(7); }, 200)`, { ready: outputReady(/up/) });
    const crash = new Promise<{ code: number | null; tail: string }>((resolve) => p.once('crash', resolve));
    await p.start();
    const report = await crash;
    expect(report.code).toBe(7);
    expect(report.tail).toMatch(/out of memory/);
    expect(p.state).toBe('crashed');
  });

  it('stop: SIGTERM first (the child closes cleanly), SIGKILL after the grace period', async () => {
    const graceful = nodeChild('graceful', `process.on('SIGTERM', () => { console.log('draining'); process.exit(0); }); console.log('up'); setInterval(() => {}, 1000)`, { ready: outputReady(/up/) });
    await graceful.start();
    await graceful.stop();
    expect(graceful.output()).toMatch(/draining/);
    expect((await graceful.exited).code).toBe(0);
    const stubborn = nodeChild('stubborn', `process.on('SIGTERM', () => console.log('ignoring')); console.log('up'); setInterval(() => {}, 1000)`, { ready: outputReady(/up/) });
    await stubborn.start();
    const t0 = Date.now();
    await stubborn.stop(300);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect((await stubborn.exited).signal).toBe('SIGKILL');
  });
});

describe('SupervisedProcess: exit with the parent, even when the parent is SIGKILLed', () => {
  // The parent is a Node process that supervises one Node child and one non-Node child (sleep),
  // prints their pids, and is then SIGKILLed: both must go (the Node child by its stdin pipe, sleep
  // by the watchdog).
  it('a Node child and a non-Node child both end', async () => {
    const testkit = new URL('../dist/esm/index.js', import.meta.url).href;
    const parentSource = `
      const { SupervisedProcess, outputReady } = await import(${JSON.stringify(testkit)});
      const node = new SupervisedProcess({ name: 'node', command: process.execPath, args: ['-e', "console.log('up'); setInterval(() => {}, 1000)"], ready: outputReady(/up/) });
      const sleep = new SupervisedProcess({ name: 'sleep', command: '/bin/sleep', args: ['60'] });
      await node.start(); await sleep.start();
      console.log(JSON.stringify({ node: node.pid, sleep: sleep.pid }));
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', parentSource], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pids = await new Promise<{ node: number; sleep: number }>((resolve, reject) => {
      let out = '';
      parent.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const line = /\{.*\}/.exec(out);
        if (line) resolve(JSON.parse(line[0]) as { node: number; sleep: number });
      });
      parent.once('exit', (code) => reject(new Error(`the parent exited with ${code} before printing pids: ${out}`)));
    });
    expect(processAlive(pids.node)).toBe(true);
    expect(processAlive(pids.sleep)).toBe(true);
    parent.kill('SIGKILL');
    expect(await waitGone(pids.node, 6000)).toBe(true);
    expect(await waitGone(pids.sleep, 6000)).toBe(true);
  });
});
