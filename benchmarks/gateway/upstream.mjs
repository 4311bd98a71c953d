// The upstream of the proxy benchmark: plain node:http answering every request with 1 KiB
// (200, text/plain, keep-alive). The same process serves every target, directly or behind a proxy.
//   node benchmarks/gateway/upstream.mjs --port 9000
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' }, bytes: { type: 'string' } } });
const body = Buffer.alloc(Number(values.bytes ?? 1024), 'x');
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port ?? 0), values.host ?? '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`upstream (${body.length} bytes) on ${typeof a === 'object' && a ? a.port : values.port}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
