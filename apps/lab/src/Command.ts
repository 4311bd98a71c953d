import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { LabError, LabErrorCodes } from './errors.js';

/** Debian packages that provide each tool the lab runs (for the error message and CI). */
const PACKAGE_OF: Record<string, string> = { ip: 'iproute2', iptables: 'iptables', curl: 'curl', keepalived: 'keepalived' };
const SEARCH = ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/local/bin'];

/** The absolute path of a tool, or undefined. */
export function which(tool: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter(Boolean), ...SEARCH];
  return dirs.map((d) => `${d}/${tool}`).find((p) => existsSync(p));
}

/**
 * Refuses clearly when the lab cannot work here: namespaces, veths and iptables need root, and the
 * tools come from Debian packages (iproute2, iptables, curl for the in-namespace probes).
 */
export function checkPrerequisites(tools: readonly string[] = ['ip', 'iptables', 'curl']): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new LabError(LabErrorCodes.NOT_ROOT, 'the lab creates network namespaces, veths, a bridge and iptables rules: run it as root (e.g. `sudo npm run lab -- up`)');
  }
  const missing = tools.filter((t) => !which(t));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => PACKAGE_OF[t] ?? t))];
    throw new LabError(LabErrorCodes.MISSING_TOOL, `${missing.join(', ')} not found in $PATH: install the Debian package(s) ${pkgs.join(' ')} (apt-get install -y ${pkgs.join(' ')})`);
  }
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion; never throws (status -1 when it could not start or timed out).
 * Asynchronous on purpose: a benchmark applies faults while its load loop runs in the same process.
 */
export function tryRun(cmd: string, args: readonly string[], timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, [...args], { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const status = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ status, stdout: stdout ?? '', stderr: `${stderr ?? ''}${err && status === -1 ? err.message : ''}` });
    });
  });
}

/** Runs a command; throws LAB_ERR_COMMAND_FAILED with the command line and its stderr when it fails. */
export async function run(cmd: string, args: readonly string[], timeoutMs?: number): Promise<string> {
  const r = await tryRun(cmd, args, timeoutMs);
  if (r.status !== 0) throw new LabError(LabErrorCodes.COMMAND_FAILED, `\`${cmd} ${args.join(' ')}\` failed (exit ${r.status}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** `ip netns exec <ns> <cmd...>` to completion. */
export function inNetns(ns: string, cmd: string, args: readonly string[], timeoutMs?: number): Promise<RunResult> {
  return tryRun('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs);
}
