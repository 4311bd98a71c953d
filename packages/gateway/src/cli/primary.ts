import cluster, { type Worker } from 'node:cluster';
import { Counter, Gauge, Registry } from 'prom-client';
import { GatewayRuntime, loadConfig, type GatewayConfig, type GatewayStatus } from '../index.js';
import { aggregateMetrics, aggregateStatus, type WorkerInfo } from './aggregate.js';
import { EXIT } from './args.js';
import { HEALTH_ENV, isFromWorker, WORKER_ENV, type FromWorker, type HealthReport, type ToWorker } from './ipc.js';
import { describe, processLogger, type LogFormat } from './logger.js';
import { adminToken } from '../admin/AdminServer.js';
import { createPrimaryAdmin } from './PrimaryAdmin.js';

/** Restart delay after the k-th consecutive crash of a slot: 100 ms doubling, at most 10 s. */
export function restartDelayMs(consecutiveCrashes: number): number {
  return Math.min(100 * 2 ** Math.max(0, consecutiveCrashes - 1), 10_000);
}
/** A worker that lived this long before crashing starts its slot's backoff from zero again. */
const STABLE_MS = 10_000;
/** How often the primary looks for new health results to send (the checks themselves run on their own intervals). */
const HEALTH_POLL_MS = 100;
const REPLY_TIMEOUT_MS = 5_000;

interface Slot {
  worker: Worker | undefined;
  startedAt: number;
  restarts: number;
  consecutiveCrashes: number;
  listening: boolean;
  timer: NodeJS.Timeout | undefined;
  /** The reload generation of the files the worker's config was last read from (see `generation`). */
  generation: number;
}

/**
 * The primary of a multi-worker gateway. It forwards nothing itself: it forks `n` workers that
 * share the listeners through node:cluster, runs the one set of active health checks and sends the
 * results to every worker (so upstreams see one check per interval, not n), restarts crashed
 * workers with backoff, and serves the admin listener for the whole gateway. SIGHUP reloads every
 * worker; SIGTERM/SIGINT drain every worker, then exit.
 */
