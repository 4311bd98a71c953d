import type { NodeHealth } from './NodeHealth.js';
import type { Replicator } from './Replicator.js';

/** Payload of the store's `resync` event and result of `store.resync(node)`. */
export interface ResyncResult {
  readonly node: string;
  readonly reason: string;
  /** Distinct session keys listed on the node's peers (this store's prefix only). */
  readonly scanned: number;
  /** Of those, keys whose preference list includes the node. */
  readonly owned: number;
  /** Copies written to the node (missing, stale or corrupt there). */
  readonly copied: number;
  /** Keys that could not be read or written. */
  readonly failed: number;
  readonly durationMs: number;
  /** Set when the re-sync stopped early (the node failed again or the store closed). */
  readonly aborted: string | undefined;
}

export interface ResyncDeps {
  readonly replicator: Replicator;
  readonly health: NodeHealth;
  /** Keys with the store's prefix listed on every live node except `node`, de-duplicated. */
  listPeerKeys(node: string): Promise<string[]>;
  idOf(key: string): string;
  readonly ratePerSec: number;
  isClosed(): boolean;
}

/**
 * Re-sync of one node: walk its peers' session keys and, for every key the node should hold, read
 * all live replicas and copy the newest to the node when its copy is missing or older. Paced at
 * `ratePerSec` keys per second so that restoring redundancy never swamps the cluster.
 */
export async function resyncNode(node: string, reason: string, d: ResyncDeps): Promise<ResyncResult> {
  const started = Date.now();
  const epoch = d.health.failureEpoch;
  const keys = await d.listPeerKeys(node);
  const owned = keys.filter((k) => d.replicator.placement.owners(k).includes(node));
  let copied = 0;
  let failed = 0;
  let aborted: string | undefined;
  const concurrency = Math.max(1, Math.min(16, d.ratePerSec));
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (d.isClosed()) aborted ??= 'the store was closed';
      else if (!d.health.isUp) aborted ??= `${node} failed again`;
      if (aborted !== undefined || next >= owned.length) return;
      const i = next++;
      // Pacing: key i may start no earlier than i / rate seconds after the start.
      const due = started + (i * 1000) / d.ratePerSec - Date.now();
      if (due > 0) await new Promise((r) => setTimeout(r, due));
      const key = owned[i]!;
      try {
        const out = await d.replicator.read(key, d.idOf(key), { mode: 'all', source: 'resync', repairOnly: node });
        const done = await out.repaired;
        if (done.some((x) => x.node === node)) copied++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  // Only a complete, clean pass vouches for the node again.
  if (aborted === undefined && failed === 0 && d.health.failureEpoch === epoch) d.health.needsResync = false;
  return { node, reason, scanned: keys.length, owned: owned.length, copied, failed, durationMs: Date.now() - started, aborted };
}
