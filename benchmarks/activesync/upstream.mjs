// The ActiveSync-like upstream of bench:activesync: holds every Cmd=Ping (plain query form, or the
// base64 form's command byte 18) until POST /release or exit, answers everything else at once.
// Server limits set to hold 10,000 Pings: no request timeout (the Ping waits), keep-alive above
// the longest heartbeat (3540 s), no cap on connections. GET /held says how many are held.
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 0);
const held = new Set();
const isPing = (url) => {
  const q = url.indexOf('?');
  if (q < 0) return false;
  const raw = url.slice(q + 1);
  const m = /(?:^|&)cmd=([^&]*)/i.exec(raw);
  if (m) return m[1].toLowerCase() === 'ping';
  const b = Buffer.from(decodeURIComponent(raw), 'base64');
  return b.length > 1 && b[1] === 18;
};
const answer = (res) => {
  held.delete(res);
  if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/json' }).end('{"Status":1}');
};
const server = createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 3_700_000, maxHeaderSize: 16_384 }, (req, res) => {
  const url = req.url ?? '/';
  req.resume();
  req.on('end', () => {
    if (url === '/held') return res.writeHead(200, { 'content-type': 'text/plain' }).end(String(held.size));
    if (url === '/release') {
      const n = held.size;
      for (const r of [...held]) answer(r);
      return res.writeHead(200, { 'content-type': 'text/plain' }).end(String(n));
    }
    if (url === '/' || url === '/healthz') return res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    if (isPing(url)) {
      held.add(res);
      res.once('close', () => held.delete(res));
      return;
    }
    const body = JSON.stringify({ Status: 1, Collections: [] });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
});
server.maxHeadersCount = 200;
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
