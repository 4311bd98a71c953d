import cluster from 'node:cluster';
import pino from 'pino';

/** The destination createGateway logs to: pino's own SonicBoom, with access lines written in batches. */
export interface LogDestination {
  readonly stream: BatchingStream;
  /** Writes what is buffered; later lines are written at once (a final "stopped" line is never lost). */
  close(): void;
}

type Boom = ReturnType<typeof pino.destination> & { minLength: number };

/**
 * pino's stream with a batch of access lines in front of it. One synchronous write per access line
 * cost about a quarter of the proxy's throughput, so access lines (`append`) gather into one string
 * that goes to the SonicBoom at `maxChars` or on `flush()` (the 100 ms timer). Why not SonicBoom's
 * own `minLength`: its write() measures the UTF-8 length of the whole pending buffer on every line
 * (`Buffer.byteLength(bufs[last])`, flattening it), which made the access log ~4 % of the gateway's
 * CPU per proxied request with a 16 KiB batch (issue 15, perf profile); here the batch is measured
 * once, when it is written. pino's own lines (`write`) go out at once, after the batch before them,
 * so lines stay in order.
 */
export class BatchingStream {
  private pending = '';

  constructor(
    private readonly boom: Boom,
    /** Batch size in UTF-16 units. */
    private readonly maxChars: number,
  ) {}

  /** A line from pino: written now, after the batched lines before it. */
  write(line: string): boolean {
    if (this.pending.length > 0) this.drain();
    return this.boom.write(line);
  }

  /** An access line: joins the batch. */
  append(line: string): void {
    if (this.pending.length > 0 && this.pending.length + line.length > this.maxChars) this.drain();
    this.pending += line;
  }

  /** Writes the batch and whatever SonicBoom holds. */
  flush(): void {
    if (this.pending.length > 0) this.drain();
    this.boom.flush();
  }

  flushSync(): void {
    this.flush();
  }

  private drain(): void {
    const batch = this.pending;
    this.pending = '';
    this.boom.write(batch);
  }
}

// One process 'exit' hook for every open destination (a per-instance listener leaked one per gateway).
const open = new Set<BatchingStream>();
let exitHook = false;

/**
 * stdout through pino.destination, access lines batched (BatchingStream) and the rest when a 100 ms
 * timer fires or the batch is full. `sync: true` on purpose: sonic-boom 4's flushSync (which pino
 * calls on exit for `sync: false`) retries EPIPE forever, so a gateway whose log reader died (the
 * demo launcher SIGKILLed) never exited; synchronous writes report EPIPE as an error, which pino
 * turns into a no-op stream.
 */
export function createLogDestination(): LogDestination {
  // A write to a pipe is atomic only up to PIPE_BUF (4096 bytes on Linux). The CLI's workers share
  // one stdout, so a worker's batch stays under 4 KiB whatever its characters (1300 UTF-16 units are
  // at most 3900 UTF-8 bytes) and SonicBoom writes at most 4 KiB at once, whole lines each; one
  // process alone writes 16 K-unit batches.
  const boom = (cluster.isWorker ? pino.destination({ dest: 1, maxWrite: 4096, sync: true }) : pino.destination({ dest: 1, maxWrite: 65_536, sync: true })) as Boom;
  const stream = new BatchingStream(boom, cluster.isWorker ? 1300 : 16_384);
  const timer = setInterval(() => stream.flush(), 100);
  timer.unref();
  open.add(stream);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const s of open) s.flush();
    });
  }
  return {
    stream,
    close() {
      clearInterval(timer);
      open.delete(stream);
      stream.flush();
    },
  };
}
