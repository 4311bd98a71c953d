#!/usr/bin/env node
import type { Server } from 'node:http';
import { ReplicatedMemcachedStore } from '@webtier/session-store';
import { collectStoreMetrics } from '@webtier/session-store/metrics';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { DemoUsers, parseWebmailArgs, storeFor, WEBMAIL_USAGE } from '@webtier/demo-mail';
import { createWebmailApp } from './WebmailApp.js';

async function main(): Promise<void> {
  const options = parseWebmailArgs(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(WEBMAIL_USAGE);
    return;
  }
  const store = storeFor(options.backend);
  store.on('disconnect', () => console.error(`[${options.name}] session store: no memcached node reachable`));
  // The store's view of its nodes, in this node's log: what the demo's footer shows, over time.
  store.on('node:down', (e: { node: string; error: Error }) => console.log(`[${options.name}] memcached ${options.labels[e.node] ?? e.node} down: ${e.error.message}`));
  store.on('node:up', (e: { node: string }) => console.log(`[${options.name}] memcached ${options.labels[e.node] ?? e.node} up`));
  store.on('resync', (r: unknown) => console.log(`[${options.name}] memcached re-sync: ${JSON.stringify(r)}`));
  // Two requests of one session changed the same key (the later write kept it), or a stored copy was refused.
  store.on('conflict', (e: unknown) => console.log(`[${options.name}] session write conflict: ${JSON.stringify(e)}`));
  store.on('corrupt', (e: unknown) => console.log(`[${options.name}] session copy refused: ${JSON.stringify(e)}`));
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  if (store instanceof ReplicatedMemcachedStore) collectStoreMetrics(store, metrics, { keyUsageIntervalMs: 60_000 });
  const app = createWebmailApp({
    store,
    metrics,
    node: options.name,
    sessionSecret: options.secret,
    labels: options.labels,
    ...(options.usersFile ? { users: DemoUsers.load(options.usersFile) } : {}),
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(options.port, options.host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const address = server.address();
  process.stdout.write(`${options.name} listening on http://${options.host}:${typeof address === 'object' && address ? address.port : options.port}\n`);
  let closing = false;
  const shutdown = () => {
    if (closing) return;
    closing = true;
    server.close();
    server.closeIdleConnections();
    const closeStore = (store as { close?: () => Promise<void> }).close;
    void Promise.resolve(closeStore?.call(store)).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: Error & { code?: string }) => {
  process.stderr.write(`webtier-webmail: ${err.code ? `[${err.code}] ` : ''}${err.message}\n`);
  process.exit(1);
});
