import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeActiveSyncBase64Query } from '../../src/cluster/hashKey.js';

/** An ActiveSync-like upstream: holds every `Cmd=Ping` until released or closed, answers everything else at once. */
export interface ActiveSyncUpstream {
  readonly url: string;
  /** Pings held right now. */
  readonly held: number;
  /** Requests seen, by command. */
  readonly seen: Map<string, number>;
  /** Answers every held Ping (200, `{"Status":1}`, heartbeat expired). */
  releasePings(): void;
  close(): Promise<void>;
}

/** The command of an ActiveSync request in either MS-ASHTTP query form. */
export function commandOf(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return '';
  const raw = url.slice(q + 1);
  const plain = /(?:^|&)cmd=([^&]*)/i.exec(raw);
  if (plain) return decodeURIComponent(plain[1]!);
  return decodeActiveSyncBase64Query(raw)?.['Cmd'] ?? '';
}

/**
 * Starts the upstream on 127.0.0.1:0 with the server limits a Ping host needs: no request timeout
 * (the Ping waits), keep-alive above the heartbeat, no connection cap.
 */
export async function startActiveSyncUpstream(): Promise<ActiveSyncUpstream> {
  const pings = new Set<ServerResponse>();
  const seen = new Map<string, number>();
  const answer = (res: ServerResponse) => {
    pings.delete(res);
    if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/json' }).end('{"Status":1}');
  };
  const server = createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 3_700_000 }, (req: IncomingMessage, res: ServerResponse) => {
    const cmd = commandOf(req.url ?? '');
    seen.set(cmd, (seen.get(cmd) ?? 0) + 1);
    req.resume();
    req.on('end', () => {
      if (cmd.toLowerCase() !== 'ping') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Status: 1, Cmd: cmd }));
        return;
      }
      pings.add(res);
      res.once('close', () => pings.delete(res));
    });
  });
  server.maxHeadersCount = 200;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get held() {
      return pings.size;
    },
    seen,
    releasePings() {
      for (const res of [...pings]) answer(res);
    },
    async close() {
      for (const res of [...pings]) answer(res);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
