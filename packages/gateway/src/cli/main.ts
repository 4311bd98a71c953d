// webtier-gateway: runs @webtier/gateway from a YAML/JSON config file, as one process or as a
// primary with n workers; also `check` (readiness probe) and `keepalived` (config generator).
// Usage, signals and exit codes: args.ts (USAGE) and the package README.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { checkTlsFiles, loadConfig, type GatewayConfig } from '../index.js';
import { EXIT, parseCommand, USAGE, UsageError, type Command } from './args.js';
import { WORKER_ENV } from './ipc.js';
import { describe } from './logger.js';
import { fail, serveSingle } from './serve.js';
import { gatewayVersion } from './version.js';

async function main(argv: string[]): Promise<void> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message}\n\n${USAGE}`, EXIT.USAGE);
    throw err;
  }
  switch (command.kind) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return;
    case 'version':
      process.stdout.write(`webtier-gateway ${gatewayVersion()} (node ${process.version})\n`);
      return;
    case 'check': {
      const { probeReady } = await import('./check.js');
      const r = await probeReady(command.admin, command.timeoutMs);
      (r.ready ? process.stdout : process.stderr).write(`${r.line}\n`);
      process.exitCode = r.ready ? EXIT.OK : EXIT.NOT_READY;
      return;
    }
    case 'keepalived': {
      const { keepalivedCommand } = await import('./keepalived.js');
      process.exitCode = keepalivedCommand(command.argv);
      return;
    }
    case 'serve':
      break;
  }

  const file = command.config;
  if (cluster.isWorker && process.env[WORKER_ENV] === '1') {
    const { runWorker } = await import('./worker.js');
    await runWorker(file, command.logFormat);
    return;
  }
  let config: GatewayConfig;
  try {
    config = loadConfig(file);
  } catch (err) {
    fail(describe(err), EXIT.BAD_CONFIG);
  }
  const workers = command.workers ?? config.workers;
  const n = workers === 'auto' ? availableParallelism() : workers;
  if (command.check) {
    // TLS files: readable, PEM, key matches certificate, not expired; expiry printed, a warning under 14 days.
    for (const [i, l] of config.listeners.entries()) {
      if (!l.tls) continue;
      try {
        for (const r of checkTlsFiles(l.tls)) {
          process.stdout.write(`listeners[${i}] ${r.certFile}: ${r.subject}${r.names.length ? ` (${r.names.join(', ')})` : ''}, expires ${r.notAfter.toISOString()} (${r.daysLeft} days)\n`);
          if (r.daysLeft < 14) process.stderr.write(`warning: ${r.certFile} expires in ${r.daysLeft} days; renew it\n`);
        }
      } catch (err) {
        fail(`listeners[${i}].tls: ${describe(err)}`, EXIT.BAD_CONFIG);
      }
    }
    const endpoints = Object.values(config.clusters).reduce((sum, c) => sum + c.endpoints.length, 0);
    process.stdout.write(`${file}: OK (${config.listeners.length} listener(s), ${config.routes.length} route(s), ${Object.keys(config.clusters).length} cluster(s), ${endpoints} endpoint(s), ${n} worker(s))\n`);
    return;
  }
  if (n === 1) {
    await serveSingle(file, config, command.logFormat);
    return;
  }
  const { runPrimary } = await import('./primary.js');
  await runPrimary(file, config, n, command.logFormat);
}

void main(process.argv.slice(2));
