import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { KeyUsage, OpEvent, ReplicatedMemcachedStore } from './ReplicatedMemcachedStore.js';
import type { CorruptEvent, RepairEvent } from './Replicator.js';
import type { ResyncResult } from './Resync.js';

/** Options of {@link collectStoreMetrics}. */
export interface StoreMetricsOptions {
  /** Prefix of every metric name. @default 'webtier_session_store_' */
  prefix?: string;
  /**
   * Run `store.keyUsage()` (a metadump of every node) this often to refresh `stored_copies`; 0 only
   * records the scans someone else runs. @default 0
   */
  keyUsageIntervalMs?: number;
}

/**
 * Registers the store's metrics in a prom-client `registry` (import from
 * `@webtier/session-store/metrics`; prom-client is an optional peer dependency): per-node state,
 * operations and their latency, repairs by reason, corrupt values by reason, re-syncs and their
 * duration, tombstones written, stored copies per encryption key. Returns a handle whose `close()`
 * stops listening.
 */
export function collectStoreMetrics(store: ReplicatedMemcachedStore, registry: Registry, options: StoreMetricsOptions = {}): { close(): void } {
  const p = options.prefix ?? 'webtier_session_store_';
  const registers = [registry];
  new Gauge({
    name: `${p}node_up`,
    help: 'Whether the store sends requests to the memcached node (1) or has ejected it (0).',
    labelNames: ['node'],
    registers,
    collect() {
      for (const h of store.health()) this.set({ node: h.node }, h.state === 'up' ? 1 : 0);
    },
  });
  new Gauge({
    name: `${p}node_needs_resync`,
    help: 'Whether the node may lack writes (missed while down, or restarted empty) until a re-sync completes.',
    labelNames: ['node'],
    registers,
    collect() {
      for (const h of store.health()) this.set({ node: h.node }, h.needsResync ? 1 : 0);
    },
  });
  const ops = new Counter({ name: `${p}operations_total`, help: 'Store operations by result.', labelNames: ['op', 'result'], registers });
  const latency = new Histogram({
    name: `${p}operation_duration_seconds`,
    help: 'Latency of store operations as their caller sees it.',
    labelNames: ['op'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const tombstones = new Counter({ name: `${p}tombstones_written_total`, help: 'Sessions destroyed (a tombstone written to every live replica).', registers });
  const repairs = new Counter({ name: `${p}repairs_total`, help: 'Copies rewritten by read-repair, touch or re-sync, by reason.', labelNames: ['source', 'reason'], registers });
  const corrupt = new Counter({ name: `${p}corrupt_values_total`, help: 'Values rejected when read from memcached, by reason.', labelNames: ['code'], registers });
  const resyncs = new Counter({ name: `${p}resyncs_total`, help: 'Node re-syncs, by result.', labelNames: ['result'], registers });
  const resyncCopied = new Counter({ name: `${p}resync_copied_total`, help: 'Copies written to nodes by re-syncs.', registers });
  const resyncDuration = new Histogram({ name: `${p}resync_duration_seconds`, help: 'Duration of node re-syncs.', buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800], registers });
  const copies = new Gauge({ name: `${p}stored_copies`, help: 'Stored copies per encryption key id ("plain": not sealed, "corrupt": unreadable header), from the last keyUsage() scan.', labelNames: ['key'], registers });

  const onOp = (e: OpEvent) => {
    ops.inc({ op: e.op, result: e.ok ? 'ok' : 'error' });
    latency.observe({ op: e.op }, e.durationMs / 1000);
    if (e.op === 'destroy' && e.ok) tombstones.inc();
  };
  const onRepair = (e: RepairEvent) => {
    for (const r of e.repaired) repairs.inc({ source: e.source, reason: r.reason });
  };
  const onCorrupt = (e: CorruptEvent) => corrupt.inc({ code: e.code });
  const onResync = (r: ResyncResult) => {
    resyncs.inc({ result: r.aborted !== undefined ? 'aborted' : r.failed > 0 ? 'partial' : 'complete' });
    resyncCopied.inc(r.copied);
    resyncDuration.observe(r.durationMs / 1000);
  };
  const onKeyUsage = (u: KeyUsage) => {
    copies.reset();
    for (const [key, n] of Object.entries(u.byKey)) copies.set({ key }, n);
    copies.set({ key: 'plain' }, u.plain);
    copies.set({ key: 'corrupt' }, u.corrupt);
  };
  store.on('op', onOp);
  store.on('repair', onRepair);
  store.on('corrupt', onCorrupt);
  store.on('resync', onResync);
  store.on('keyusage', onKeyUsage);
  const interval = options.keyUsageIntervalMs ?? 0;
  const timer = interval > 0 ? setInterval(() => void store.keyUsage().catch(() => {}), interval) : undefined;
  timer?.unref();
  return {
    close() {
      if (timer) clearInterval(timer);
      store.off('op', onOp);
      store.off('repair', onRepair);
      store.off('corrupt', onCorrupt);
      store.off('resync', onResync);
      store.off('keyusage', onKeyUsage);
    },
  };
}
