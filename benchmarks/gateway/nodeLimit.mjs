// The Node limit of the proxy benchmark (issue 15): the least a Node reverse proxy can do. node:http
// in front, one undici Pool behind, each request handed to `pool.dispatch` with the client's method,
// path and headers, and the upstream's status, headers and body written straight into the
// ServerResponse (backpressure pauses the upstream). No routing, no logging, no retries, no
// metrics: what is left is the cost of Node's HTTP server, undici's client and the sockets, which a
// gateway built on them cannot go below. Plain JavaScript, no loader.
// --forwarding-headers adds what every reverse proxy in front of a webmail must tell it, as the
// gateway does for an untrusted client: X-Forwarded-For/-Proto/-Host/-Port and a new X-Request-Id
// (bench:gateway's head to head: what those headers alone cost the Node limit).
//   node benchmarks/gateway/nodeLimit.mjs --port 8080 --upstream http://127.0.0.1:9000 [--forwarding-headers]
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' }, upstream: { type: 'string' }, 'forwarding-headers': { type: 'boolean' } } });
const forwarding = values['forwarding-headers'] ?? false;
if (values.port === undefined || values.upstream === undefined) {
  process.stderr.write('nodeLimit: give --port <n> and --upstream http://host:port\n');
  process.exit(2);
}
// As many connections as the gateway's default connectionsPerEndpoint: never a queue inside the Pool at -c50.
const pool = new Pool(values.upstream, { connections: 256, keepAliveTimeout: 4000, headersTimeout: 0, bodyTimeout: 0 });

/** One request's undici 7 dispatch handler, writing into `res`. */
class PassThrough {
  constructor(res) {
    this.res = res;
    this.controller = undefined;
    this.resume = () => this.controller?.resume();
    this.gone = () => {
      if (!this.res.writableFinished) this.controller?.abort(new Error('the client went away'));
    };
  }
  onRequestStart(controller) {
    this.controller = controller;
  }
  onResponseStart(_controller, statusCode, headers) {
    // The upstream's hop-by-hop fields are not the client's connection's.
    delete headers.connection;
    delete headers['keep-alive'];
    delete headers['transfer-encoding'];
    this.res.writeHead(statusCode, headers);
  }
  onResponseData(controller, chunk) {
    if (!this.res.write(chunk)) {
      // A client that left must not leave its upstream connection paused for good: wrk closes its
      // connections mid-response at the end of every run, and after a few runs every connection of
      // the Pool was stuck and this proxy answered nothing (seen in a head-to-head run).
      if (this.res.destroyed) return controller.abort(new Error('the client went away'));
      controller.pause();
      this.res.once('drain', this.resume);
      this.res.once('close', this.gone);
    }
  }
  onResponseEnd() {
    this.res.end();
  }
  onResponseError(_controller, err) {
    if (this.res.headersSent) this.res.destroy(err);
    else this.res.writeHead(502, { 'content-length': '0' }).end();
  }
}

const server = createServer((req, res) => {
  // A flat [name, value, ...] list, as the gateway hands undici (scratch A/B: as fast as a copy of
  // req.headers without forwarding headers; with them, adding five properties to that copy cost
  // the Node limit about three times what pushing them onto the list does).
  const src = req.headers;
  const headers = [];
  for (const name in src) {
    if (name === 'connection' || name === 'keep-alive') continue;
    const v = src[name];
    if (typeof v === 'string') headers.push(name, v);
    else for (const x of v) headers.push(name, x);
  }
  if (forwarding) {
    const socket = req.socket;
    const peer = socket.remoteAddress ?? 'unknown';
    headers.push('x-forwarded-for', peer.startsWith('::ffff:') ? peer.slice(7) : peer, 'x-forwarded-proto', 'http');
    if (src.host) headers.push('x-forwarded-host', src.host);
    headers.push('x-forwarded-port', String(socket.localPort ?? ''), 'x-request-id', randomUUID());
  }
  const hasBody = src['content-length'] !== undefined || src['transfer-encoding'] !== undefined;
  pool.dispatch({ method: req.method, path: req.url, headers, body: hasBody ? req : null }, new PassThrough(res));
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), values.host ?? '127.0.0.1', () => {
  process.stdout.write(`node limit pass-through on ${values.port} → ${values.upstream}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
