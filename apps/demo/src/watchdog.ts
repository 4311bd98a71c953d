import { readFileSync } from 'node:fs';

/**
 * A tiny detached process that outlives the launcher only to clean up after it: the launcher sends
 * it the memcached pids (one JSON line per change) over a stdin pipe; when the pipe closes, the
 * launcher is gone, cleanly or not (SIGKILL), and every listed process still running its recorded
 * binary (a recycled pid is never hit) is SIGKILLed. App children do not need it: they watch their
 * own stdin pipe (exitWithParent.ts).
 */
let pids: Array<{ pid: number; binary: string }> = [];
let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffer += chunk;
  for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    try {
      pids = (JSON.parse(line) as { pids: typeof pids }).pids;
    } catch {
      // a torn line: the next update replaces it
    }
  }
});
const reap = () => {
  for (const { pid, binary } of pids) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === binary) process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  process.exit(0);
};
process.stdin.on('end', reap).on('error', reap);
