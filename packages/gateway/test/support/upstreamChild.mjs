// A child-process upstream for failover tests: echo + /healthz. argv: name port
import { createServer } from 'node:http';

const [name = 'child', port = '0'] = process.argv.slice(2);
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/healthz') return res.end('ok');
    const body = Buffer.concat(chunks).toString();
    const wait = /\/sleep\/(\d+)/.exec(req.url ?? '');
    const send = () => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-upstream', name);
      res.end(JSON.stringify({ name, method: req.method, url: req.url, body }));
    };
    if (wait) setTimeout(send, Number(wait[1]));
    else send();
  });
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
// Exit with the test worker.
process.stdin.resume?.();
setInterval(() => {
  if (process.ppid === 1) process.exit(0);
}, 1000).unref();
