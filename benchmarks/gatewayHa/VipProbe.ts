// Whether each front-door address answers, 10 times a second: GET /healthz on a new connection
// each time (as a client that just resolved the name would), bounded by 400 ms. A fault's "answered
// again" time comes from here, not from the load (whose kept-alive connections see only part of it).
import { request } from 'node:http';

export interface ProbeSample {
  /** Seconds since the load's start. */
  atSec: number;
  ok: boolean;
}

export interface VipProbe {
  /** Stops probing (waits for the probes in flight: none may reach an address after the lab is gone); samples per URL, in the order of `urls`. */
  stop(): Promise<ProbeSample[][]>;
}

function answers(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/healthz`, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

export function startVipProbe(urls: readonly string[], startedAt: number, everyMs = 100, timeoutMs = 400): VipProbe {
  const samples: ProbeSample[][] = urls.map(() => []);
  let stopped = false;
  const loops = urls.map(async (url, i) => {
    while (!stopped) {
      const t0 = performance.now();
      const ok = await answers(url, timeoutMs);
      samples[i]!.push({ atSec: (t0 - startedAt) / 1000, ok });
      const wait = everyMs - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return samples;
    },
  };
}
