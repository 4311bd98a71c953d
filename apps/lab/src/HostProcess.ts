import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { inNetns } from './Command.js';
import { LabError, LabErrorCodes } from './errors.js';
import type { LabProcess, LabState } from './LabState.js';
import { findHost } from './LabTopology.js';
import { pidAlive, waitGone } from './Network.js';

/**
 * Starts a recorded process inside its host's namespace (`ip netns exec`, which execs the command:
 * the pid is the process itself). Detached and unreferenced: a lab brought up by the CLI outlives
 * it; `down` kills every process in the lab's namespaces by pid.
 */
export function spawnProcess(state: LabState, p: LabProcess): number {
  const host = findHost(state.data.topology, p.host);
  const fd = openSync(p.logFile, 'a');
  const child = spawn('ip', ['netns', 'exec', host.ns, ...p.argv], { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...p.env } });
  closeSync(fd);
  child.on('error', () => {});
  const pid = child.pid;
  if (pid) {
    ours.add(pid);
    child.once('exit', () => ours.delete(pid));
  }
  child.unref();
  if (!child.pid) throw new LabError(LabErrorCodes.START_FAILED, `${p.host}/${p.name}: could not spawn \`ip netns exec ${host.ns} ${p.argv.join(' ')}\``);
  p.pid = child.pid;
  p.state = 'running';
  state.save();
  return child.pid;
}

/** Children of this process that have not exited yet: their pids cannot have been recycled. */
const ours = new Set<number>();

/** Whether a recorded process still runs its recorded command (a recycled pid is never signalled). */
export function processRuns(p: LabProcess): boolean {
  if (!p.pid || !pidAlive(p.pid)) return false;
  // Our own child: alive until its exit event (its /proc cmdline is empty or still `ip netns exec`
  // for a moment while it execs, which read as "exited during start" on a loaded machine).
  if (ours.has(p.pid)) return true;
  try {
    const cmd = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0');
    return cmd[0] === p.argv[0] || cmd.includes(p.argv[1] ?? '\0');
  } catch {
    return false;
  }
}

export function signalProcess(p: LabProcess, signal: NodeJS.Signals): boolean {
  if (!processRuns(p)) return false;
  try {
    process.kill(p.pid!, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL (after SIGCONT, so a frozen process can die) and wait until it is gone. */
export async function killProcess(state: LabState, p: LabProcess): Promise<void> {
  if (p.pid && processRuns(p)) {
    signalProcess(p, 'SIGCONT');
    signalProcess(p, 'SIGKILL');
    await waitGone([p.pid], 5000);
  }
  p.state = 'killed';
  p.pid = null;
  state.save();
}

/** SIGTERM (planned maintenance: the gateway drains), SIGKILL after graceMs; waits until it is gone. */
export async function stopProcess(state: LabState, p: LabProcess, graceMs = 10_000): Promise<void> {
  if (p.pid && processRuns(p)) {
    signalProcess(p, 'SIGCONT');
    signalProcess(p, 'SIGTERM');
    if (!(await waitGone([p.pid], graceMs))) {
      signalProcess(p, 'SIGKILL');
      await waitGone([p.pid], 5000);
    }
  }
  p.state = 'killed';
  p.pid = null;
  state.save();
}

/** One readiness probe from inside the host's own namespace. */
export async function probeOnce(state: LabState, p: LabProcess): Promise<boolean> {
  if (!p.probe) return true;
  const ns = findHost(state.data.topology, p.host).ns;
  if (p.probe.kind === 'http') return (await inNetns(ns, 'curl', ['-fsS', '-o', '/dev/null', '--max-time', '1', p.probe.target], 3000)).status === 0;
  const [ip, port] = p.probe.target.split(':');
  const r = await inNetns(ns, 'bash', ['-c', `exec 3<>/dev/tcp/${ip}/${port} && printf 'version\\r\\n' >&3 && head -c 7 <&3`], 3000);
  return r.stdout.startsWith('VERSION');
}

/** Polls the probe until it passes; throws with the log's tail when the process exits or time runs out. */
export async function waitReady(state: LabState, p: LabProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!processRuns(p)) throw new LabError(LabErrorCodes.START_FAILED, `${p.host}/${p.name} exited during start; its log (${p.logFile}):\n${tail(p.logFile)}`);
    if (await probeOnce(state, p)) return;
    if (Date.now() > deadline) throw new LabError(LabErrorCodes.START_FAILED, `${p.host}/${p.name} did not pass its probe (${p.probe?.target}) within ${timeoutMs} ms; its log (${p.logFile}):\n${tail(p.logFile)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
