// One web node of `npm run bench:concurrency`, in its own process as in a deployment: a real express +
// express-session app whose session store is chosen on the command line, so that the systems under
// test differ only in the store. /login starts a session with counters a and b at 0, /inc?k=a
// increments one (after ?delay= ms of work), /show returns both, /healthz answers 200.
// node --import tsx benchmarks/concurrency/webNode.ts --port 8001 --store merge --servers 127.0.0.1:11211,... --prefix cc-merge:
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import express from 'express';
import session from 'express-session';
import { ReplicatedMemcachedStore } from '@webtier/session-store';

const require = createRequire(import.meta.url);

const STORES = ['merge', 'last-write-wins', 'connect-memjs', 'memory'] as const;
type StoreName = (typeof STORES)[number];

function fail(message: string): never {
  process.stderr.write(`concurrency webNode: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({ options: { port: { type: 'string' }, store: { type: 'string' }, servers: { type: 'string' }, prefix: { type: 'string' } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`--port ${values.port ?? '(missing)'}: give a TCP port (1-65535)`);
const storeName = values.store as StoreName;
if (!STORES.includes(storeName)) fail(`--store ${values.store ?? '(missing)'}: one of ${STORES.join(', ')}`);
const servers = (values.servers ?? '').split(',').filter(Boolean);
if (storeName !== 'memory' && servers.length === 0) fail('--servers: give memcached host:port,host:port,...');
const prefix = values.prefix ?? `cc-${storeName}:`;

function makeStore(): session.Store {
  switch (storeName) {
    case 'merge':
    case 'last-write-wins':
      return new ReplicatedMemcachedStore({ servers, prefix, concurrentWrites: storeName });
    case 'connect-memjs': {
      const ConnectMemjs = require('connect-memjs')(session) as new (o: Record<string, unknown>) => session.Store;
      return new ConnectMemjs({ servers, prefix, logger: { log() {} } });
    }
    case 'memory':
      return new session.MemoryStore();
  }
}

const app = express();
app.get('/healthz', (_req, res) => void res.send('ok'));
app.use(session({ store: makeStore(), secret: 'bench-secret', resave: false, saveUninitialized: false, cookie: { maxAge: 3_600_000 } }));
app.get('/login', (req, res) => {
  const s = req.session as unknown as Record<string, unknown>;
  s['user'] = 'u';
  s['a'] = 0;
  s['b'] = 0;
  res.json({ ok: true });
});
app.get('/inc', async (req, res) => {
  const delay = Number(req.query['delay'] ?? 0);
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  const s = req.session as unknown as Record<string, number>;
  const k = String(req.query['k']);
  s[k] = (s[k] ?? 0) + 1;
  res.json({ ok: true });
});
app.get('/show', (req, res) => {
  const s = req.session as unknown as Record<string, unknown>;
  res.json({ a: s['a'] ?? null, b: s['b'] ?? null });
});
const server = app.listen(port, '127.0.0.1');
server.keepAliveTimeout = 60_000; // the load generator keeps its connections between runs
server.on('error', (err) => fail(`listen on 127.0.0.1:${port}: ${err.message}`));
// Exit on SIGTERM through process.exit, so that `node --cpu-prof` writes its profile.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
