import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Descriptors kept aside for the process itself (listeners, logs, health checks, the admin API). */
const RESERVED_DESCRIPTORS = 100;

/** The open-file limit of this process after raiseFileLimit(). */
export interface FileLimitReport {
  /** Soft RLIMIT_NOFILE now in force. */
  soft: number;
  hard: number;
  /** The soft limit was raised by this call. */
  raised: boolean;
  /** Proxied connections the process can hold at once: two sockets each (client and upstream). */
  connections: number;
  /** One line for the log: the limit, how many connections it allows, and what to do if it is low. */
  message: string;
}

/** Soft and hard RLIMIT_NOFILE of this process from /proc/self/limits (Linux); undefined elsewhere. */
export function readFileLimit(): { soft: number; hard: number } | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'latin1')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const m = line && /Max open files\s+(\S+)\s+(\S+)/.exec(line);
    if (!m) return undefined;
    const n = (s: string) => (s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
    return { soft: n(m[1]!), hard: n(m[2]!) };
  } catch {
    return undefined;
  }
}

let done: FileLimitReport | undefined;

/**
 * Raises this process's soft RLIMIT_NOFILE to its hard limit, once per process. Node has no
 * setrlimit, so this runs util-linux's `prlimit --pid <own pid>`; every failure is soft (the report
 * says how many connections the current limit allows and how to raise it). Each held long poll
 * costs two descriptors, so 10,000 Pings need a limit above 20,000.
 */
export function raiseFileLimit(): FileLimitReport {
  if (done) return done;
  const before = readFileLimit();
  if (!before) return (done = report(undefined, false, 'the open-file limit could not be read (/proc/self/limits)'));
  let raised = false;
  let why = '';
  if (before.soft < before.hard) {
    // "unlimited" hard limits are capped by the kernel's nr_open.
    const target = before.hard === Number.MAX_SAFE_INTEGER ? nrOpen() : before.hard;
    try {
      execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${target}:${before.hard === Number.MAX_SAFE_INTEGER ? 'unlimited' : target}`], { stdio: 'ignore', timeout: 5000 });
      raised = true;
    } catch (err) {
      why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'prlimit (util-linux) is not installed' : `prlimit failed: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  return (done = report(readFileLimit() ?? before, raised, why));
}

function nrOpen(): number {
  try {
    return Number(readFileSync('/proc/sys/fs/nr_open', 'latin1').trim()) || 1_048_576;
  } catch {
    return 1_048_576;
  }
}

function report(limit: { soft: number; hard: number } | undefined, raised: boolean, why: string): FileLimitReport {
  if (!limit) return { soft: 0, hard: 0, raised: false, connections: 0, message: `${why}; raise it with LimitNOFILE= (systemd) or ulimit -n: each proxied connection takes two descriptors` };
  const connections = Math.max(0, Math.floor((limit.soft - RESERVED_DESCRIPTORS) / 2));
  const head = `open-file limit ${limit.soft} (hard ${limit.hard === Number.MAX_SAFE_INTEGER ? 'unlimited' : limit.hard})${raised ? ', raised to the hard limit' : ''}: room for about ${connections} proxied connections (long polls included; two descriptors each)`;
  const tail = limit.soft < limit.hard ? `; could not raise it (${why || 'unknown reason'}): set LimitNOFILE= in the systemd unit or ulimit -n` : limit.soft < 20_000 ? '; raise the hard limit (LimitNOFILE= in the systemd unit, ulimit -Hn) to hold more' : '';
  return { soft: limit.soft, hard: limit.hard, raised, connections, message: head + tail };
}
