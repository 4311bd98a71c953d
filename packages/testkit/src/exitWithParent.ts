import { spawn, type ChildProcess } from 'node:child_process';

/**
 * How a supervised process dies with the process that started it, even when that one is SIGKILLed
 * (a killed test worker, demo launcher or benchmark must leave no process behind):
 *
 * - A Node child gets a stdin pipe and this preload: when the pipe closes (the parent is gone), the
 *   child sends itself SIGTERM, so the app closes cleanly, and exits after `graceMs` regardless.
 * - Any other binary (memcached, nginx) cannot watch a pipe: one small detached watchdog per parent
 *   holds the pids; when its stdin pipe closes it SIGKILLs every listed process that still runs its
 *   recorded binary (a recycled pid is never hit).
 *
 * Both are passed as source (a data: URL, `node -e`), not as files: the same code serves the ESM and
 * the CommonJS build, from the workspace and from an installed package, with no path to resolve.
 */
export function exitWithParentPreload(graceMs = 3000): string {
  const source =
    `const leave = () => { setTimeout(() => process.exit(0), ${graceMs}).unref(); process.kill(process.pid, 'SIGTERM'); };` +
    `process.stdin.on('end', leave).on('error', leave).resume(); process.stdin.unref?.();`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

const WATCHDOG_SOURCE = `
const { readFileSync } = require('node:fs');
let pids = [];
let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  for (let nl = buffer.indexOf('\\n'); nl >= 0; nl = buffer.indexOf('\\n')) {
    try { pids = JSON.parse(buffer.slice(0, nl)).pids; } catch {}
    buffer = buffer.slice(nl + 1);
  }
});
const reap = () => {
  for (const { pid, binary } of pids) {
    try { if (readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\\0')[0] === binary) process.kill(pid, 'SIGKILL'); } catch {}
  }
  process.exit(0);
};
process.stdin.on('end', reap).on('error', reap);
`;

let watchdog: ChildProcess | undefined;
const watched = new Map<number, string>();

/** Hands `pid` (running `binary`) to this process's watchdog, started on first use. */
export function watchPid(pid: number, binary: string): void {
  watched.set(pid, binary);
  send();
}

/** Takes `pid` off the watchdog's list (it exited, or was stopped on purpose). */
export function unwatchPid(pid: number): void {
  if (watched.delete(pid)) send();
}

function send(): void {
  if (!watchdog) {
    if (watched.size === 0) return;
    // detached: its own process group, so a terminal's Ctrl-C does not end it before the parent.
    watchdog = spawn(process.execPath, ['-e', WATCHDOG_SOURCE], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    watchdog.on('error', () => {});
    watchdog.stdin!.on('error', () => {});
    // Neither the watchdog nor its pipe keeps this process alive.
    (watchdog.stdin as unknown as { unref?(): void }).unref?.();
    watchdog.unref();
  }
  const pids = [...watched].map(([pid, binary]) => ({ pid, binary }));
  if (watchdog.stdin!.writable) watchdog.stdin!.write(`${JSON.stringify({ pids })}\n`);
}
