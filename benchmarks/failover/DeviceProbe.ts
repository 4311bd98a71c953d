// ActiveSync devices beside the webmail users in the multi-host lab: each device sends OPTIONS
// /Microsoft-Server-ActiveSync (authenticated, its own DeviceId: the gateway's ring hash pins it to
// one ActiveSync host) one after another, 10 per second, so that a fault between the proxy and an
// ActiveSync host (the lab's one-way loss gateway → activesync-1) shows up as failed or slow requests.
import { Agent, fetch } from 'undici';

export interface DeviceSecond {
  t: number;
  requests: number;
  ok: number;
  errors: number;
  maxMs: number | null;
}

export interface DeviceProbe {
  /** Stops the devices; resolves with one sample per second since start. */
  stop(): Promise<DeviceSecond[]>;
}

/** Starts `devices` devices against `url` (the proxy); `startedAt` is the load's performance.now() origin. */
export function startDevices(url: string, devices: number, startedAt: number, timeoutMs = 10_000): DeviceProbe {
  const agent = new Agent({ connections: devices, keepAliveTimeout: 10_000 });
  const seconds: DeviceSecond[] = [];
  const at = () => {
    const t = Math.max(0, Math.floor((performance.now() - startedAt) / 1000));
    for (let i = seconds.length; i <= t; i++) seconds.push({ t: i, requests: 0, ok: 0, errors: 0, maxMs: null });
    return seconds[t]!;
  };
  let stopped = false;
  const auth = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;
  const loops = Array.from({ length: devices }, async (_, d) => {
    while (!stopped) {
      const t0 = performance.now();
      let ok = false;
      try {
        const res = await fetch(`${url}/Microsoft-Server-ActiveSync?Cmd=Options&User=alice&DeviceId=labdevice${d}&DeviceType=iPhone`, {
          method: 'OPTIONS',
          headers: { authorization: auth, 'ms-asprotocolversion': '14.1' },
          signal: AbortSignal.timeout(timeoutMs),
          dispatcher: agent,
        });
        await res.arrayBuffer();
        ok = res.status === 200;
      } catch {
        ok = false;
      }
      const ms = performance.now() - t0;
      const s = at();
      s.requests++;
      if (ok) {
        s.ok++;
        s.maxMs = Math.max(s.maxMs ?? 0, Math.round(ms * 100) / 100);
      } else s.errors++;
      const wait = 100 - ms;
      if (wait > 0 && !stopped) await new Promise((r) => setTimeout(r, wait));
    }
  });
  let stopping: Promise<DeviceSecond[]> | undefined;
  return {
    stop() {
      stopped = true;
      stopping ??= Promise.all(loops).then(() => agent.close()).then(() => seconds);
      return stopping;
    },
  };
}
