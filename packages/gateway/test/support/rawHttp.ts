import { connect } from 'node:net';

/** What came back on a raw connection. */
export interface RawResponse {
  /** Status of the first response, 0 when the connection closed without one. */
  status: number;
  /** Everything received. */
  text: string;
  /** The connection was closed by the server (vs. our deadline). */
  closed: boolean;
  ms: number;
}

/**
 * Sends `bytes` on a fresh TCP connection (a crafted request fetch and undici would refuse to
 * send) and collects what comes back until the server closes or `waitMs` passes.
 */
export function rawRequest(port: number, bytes: string | Buffer | Array<string | Buffer>, waitMs = 2000, host = '127.0.0.1'): Promise<RawResponse> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect(port, host);
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text, closed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    for (const b of Array.isArray(bytes) ? bytes : [bytes]) s.write(b);
  });
}
