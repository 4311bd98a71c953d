import cluster from 'node:cluster';
import pino from 'pino';

/** The destination createGateway logs to: pino's own SonicBoom, written in batches. */
export interface LogDestination {
  readonly stream: pino.DestinationStream & { write(line: string): unknown };
  /** Writes what is buffered; later lines are written at once (a final "stopped" line is never lost). */
  close(): void;
}

type Boom = ReturnType<typeof pino.destination> & { minLength: number };

// One process 'exit' hook for every open destination (a per-instance listener leaked one per gateway).
const open = new Set<Boom>();
let exitHook = false;

/**
 * stdout through pino.destination, batched: one synchronous write per access-log line cost about a
 * quarter of the proxy's throughput, so lines gather up to 16 KiB (`minLength`, 2 KiB in a worker) and a 100 ms timer
 * writes the rest when traffic is light. `sync: true` on purpose: sonic-boom 4's flushSync (which
 * pino calls on exit for `sync: false`) retries EPIPE forever, so a gateway whose log reader died
 * (the demo launcher SIGKILLed) never exited; synchronous writes report EPIPE as an error, which pino
 * turns into a no-op stream.
 */
export function createLogDestination(): LogDestination {
  // A write to a pipe is atomic only up to PIPE_BUF (4096 bytes on Linux). The CLI's workers share
  // one stdout, so a worker writes whole lines in pieces of at most 4 KiB (sonic-boom splits its
  // buffer at write boundaries, one line each); one process alone keeps bigger writes.
  // One process alone gathers 16 KiB (issue 15: a write(2) per 4 KiB, about 14 access lines, was still
  // about 1 % of its CPU per request); the 100 ms timer bounds how late a line appears either way.
  const stream = (cluster.isWorker ? pino.destination({ dest: 1, minLength: 2048, maxWrite: 4096, sync: true }) : pino.destination({ dest: 1, minLength: 16_384, maxWrite: 65_536, sync: true })) as Boom;
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
      stream.minLength = 0;
    },
  };
}
