import { connect, type Socket } from 'node:net';
import { SessionStoreError, SessionStoreErrorCodes } from './errors.js';

/** One key as `lru_crawler metadump` lists it. */
export interface DumpedKey {
  readonly key: string;
  /** Unix seconds at which the item expires, or -1 when it never does. */
  readonly exp: number;
  readonly size: number;
}

export interface MetaDumpOptions {
  host: string;
  port: number;
  /** Only keys starting with this prefix are returned. */
  prefix: string;
  /** The dump fails when the node sends nothing for this long (a frozen node). */
  idleTimeoutMs: number;
  /** Sockets are registered here while open, so the store's close() can destroy them. */
  sockets: Set<Socket>;
  /** Attempts when the crawler is busy with another dump. @default 20 */
  busyRetries?: number;
}

/**
 * Lists a node's keys with the text protocol's `lru_crawler metadump all` (memjs speaks the binary
 * protocol, which has no such command). Lines look like
 * `key=sess%3Aabc exp=1767225600 la=1767139200 cas=42 fetch=no cls=1 size=96` and end with `END`.
 */
export async function metaDump(o: MetaDumpOptions): Promise<DumpedKey[]> {
  const retries = o.busyRetries ?? 20;
  // `hash` walks the hash table (memcached 1.6+); `all` walks the LRUs and misses items that the LRU
  // maintainer moves while the crawler passes, so it is only the fallback for older servers.
  let target: 'hash' | 'all' = 'hash';
  for (let attempt = 0; ; attempt++) {
    const result = await dumpOnce(o, target).catch((err: unknown) => {
      if (target === 'hash' && err instanceof SessionStoreError && err.details['refused'] === true) {
        target = 'all';
        return 'busy' as const;
      }
      throw err;
    });
    if (result !== 'busy') return result;
    if (attempt >= retries) {
      throw new SessionStoreError(SessionStoreErrorCodes.METADUMP, `lru_crawler on ${o.host}:${o.port} stayed busy with another metadump; try again later`, { details: { node: `${o.host}:${o.port}` } });
    }
    await new Promise((r) => setTimeout(r, 50 + attempt * 25));
  }
}

function dumpOnce(o: MetaDumpOptions, target: 'hash' | 'all'): Promise<DumpedKey[] | 'busy'> {
  const node = `${o.host}:${o.port}`;
  return new Promise((resolve, reject) => {
    const out: DumpedKey[] = [];
    let pending = '';
    let settled = false;
    const socket = connect({ host: o.host, port: o.port });
    o.sockets.add(socket);
    const finish = (err: Error | null, value?: DumpedKey[] | 'busy') => {
      if (settled) return;
      settled = true;
      socket.destroy();
      o.sockets.delete(socket);
      if (err) reject(err);
      else resolve(value!);
    };
    socket.setTimeout(o.idleTimeoutMs, () =>
      finish(new SessionStoreError(SessionStoreErrorCodes.METADUMP, `lru_crawler metadump on ${node} sent nothing for ${o.idleTimeoutMs} ms`, { details: { node } })),
    );
    socket.on('error', (err) => finish(new SessionStoreError(SessionStoreErrorCodes.METADUMP, `lru_crawler metadump on ${node} failed: ${err.message}`, { cause: err, details: { node } })));
    socket.on('close', () => finish(new SessionStoreError(SessionStoreErrorCodes.METADUMP, `${node} closed the connection during lru_crawler metadump`, { details: { node } })));
    socket.on('connect', () => socket.write(`lru_crawler metadump ${target}\r\n`));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).replace(/\r$/, '');
        pending = pending.slice(nl + 1);
        if (line === 'END') return finish(null, out);
        if (line.startsWith('BUSY')) return finish(null, 'busy');
        if (line === 'ERROR' || line.startsWith('CLIENT_ERROR') || line.startsWith('SERVER_ERROR')) {
          return finish(new SessionStoreError(SessionStoreErrorCodes.METADUMP, `${node} refused lru_crawler metadump ${target} (${line}); memcached 1.4.31+ with the LRU crawler enabled is needed`, { details: { node, refused: true } }));
        }
        const parsed = parseLine(line);
        if (parsed && parsed.key.startsWith(o.prefix)) out.push(parsed);
      }
    });
  });
}

/** Parses one metadump line; null for lines that are not key records. */
export function parseLine(line: string): DumpedKey | null {
  if (!line.startsWith('key=')) return null;
  let key: string | undefined;
  let exp = -1;
  let size = 0;
  for (const field of line.split(' ')) {
    const eq = field.indexOf('=');
    if (eq < 0) continue;
    const name = field.slice(0, eq);
    const value = field.slice(eq + 1);
    if (name === 'key') {
      try {
        key = decodeURIComponent(value);
      } catch {
        return null;
      }
    } else if (name === 'exp') exp = Number(value);
    else if (name === 'size') size = Number(value);
  }
  return key === undefined ? null : { key, exp: Number.isFinite(exp) ? exp : -1, size: Number.isFinite(size) ? size : 0 };
}
