import { loadConfig, type GatewayConfig } from '../index.js';
import { HEALTH_ENV, isToWorker, type FromWorker, type HealthReport } from './ipc.js';
import { describe, type LogFormat } from './logger.js';
import { drainer, reloadFrom, startWithLogger } from './serve.js';

/** A worker has no admin listener (the primary's answers for the whole gateway). */
function workerConfig(config: GatewayConfig): GatewayConfig {
  const { admin: _admin, ...rest } = config;
  return Object.freeze(rest) as GatewayConfig;
}

function send(message: FromWorker): void {
  process.send?.(message);
}

/**
 * One worker of a multi-worker gateway: forwards on the shared listeners (node:cluster hands it
 * connections), runs no health checks of its own (it applies the primary's results), answers the
 * primary's reload/drain/metrics/status requests over IPC.
 */
export async function runWorker(file: string, format: LogFormat): Promise<void> {
  const gateway = await startWithLogger(workerConfig(loadConfig(file)), format, false);
  const runtime = gateway.runtime;
  const initial = process.env[HEALTH_ENV];
  if (initial) runtime.applyHealth(JSON.parse(initial) as HealthReport[]);
  const stop = drainer(gateway);
  // The primary coordinates reloads; a SIGHUP sent to the whole process group must not reload twice.
  process.on('SIGHUP', () => {});
  // systemd (KillMode=control-group) or a terminal's Ctrl-C signal every process: drain either way.
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The primary is gone (SIGKILL): drain rather than serve on without health results.
  process.on('disconnect', () => stop('primary exited'));
  process.on('message', (m: unknown) => {
    if (!isToWorker(m)) return;
    switch (m.webtier) {
      case 'health':
        runtime.applyHealth(m.reports);
        break;
      case 'drain':
        stop('primary');
        break;
      case 'reload':
        send({ webtier: 'reply', id: m.id, ok: reloadFrom(gateway, file, workerConfig) });
        break;
      case 'metrics':
        void runtime.metrics.registry.getMetricsAsJSON().then((metrics) => send({ webtier: 'reply', id: m.id, ok: true, metrics }));
        break;
      case 'status':
        send({ webtier: 'reply', id: m.id, ok: true, status: runtime.status() });
        break;
      case 'setDrained':
        try {
          runtime.setDrained(m.cluster, m.url, m.drained);
          send({ webtier: 'reply', id: m.id, ok: true });
        } catch (err) {
          send({ webtier: 'reply', id: m.id, ok: false, error: describe(err) });
        }
        break;
    }
  });
  send({ webtier: 'listening', urls: gateway.urls });
}
