// The load generator of the proxy benchmarks: wrk (Debian package `wrk`), one thread, as a child
// process. wrk is C with an event loop per thread: at -t1 -c50 it needs a fraction of a core for
// what costs a Node proxy a whole one, so on this 2-core machine the proxy being measured, not the
// load generator, is what runs out of CPU (autocannon in the benchmark's own process needed about as
// much CPU per request as the proxies it measured, which capped every fast target alike).
// Also: the CPU time one process (or nginx's master and worker) used, from /proc, for "µs of CPU per request".
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export const WRK_BINARY = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => existsSync(p));
/** util-linux's taskset, for pinning processes to cores (head-to-head rounds); undefined when missing. */
export const TASKSET_BINARY = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));

/** Whether processes can be pinned: taskset is there and there are at least two cores to split. */
export function canPin(): boolean {
  return TASKSET_BINARY !== undefined && availableParallelism() >= 2;
}

/**
 * Sets the CPU affinity of every thread of `pid` (`taskset -a -p -c <cpus> <pid>`), e.g. '1' or
 * '0-1'. Only for processes the benchmark started.
 */
export function pin(pid: number | undefined, cpus: string): void {
  if (pid === undefined || !TASKSET_BINARY) return;
  execFileSync(TASKSET_BINARY, ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** One wrk run. */
export interface LoadResult {
  requests: number;
  seconds: number;
  reqPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Responses with a status of 400 or more (wrk's "Non-2xx or 3xx responses"). */
  non2xx: number;
  /** Socket errors: connect, read, write and timeouts. */
  errors: number;
}

export type Load = (url: string, seconds: number, headers?: Record<string, string>) => Promise<LoadResult>;

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function ms(text: string | undefined): number | null {
  const m = text ? /^([\d.]+)(us|ms|s|m)$/.exec(text) : null;
  return m ? Math.round(Number(m[1]) * UNIT_MS[m[2]!]! * 100) / 100 : null;
}

/** Reads wrk's report (`--latency`). Throws with the output when it is not one. */
export function parseWrk(out: string): LoadResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  if (!total) throw new Error(`wrk: no "N requests in T" line in its output:\n${out}`);
  const requests = Number(total[1]);
  const seconds = (Number(total[2]) * UNIT_MS[total[3]!]!) / 1000;
  const pctLine = (p: string) => new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1];
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = sock ? sock.slice(1, 5).reduce((a, b) => a + Number(b), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { requests, seconds, reqPerSec: Math.round(requests / seconds), p50Ms: ms(pctLine('50')), p99Ms: ms(pctLine('99')), non2xx, errors };
}

/** A Load running `wrk -t<threads> -c<connections> -d<seconds>s --latency` (a 10 s request timeout); on the cores `cpus` when given (taskset). */
export function wrkLoad(connections: number, threads = 1, cpus?: string): Load {
  return (url, seconds, headers) => {
    if (!WRK_BINARY) return Promise.reject(new Error('wrk is not installed: apt-get install wrk (the proxy benchmarks use it as their load generator)'));
    const args = [`-t${threads}`, `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--timeout', '10s', '--latency'];
    for (const [k, v] of Object.entries(headers ?? {})) args.push('-H', `${k}: ${v}`);
    args.push(url);
    return new Promise((resolve, reject) => {
      const [file, argv] = cpus !== undefined && TASKSET_BINARY ? [TASKSET_BINARY, ['-c', cpus, WRK_BINARY, ...args]] : [WRK_BINARY, args];
      execFile(file, argv, { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`wrk ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        try {
          resolve(parseWrk(stdout));
        } catch (e) {
          reject(e as Error);
        }
      });
    });
  };
}

const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) `pid` and its child processes (nginx's worker) have used; 0 once gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // Fields after the command (which may hold spaces): utime and stime are the 12th and 13th.
    const rest = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ').pop()!.split(' ');
    let ticks = Number(rest[11]) + Number(rest[12]);
    let children: string[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean);
    } catch {
      // no children file (kernel without CONFIG_PROC_CHILDREN)
    }
    for (const c of children) ticks += cpuSeconds(Number(c)) * TICKS_PER_SECOND;
    return ticks / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The median of a list (the mean of the middle two for an even count); null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
