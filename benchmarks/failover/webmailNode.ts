// One webmail node for the failover benchmark: the same express app as apps/webmail's CLI
// (createWebmailApp), with the session store chosen on the command line so that the systems under
// test differ only in the store:
//   --store webtier        ReplicatedMemcachedStore, pairs mode (--pairs "a+b,c+d") or ring mode
//                          (--servers "a,b,c,d" with --replicas N; replicas 1 = no redundancy)
//   --store connect-memjs  connect-memjs over every server (--servers), memjs defaults (1 copy,
//                          no failover); --memjs-failover turns on memjs's `failover: true`
// node --import tsx benchmarks/failover/webmailNode.ts --port 8001 --name webmail-1 --secret s3cr3t-s3cr3t --store webtier --pairs ...
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import session, { type Store } from 'express-session';
import { ReplicatedMemcachedStore } from '@webtier/session-store';
import { createWebmailApp } from '@webtier/app-webmail';

const require = createRequire(import.meta.url);

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    name: { type: 'string' },
    secret: { type: 'string' },
    store: { type: 'string' },
    pairs: { type: 'string' },
    servers: { type: 'string' },
    replicas: { type: 'string' },
    'memjs-failover': { type: 'boolean' },
  },
});

function fail(message: string): never {
  process.stderr.write(`webmailNode: ${message}\n`);
  process.exit(2);
}

const name = values.name ?? 'webmail';
const list = (text: string | undefined, flag: string) => {
  const items = (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) fail(`${flag}: give a comma-separated list of host:port`);
  return items;
};

function createStore(): Store {
  switch (values.store) {
    case 'webtier':
      if (values.pairs) {
        const pairs = list(values.pairs, '--pairs').map((p) => p.split('+') as [string, string]);
        return new ReplicatedMemcachedStore({ pairs });
      }
      return new ReplicatedMemcachedStore({ servers: list(values.servers, '--servers'), replicas: Number(values.replicas ?? 2) });
    case 'connect-memjs': {
      const ConnectMemjs = require('connect-memjs')(session) as new (o: Record<string, unknown>) => Store;
      return new ConnectMemjs({ servers: list(values.servers, '--servers'), failover: values['memjs-failover'] ?? false });
    }
    default:
      return fail(`--store: "${values.store}" must be webtier or connect-memjs`);
  }
}

if (!values.port || !values.secret) fail('give --port <n> and --secret <at least 8 characters>');
const store = createStore();
store.on('disconnect', () => console.error(`[${name}] session store: no memcached node reachable`));
store.on('node:down', (e: { node: string; error: Error }) => console.log(`[${name}] memcached ${e.node} down: ${e.error.message}`));
store.on('node:up', (e: { node: string }) => console.log(`[${name}] memcached ${e.node} up`));
store.on('resync', (r: unknown) => console.log(`[${name}] memcached re-sync: ${JSON.stringify(r)}`));
const app = createWebmailApp({ store, node: name, sessionSecret: values.secret });
const server: Server = await new Promise((resolve, reject) => {
  const s = app.listen(Number(values.port), values.host ?? '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
});
process.stdout.write(`${name} (${values.store}) listening on ${values.port}\n`);
const shutdown = () => {
  server.close();
  server.closeIdleConnections();
  const close = (store as { close?: () => unknown }).close;
  const client = (store as { client?: { close(): void } }).client;
  void Promise.resolve(close ? close.call(store) : client?.close()).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
