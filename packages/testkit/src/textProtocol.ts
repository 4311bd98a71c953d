import { connect } from 'node:net';

/**
 * Sends one memcached text-protocol command and resolves with the reply up to its terminator
 * (`END`, `OK`, `VERSION ...`, `ERROR`, ...). For tests and tooling, not for the hot path.
 */
export function memcachedCommand(host: string, port: number, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`memcached ${host}:${port} did not answer "${command}" within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (/(^|\r\n)(END|OK|ERROR|STORED|NOT_STORED|DELETED|NOT_FOUND|TOUCHED|EXISTS|VERSION [^\r\n]*|CLIENT_ERROR [^\r\n]*|SERVER_ERROR [^\r\n]*|\d+)\r\n$/.test(buffer)) {
        clearTimeout(timer);
        socket.end();
        resolve(buffer);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** `stats` as a map of name to value. */
export async function memcachedStats(host: string, port: number, timeoutMs?: number): Promise<Record<string, string>> {
  const reply = await memcachedCommand(host, port, 'stats', timeoutMs);
  const out: Record<string, string> = {};
  for (const line of reply.split('\r\n')) {
    const m = /^STAT (\S+) (.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}
