#!/usr/bin/env node
// webtier-gateway --config gateway.yaml [--check]
// Thin: loads the config, starts @webtier/gateway, wires SIGTERM/SIGINT (drain) and SIGHUP (reload).
import { parseArgs } from 'node:util';
import { checkTlsFiles, loadConfig, startGateway, type GatewayConfig, type RunningGateway } from '@webtier/gateway';

const USAGE = `usage: webtier-gateway --config <gateway.yaml|gateway.json> [--check]

  --config, -c   the gateway config (YAML or JSON)
  --check        validate the config (and the TLS certificate/key files) and exit: 0 when valid, 1 listing every problem
  --help, -h     this text

signals: SIGTERM/SIGINT drain (in-flight requests get drainTimeoutMs) then exit 0; SIGHUP reloads the config file
         and the TLS certificate/key files (open connections keep theirs; a bad pair is refused, the old one stays)`;

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code}: ${e.message}` : String(e.message ?? err);
}

async function main(): Promise<void> {
  let values: { config?: string | undefined; check?: boolean | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({ args: process.argv.slice(2), options: { config: { type: 'string', short: 'c' }, check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    fail(`${(err as Error).message}\n\n${USAGE}`, 2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.config) fail(`--config is required\n\n${USAGE}`, 2);
  const file = values.config;

  let config: GatewayConfig;
  try {
    config = loadConfig(file);
  } catch (err) {
    fail(describe(err));
  }
  if (values.check) {
    // TLS files: readable, PEM, key matches certificate, not expired; expiry printed, a warning under 14 days.
    for (const [i, l] of config.listeners.entries()) {
      if (!l.tls) continue;
      try {
        for (const r of checkTlsFiles(l.tls)) {
          process.stdout.write(`listeners[${i}] ${r.certFile}: ${r.subject}${r.names.length ? ` (${r.names.join(', ')})` : ''}, expires ${r.notAfter.toISOString()} (${r.daysLeft} days)\n`);
          if (r.daysLeft < 14) process.stderr.write(`warning: ${r.certFile} expires in ${r.daysLeft} days; renew it\n`);
        }
      } catch (err) {
        fail(`listeners[${i}].tls: ${describe(err)}`);
      }
    }
    const n = Object.values(config.clusters).reduce((sum, c) => sum + c.endpoints.length, 0);
    process.stdout.write(`${file}: OK (${config.listeners.length} listener(s), ${config.routes.length} route(s), ${Object.keys(config.clusters).length} cluster(s), ${n} endpoint(s))\n`);
    return;
  }

  let gateway: RunningGateway;
  try {
    gateway = await startGateway(config);
  } catch (err) {
    fail(`cannot start the gateway: ${describe(err)}`);
  }
  const log = gateway.app.log;
  log.info({ listeners: gateway.urls, admin: gateway.adminUrl, config: file }, 'gateway listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const drainTimeoutMs = gateway.runtime.state.config.drainTimeoutMs;
    log.info({ signal, drainTimeoutMs }, 'draining: no new connections, in-flight requests may finish');
    gateway.close(drainTimeoutMs).then(
      (clean) => {
        log.info({ clean }, 'gateway stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    try {
      gateway.reload(loadConfig(file));
    } catch (err) {
      const problems = (err as { problems?: unknown }).problems;
      log.error({ code: (err as { code?: string }).code, problems, err: problems ? undefined : err }, `config reload rejected, the previous config stays: ${describe(err)}`);
    }
  });
}

void main();
