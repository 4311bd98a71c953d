import { Status, type CommandContext } from './context.js';

export interface PingLimits {
  /** Smallest HeartbeatInterval accepted, in seconds (MS-ASCMD: 60). */
  minHeartbeatSeconds: number;
  /** Largest HeartbeatInterval accepted, in seconds (MS-ASCMD: 3540). */
  maxHeartbeatSeconds: number;
  /** How often a waiting Ping looks for new mail in the store. */
  pollMs: number;
}

/**
 * Ping: long polling. Request `{"HeartbeatInterval":480,"Folders":[{"Id":"inbox","Class":"Email"}]}`.
 * Holds the request until a message the device does not know arrives in the inbox (Status 2,
 * Folders ["inbox"]) or the interval ends (Status 1). Another node may deliver the message: the
 * mailbox is in the replicated store, so every ActiveSync node sees it.
 */
export async function ping(c: CommandContext, limits: PingLimits): Promise<Record<string, unknown>> {
  const interval = Number(c.body['HeartbeatInterval'] ?? limits.minHeartbeatSeconds);
  if (!Number.isFinite(interval) || interval < limits.minHeartbeatSeconds) return { Status: Status.PING_BAD_HEARTBEAT, HeartbeatInterval: limits.minHeartbeatSeconds };
  if (interval > limits.maxHeartbeatSeconds) return { Status: Status.PING_BAD_HEARTBEAT, HeartbeatInterval: limits.maxHeartbeatSeconds };
  const folders = Array.isArray(c.body['Folders']) ? (c.body['Folders'] as Array<Record<string, unknown>>).map((f) => String(f['Id'])) : ['inbox'];
  if (!folders.includes('inbox')) {
    // Only the inbox receives mail in the demo: nothing can change, wait the interval out.
    await Promise.race([sleep(interval * 1000), c.aborted]);
    return { Status: Status.PING_EXPIRED };
  }
  const synced = c.device.collections['inbox'];
  const baseline = new Set(synced ? synced.known : (await c.mailbox.inbox(c.user.user)).map((m) => m.uid));
  const deadline = Date.now() + interval * 1000;
  let gone = false;
  void c.aborted.then(() => (gone = true));
  for (;;) {
    const inbox = await c.mailbox.inbox(c.user.user);
    if (inbox.some((m) => !baseline.has(m.uid))) return { Status: Status.PING_CHANGES, Folders: ['inbox'] };
    const left = deadline - Date.now();
    if (left <= 0 || gone) return { Status: Status.PING_EXPIRED };
    await Promise.race([sleep(Math.min(limits.pollMs, left)), c.aborted]);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
