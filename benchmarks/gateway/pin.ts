// CPU pinning for the proxy benchmark: the proxy under test on a core of its own, the load generator
// and the upstream on the other. Unpinned, the scheduler moved the three processes between the two
// cores from moment to moment, and two copies of the same proxy measured side by side differed by up
// to a fifth in CPU per request; pinned, by about 5 %.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));

/** Why pinning is not possible here, or undefined when it is (taskset, two CPUs or more). */
export function cannotPin(): string | undefined {
  if (availableParallelism() < 2) return `only ${availableParallelism()} CPU: nothing to pin apart`;
  if (!TASKSET) return 'taskset is not installed (Debian: util-linux)';
  return undefined;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Pins every thread of `pid`, and of its child processes (nginx's worker), to `cpu`. */
export function pinToCpu(pid: number | undefined, cpu: number): void {
  if (pid === undefined || !TASKSET) return;
  execFileSync(TASKSET, ['--all-tasks', '--cpu-list', '--pid', String(cpu), String(pid)], { stdio: 'ignore' });
  for (const child of childrenOf(pid)) pinToCpu(child, cpu);
}