export async function runPrimary(file: string, config: GatewayConfig, n: number, format: LogFormat): Promise<void> {
  const log = processLogger(format, config.logLevel);
  const checker = new GatewayRuntime(config);
  checker.log = log;
  checker.start();

  const supervisor = new Registry();
  const restarts = new Counter({ name: 'gateway_worker_restarts_total', help: 'Workers restarted after they exited unexpectedly', labelNames: ['reason'], registers: [supervisor] });
  const slots: Slot[] = Array.from({ length: n }, () => ({ worker: undefined, startedAt: 0, restarts: 0, consecutiveCrashes: 0, listening: false, timer: undefined, generation: 0 }));
  new Gauge({
    name: 'gateway_workers',
    help: 'Worker processes currently listening',
    registers: [supervisor],
    collect() {
      this.set(slots.filter((s) => s.listening).length);
    },
  });

  const snapshot = (): HealthReport[] =>
    [...checker.allEndpoints()].map((e) => ({ cluster: e.cluster, url: e.url, activeHealthy: e.activeHealthy, lastCheck: e.lastCheck ? { ...e.lastCheck } : null }));
  let lastSent = '';

  let nextId = 1;
  type Reply = Extract<FromWorker, { webtier: 'reply' }> | undefined;
  const pending = new Map<number, { worker: Worker; done: (reply: Reply) => void }>();
  const liveSlots = () => slots.filter((s) => s.worker !== undefined && s.listening);
  const live = () => liveSlots().map((s) => s.worker!);
  const send = (w: Worker, m: ToWorker) => {
    if (w.isConnected()) w.send(m);
  };
  // A worker that dies before answering answers undefined (at once, not after the timeout).
  const request = (w: Worker, make: (id: number) => ToWorker) =>
    new Promise<Reply>((resolve) => {
      if (!w.isConnected()) return resolve(undefined);
      const id = nextId++;
      const t = setTimeout(() => done(undefined), REPLY_TIMEOUT_MS);
      const done = (r: Reply) => {
        clearTimeout(t);
        pending.delete(id);
        resolve(r);
      };
      pending.set(id, { worker: w, done });
      w.send(make(id));
    });
  const abandon = (w: Worker) => {
    for (const p of [...pending.values()]) if (p.worker === w) p.done(undefined);
  };

  let stopping = false;
  let everListened = false;
  let exitCode: number = EXIT.OK;

  cluster.setupPrimary({ exec: process.argv[1]!, args: process.argv.slice(2) });
  // Bumped by every accepted reload. A reload goes to the workers that are listening; one still
  // starting then may have read the files before they changed, so it is sent the reload when it
  // reports listening (a SIGHUP certificate swap once left the second of two workers on the old
  // certificate for good).
  let generation = 0;
  const reloadWorker = async (slot: Slot): Promise<boolean> => {
    const w = slot.worker;
    if (!w) return false;
    slot.generation = generation;
    const r = await request(w, (id) => ({ webtier: 'reload', id }));
    return r?.ok === true;
  };
  const fork = (slot: Slot) => {
    slot.timer = undefined;
    slot.listening = false;
    slot.generation = generation;
    slot.startedAt = Date.now();
    const w = cluster.fork({ [WORKER_ENV]: '1', [HEALTH_ENV]: JSON.stringify(snapshot()) });
    slot.worker = w;
    w.on('disconnect', () => abandon(w));
    w.on('message', (m: unknown) => {
      if (!isFromWorker(m)) return;
      if (m.webtier === 'listening') {
        slot.listening = true;
        if (slot.generation !== generation) {
          void reloadWorker(slot).then((ok) => {
            if (!ok) log.error({ worker: w.process.pid }, 'a worker that started during a reload could not reload; it keeps the config it started with (send SIGHUP again)');
          });
        }
        if (!everListened && slots.every((s) => s.listening)) {
          everListened = true;
          log.info({ listeners: m.urls, admin: adminUrl, config: file, workers: n, pid: process.pid }, 'gateway listening');
        }
      } else if (m.webtier === 'reply') pending.get(m.id)?.done(m);
    });
  };

  const finish = async () => {
    if (slots.some((s) => s.worker)) return;
    clearInterval(poll);
    await admin?.close();
    await checker.close(true);
    log.info({ workers: n }, 'gateway stopped');
    process.exit(exitCode);
  };

  cluster.on('exit', (w, code, signal) => {
    const slot = slots.find((s) => s.worker === w);
    if (!slot) return;
    slot.worker = undefined;
    slot.listening = false;
    abandon(w);
    if (stopping) {
      if (code !== EXIT.OK && exitCode === EXIT.OK) exitCode = EXIT.STOP_FAILED;
      void finish();
      return;
    }
    if (!everListened && (code === EXIT.START_FAILED || code === EXIT.BAD_CONFIG)) {
      // A bind failure or a config the worker rejects will not go away by restarting.
      log.error({ code, worker: w.process.pid }, 'a worker could not start; stopping');
      exitCode = EXIT.START_FAILED;
      stop('worker start failed');
      return;
    }
    const lived = Date.now() - slot.startedAt;
    slot.consecutiveCrashes = lived >= STABLE_MS ? 1 : slot.consecutiveCrashes + 1;
    slot.restarts++;
    const reason = signal ? `signal ${signal}` : `exit ${code}`;
    restarts.inc({ reason: signal ?? 'exit' });
    const delayMs = restartDelayMs(slot.consecutiveCrashes);
    log.error({ worker: w.process.pid, reason, livedMs: lived, restartInMs: delayMs, restarts: slot.restarts }, 'worker exited unexpectedly; restarting');
    slot.timer = setTimeout(() => fork(slot), delayMs);
  });

  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    checker.draining = true;
    const { drainTimeoutMs, drainDelayMs } = checker.state.config;
    log.info({ signal: reason, drainDelayMs, drainTimeoutMs, workers: live().length }, 'draining every worker');
    for (const s of slots) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = undefined;
      if (s.worker) send(s.worker, { webtier: 'drain' });
    }
    // A worker that does not finish its drain in time is killed; its exit then ends the primary.
    setTimeout(() => {
      for (const s of slots) if (s.worker) s.worker.process.kill('SIGKILL');
    }, drainDelayMs + drainTimeoutMs + 5_000).unref();
    void finish();
  };

  const reload = async () => {
    if (stopping) return;
    let next: GatewayConfig;
    try {
      next = loadConfig(file);
      checker.reload(next);
    } catch (err) {
      const problems = (err as { problems?: unknown }).problems;
      log.error({ code: (err as { code?: string }).code, problems }, `config reload rejected, the previous config stays: ${describe(err)}`);
      return;
    }
    generation++;
    const replies = await Promise.all(liveSlots().map(reloadWorker));
    const ok = replies.filter(Boolean).length;
    log[ok === replies.length ? 'info' : 'error']({ workers: replies.length, reloaded: ok, routes: next.routes.length, clusters: Object.keys(next.clusters) }, 'config reloaded');
  };

  const poll = setInterval(() => {
    const reports = snapshot();
    const sig = JSON.stringify(reports);
    if (sig === lastSent) return;
    lastSent = sig;
    for (const w of live()) send(w, { webtier: 'health', reports });
  }, HEALTH_POLL_MS);

  let admin: ReturnType<typeof createPrimaryAdmin> | undefined;
  let adminUrl: string | undefined;
  if (config.admin) {
    let token: string | undefined;
    try {
      token = adminToken(config.admin.tokenFile);
    } catch (err) {
      process.stderr.write(`cannot start the gateway: admin listener: ${describe(err)}\n`);
      process.exit(EXIT.START_FAILED);
    }
    admin = createPrimaryAdmin(
      {
        checker,
        listeningWorkers: () => live().length,
        async metrics() {
          const workers = await Promise.all(live().map((w) => request(w, (id) => ({ webtier: 'metrics', id }))));
          const registry = aggregateMetrics(
            await checker.metrics.registry.getMetricsAsJSON(),
            await supervisor.getMetricsAsJSON(),
            workers.flatMap((r) => (r?.metrics ? [r.metrics as Awaited<ReturnType<Registry['getMetricsAsJSON']>>] : [])),
          );
          return { contentType: registry.contentType, text: await registry.metrics() };
        },
        async status() {
          const workers = await Promise.all(live().map((w) => request(w, (id) => ({ webtier: 'status', id }))));
          const info: WorkerInfo[] = slots.map((s, i) => ({ id: i + 1, pid: s.worker?.process.pid, startedAt: new Date(s.startedAt).toISOString(), restarts: s.restarts, listening: s.listening }));
          return aggregateStatus(checker.status(), workers.flatMap((r): GatewayStatus[] => (r?.status ? [r.status] : [])), info);
        },
        async setDrained(clusterName, url, drained) {
          const origin = checker.state.clusters.get(clusterName)?.cluster.find(url)?.url;
          await Promise.all(live().map((w) => request(w, (id) => ({ webtier: 'setDrained', id, cluster: clusterName, url, drained }))));
          const all = await Promise.all(live().map((w) => request(w, (id) => ({ webtier: 'status', id }))));
          return all.reduce((sum, r) => sum + (r?.status?.clusters.find((c) => c.name === clusterName)?.endpoints.find((e) => e.url === origin)?.inFlight ?? 0), 0);
        },
      },
      log,
      { token, allowedHosts: config.admin.allowedHosts ?? [] },
    );
    try {
      await admin.listen({ host: config.admin.host, port: config.admin.port });
    } catch (err) {
      process.stderr.write(`cannot start the gateway: admin listener: ${describe(err)}\n`);
      process.exit(EXIT.START_FAILED);
    }
    const a = admin.server.address();
    adminUrl = a && typeof a === 'object' ? `http://${config.admin.host.includes(':') ? `[${config.admin.host}]` : config.admin.host}:${a.port}` : undefined;
  }

  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => void reload());
  for (const s of slots) fork(s);
}
