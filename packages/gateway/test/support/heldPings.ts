import { connect, type Socket } from 'node:net';

/** ActiveSync's base64 query (MS-ASHTTP 2.2.1.1.1.1) for a command code: version 14.1, one device. */
export function base64Query(commandCode: number, deviceId = 'dev1'): string {
  const id = Buffer.from(deviceId, 'latin1');
  const type = Buffer.from('SmartPhone', 'latin1');
  return encodeURIComponent(Buffer.concat([Buffer.from([141, commandCode, 9, 4, id.length]), id, Buffer.from([0, type.length]), type]).toString('base64'));
}

/** The request bytes of an ActiveSync POST with an empty body. */
export function activeSyncRequest(query: string, port: number): string {
  return `POST /Microsoft-Server-ActiveSync?${query} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 0\r\n\r\n`;
}

/** Pings held open on raw sockets (one socket each: the cheapest client there is). */
export interface HeldPings {
  /** Status of each answer that came back (0 when the socket closed without one). */
  readonly answers: number[];
  /** Sockets closed (by the peer or an error). */
  readonly closed: number;
  /** Closes every socket. */
  close(): void;
}

/**
 * Opens `n` connections to `port` and sends one Ping on each, `batch` connections at a time. With
 * `arrived` (how many the upstream holds), each batch waits until the previous one arrived (at most
 * 10 s): a burst of thousands of connections overflows the accept queue of a busy event loop, and
 * the kernel's SYN-ACK retries back off to tens of seconds.
 */
export async function holdPings(port: number, n: number, query: (i: number) => string, batch = 200, arrived?: () => number): Promise<HeldPings> {
  const sockets: Socket[] = [];
  const answers: number[] = [];
  let closed = 0;
  for (let i = 0; i < n; i += batch) {
    const started: Array<Promise<void>> = [];
    for (let j = i; j < Math.min(n, i + batch); j++) {
      const s = connect(port, '127.0.0.1');
      sockets.push(s);
      let got = false;
      s.on('data', (c: Buffer) => {
        if (got) return;
        got = true;
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(c.toString('latin1'));
        answers.push(m ? Number(m[1]) : 0);
      });
      s.on('error', () => undefined);
      s.on('close', () => {
        closed++;
        if (!got) answers.push(0);
        got = true;
      });
      started.push(new Promise((r) => s.once('connect', () => r()).once('error', () => r())));
      s.write(activeSyncRequest(query(j), port));
    }
    await Promise.all(started);
    if (arrived) {
      const want = Math.min(n, i + batch);
      const deadline = Date.now() + 10_000;
      while (arrived() < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    }
  }
  return {
    answers,
    get closed() {
      return closed;
    },
    close() {
      for (const s of sockets) s.destroy();
    },
  };
}
