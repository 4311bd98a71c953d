import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every process the harness starts is tracked twice: in memory, so that an exiting Node process
 * SIGKILLs what it started, and as a pid file under `$WEBTIER_PID_DIR` (set by the test runner's
 * global setup), so that a worker that itself died cannot leave a process behind.
 */
const live = new Set<ChildProcess>();
let hooked = false;

function pidDir(): string | undefined {
  return process.env['WEBTIER_PID_DIR'];
}

export function track(child: ChildProcess): void {
  live.add(child);
  const dir = pidDir();
  if (dir && child.pid) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, String(child.pid)), String(child.spawnfile));
  }
  child.once('exit', () => untrack(child));
  if (!hooked) {
    hooked = true;
    process.once('exit', killAllTracked);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        killAllTracked();
        process.kill(process.pid, signal);
      });
    }
  }
}

export function untrack(child: ChildProcess): void {
  live.delete(child);
  const dir = pidDir();
  if (dir && child.pid) rmSync(join(dir, String(child.pid)), { force: true });
}

/** SIGKILLs every process this Node process started and has not yet seen exit. */
export function killAllTracked(): void {
  for (const child of live) {
    try {
      if (child.pid) process.kill(child.pid, 'SIGCONT');
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/**
 * Kills processes recorded under `dir` whose command line still names the binary recorded for them
 * (so a recycled pid is never hit). Returns the pids it killed. Used by global teardown.
 */
export function reapPidDir(dir: string): number[] {
  const killed: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return killed;
  }
  for (const name of entries) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const binary = readFileSync(join(dir, name), 'utf8');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.split('\0')[0] === binary) {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
      }
    } catch {
      // the process is gone already
    }
    rmSync(join(dir, name), { force: true });
  }
  return killed;
}

/** Whether a process with this pid exists (signal 0); for tests that check nothing is left behind. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
