import { loadConfig, startGateway, type GatewayConfig, type RunningGateway } from '../index.js';
import { EXIT } from './args.js';
import { describe, gatewayLogger, type LogFormat } from './logger.js';

/** Prints to stderr and exits. */
export function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

/** startGateway with the CLI's logger; a bind failure exits START_FAILED. */
export async function startWithLogger(config: GatewayConfig, format: LogFormat, startHealthChecks: boolean): Promise<RunningGateway> {
  const logger = gatewayLogger(format, config.logLevel);
  try {
    return await startGateway(config, { ...(logger ? { loggerInstance: logger } : {}), startHealthChecks });
  } catch (err) {
    fail(`cannot start the gateway: ${describe(err)}`, EXIT.START_FAILED);
  }
}

/** Reads the file again and applies it; a bad file is logged and the running config stays. Returns whether it applied. */
export function reloadFrom(gateway: RunningGateway, file: string, adjust: (c: GatewayConfig) => GatewayConfig = (c) => c): boolean {
  const log = gateway.app.log;
  try {
    gateway.reload(adjust(loadConfig(file)));
    return true;
  } catch (err) {
    const problems = (err as { problems?: unknown }).problems;
    log.error({ code: (err as { code?: string }).code, problems, err: problems ? undefined : err }, `config reload rejected, the previous config stays: ${describe(err)}`);
    return false;
  }
}

/** Drains on the first call (later calls are ignored), logs, and exits OK, or STOP_FAILED on an error. */
export function drainer(gateway: RunningGateway): (reason: string) => void {
  let stopping = false;
  return (reason) => {
    if (stopping) return;
    stopping = true;
    const log = gateway.app.log;
    const { drainTimeoutMs, drainDelayMs } = gateway.runtime.state.config;
    log.info(
      { signal: reason, drainDelayMs, drainTimeoutMs },
      drainDelayMs > 0 ? 'draining: not ready, still accepting (Connection: close) for drainDelayMs, then no new connections' : 'draining: no new connections, in-flight requests may finish',
    );
    gateway.close(drainTimeoutMs, drainDelayMs).then(
      (clean) => {
        log.info({ clean }, 'gateway stopped');
        process.exit(EXIT.OK);
      },
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(EXIT.STOP_FAILED);
      },
    );
  };
}

/** One process: the gateway, its health checks and its admin listener. */
export async function serveSingle(file: string, config: GatewayConfig, format: LogFormat): Promise<void> {
  const gateway = await startWithLogger(config, format, true);
  gateway.app.log.info({ listeners: gateway.urls, admin: gateway.adminUrl, config: file, workers: 1, pid: process.pid }, 'gateway listening');
  const stop = drainer(gateway);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (!gateway.runtime.draining) reloadFrom(gateway, file);
  });
}
