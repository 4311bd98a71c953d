/**
 * A pino destination that batches lines into one stdout write per event-loop turn (or per 64 KiB).
 * One synchronous write per access-log line cost about a quarter of the proxy's throughput; batching
 * keeps the line-per-request log at a few percent. Lines are flushed on process exit (stdout to a
 * file or pipe is synchronous on POSIX), so nothing logged before exit is lost.
 */
import cluster from 'node:cluster';

const open = new Set<LogStream>();
/**
 * A write to a pipe is atomic only up to PIPE_BUF (4096 bytes on Linux). The CLI's workers share
 * one stdout: above that, lines of two workers could interleave, so a worker writes whole lines in
 * pieces of at most 4 KiB. One process alone keeps the 64 KiB writes.
 */
const MAX_WRITE_BYTES = cluster.isWorker ? 4096 : Infinity;
let exitHook = false;

export class LogStream {
  private buffer = '';
  private scheduled = false;
  private readonly flushBound = () => this.flush();

  constructor(private readonly out: { write(chunk: string | Buffer): unknown } = process.stdout) {
    open.add(this);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const s of open) s.flush();
      });
    }
  }

  /** Flushes now; lines written later (a final "stopped" line) still flush on the next turn or at exit. */
  close(): void {
    this.flush();
  }

  write(line: string): void {
    this.buffer += line;
    if (this.buffer.length >= 65_536) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.buffer === '') return;
    const chunk = this.buffer;
    this.buffer = '';
    if (chunk.length * 3 <= MAX_WRITE_BYTES) {
      this.out.write(chunk);
      return;
    }
    const bytes = Buffer.from(chunk);
    for (let start = 0; start < bytes.length; ) {
      let end = Math.min(start + MAX_WRITE_BYTES, bytes.length);
      if (end < bytes.length) {
        const nl = bytes.lastIndexOf(10, end - 1);
        if (nl >= start) end = nl + 1;
      }
      this.out.write(bytes.subarray(start, end));
      start = end;
    }
  }
}
