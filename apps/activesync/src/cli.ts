#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { DemoUsers, parseWebmailArgs, storeFor } from '@webtier/demo-mail';
import { createActiveSyncApp } from './ActiveSyncApp.js';
import { ActiveSyncError, ActiveSyncErrorCodes } from './errors.js';

const USAGE = `webtier-activesync: ActiveSync endpoint with device state in replicated memcached

  --port <n>             port (env PORT; default 8001)
  --host <addr>          address (env HOST; default 127.0.0.1)
  --name <name>          node name (env WEBTIER_NODE_NAME; default activesync)
  --memcached <list>     memcached servers "host:port,..." (env WEBTIER_MEMCACHED)
  --pairs <list>         memcached pairs "a:1+b:2,c:3+d:4" (env WEBTIER_MEMCACHED_PAIRS)
  --store memory         express-session's MemoryStore (development only)
  --min-heartbeat <s>    smallest Ping HeartbeatInterval accepted (default 60)
  --users <file>         demo users file (default: @webtier/demo-mail's data/users.json)
`;

function seconds(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new ActiveSyncError(ActiveSyncErrorCodes.BAD_OPTION, `${name}: "${text}" must be a whole number of seconds >= 1`);
  return Number(text);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({ args: argv, strict: false, options: { 'min-heartbeat': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  // The store flags are every mail node's (@webtier/demo-mail): one parser, one vocabulary. The session secret is not used here.
  const rest = argv.filter((a, i) => a !== '--min-heartbeat' && argv[i - 1] !== '--min-heartbeat' && !a.startsWith('--min-heartbeat='));
  const options = parseWebmailArgs([...rest, '--secret', 'unused-by-activesync'], { ...process.env, PORT: process.env['PORT'] ?? '8001', WEBTIER_NODE_NAME: process.env['WEBTIER_NODE_NAME'] ?? 'activesync' });
  if (options === 'help') return;
  const store = storeFor(options.backend);
  const app = createActiveSyncApp({
    store,
    node: options.name,
    ...(options.usersFile ? { users: DemoUsers.load(options.usersFile) } : {}),
    minHeartbeatSeconds: seconds('--min-heartbeat', typeof values['min-heartbeat'] === 'string' ? values['min-heartbeat'] : undefined, 60),
  });
  const address = await app.listen({ port: options.port, host: options.host });
  process.stdout.write(`${options.name} listening on ${address}\n`);
  let closing = false;
  const shutdown = () => {
    if (closing) return;
    closing = true;
    setTimeout(() => process.exit(0), 3000).unref();
    void app
      .close()
      .then(() => (store as { close?: () => Promise<void> }).close?.call(store))
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: Error & { code?: string }) => {
  process.stderr.write(`webtier-activesync: ${err.code ? `[${err.code}] ` : ''}${err.message}\n`);
  process.exit(1);
});
