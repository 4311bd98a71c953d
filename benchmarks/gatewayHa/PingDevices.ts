// ActiveSync devices holding Ping long polls through the front door (issue 14): each device sends
// POST Cmd=Ping (HeartbeatInterval 60 s, the inbox) through the service address it picked, and
// sends the next one when the previous one ends. A Ping that ends in anything but 200 (the connection
// was reset, refused or timed out, or the gateway answered 5xx) is a Ping that had to reconnect:
// the device sends it again at once, through the same address, as a phone would.
import { Agent, fetch } from 'undici';

export interface PingReconnect {
  /** Seconds since the load's start (performance.now() origin given to startPingDevices). */
  atSec: number;
  device: number;
  /** "socket: ECONNRESET", "HTTP 502"... */
  why: string;
}

export interface PingDevicesResult {
  /** Pings that ended normally (200). */
  completed: number;
  reconnects: PingReconnect[];
}

export interface PingDevices {
  /** Aborts the Pings still held (not counted) and resolves with what happened. */
  stop(): Promise<PingDevicesResult>;
}

const AUTH = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;
/** The lab's ActiveSync hosts accept no shorter interval (MS-ASCMD's minimum). */
const HEARTBEAT_SEC = 60;

/** Starts one device per entry of `urls` (the service address each device keeps). */
export function startPingDevices(urls: readonly string[], startedAt: number): PingDevices {
  const agent = new Agent({ connections: urls.length, keepAliveTimeout: 10_000 });
  const stop = new AbortController();
  const result: PingDevicesResult = { completed: 0, reconnects: [] };
  const loops = urls.map(async (url, d) => {
    // Bounded: stop() ends it; each Ping is bounded by the heartbeat plus a margin.
    while (!stop.signal.aborted) {
      let why: string | undefined;
      try {
        const res = await fetch(`${url}/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=haping${d}&DeviceType=iPhone`, {
          method: 'POST',
          headers: { authorization: AUTH, 'content-type': 'application/json', 'ms-asprotocolversion': '14.1' },
          body: JSON.stringify({ HeartbeatInterval: HEARTBEAT_SEC, Folders: [{ Id: 'inbox', Class: 'Email' }] }),
          signal: AbortSignal.any([stop.signal, AbortSignal.timeout((HEARTBEAT_SEC + 15) * 1000)]),
          dispatcher: agent,
        });
        await res.arrayBuffer();
        if (res.status !== 200) why = `HTTP ${res.status}`;
      } catch (err) {
        if (stop.signal.aborted) break;
        const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
        why = e.name === 'TimeoutError' ? 'timeout' : `socket: ${e.cause?.code ?? e.cause?.message ?? e.message}`;
      }
      if (why === undefined) {
        result.completed++;
        continue;
      }
      result.reconnects.push({ atSec: (performance.now() - startedAt) / 1000, device: d, why });
      // A refused connect fails in a millisecond: a short pause keeps a dead address from spinning.
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  let stopping: Promise<PingDevicesResult> | undefined;
  return {
    stop() {
      stop.abort();
      stopping ??= Promise.all(loops)
        .then(() => agent.destroy())
        .then(() => result);
      return stopping;
    },
  };
}
