// drainDelayMs (issue 14, `stop` of the VRRP master): on SIGTERM /readyz is 503 at once (keepalived's
// check fails and the peer takes the service address) while new connections are still accepted and
// answered with Connection: close; after the delay new connections are refused and in-flight
// requests finish. Real bin, real sockets, single-process and workers mode.
import { writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cliScope, configFor, freePort, sleep } from './cliHarness.js';

const { dir, upstream, start } = cliScope();
const DELAY_MS = 2000;

/** One GET; its status and Connection header, or the socket error's code. */
function request(url: string, agent: Agent | false = false): Promise<{ status: number; connection: string | undefined } | { error: string }> {
  return new Promise((resolve) => {
    const req = get(url, { agent, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

const cases = [
  { name: 'single process', workers: 1 },
  { name: 'workers: 2 (the primary answers /readyz, the workers keep accepting)', workers: 2 },
];

describe('SIGTERM with drainDelayMs', () => {
  it.each(cases)('$name: /readyz 503 at once, new connections served with Connection: close for the delay, then refused; in-flight finishes', async ({ workers }) => {
    const a = await upstream(`a${workers}`);
    const [port, adminPort] = [await freePort(), await freePort()];
    const file = join(dir, `delay-${workers}.yaml`);
    writeFileSync(file, stringify(configFor(port, adminPort, [a.url], { workers, drainDelayMs: DELAY_MS, drainTimeoutMs: 10_000 })));
    const gw = await start(file, port, adminPort);
    // /readyz is ready with one listening worker; the test needs every worker to have the listener.
    for (const deadline = Date.now() + 15_000; ; await sleep(100)) {
      const s = (await (await fetch(`${gw.admin}/status?format=json`)).json()) as { workers?: Array<{ listening: boolean }> };
      if ((s.workers?.filter((w) => w.listening).length ?? 1) === workers) break;
      if (Date.now() > deadline) throw new Error(`${workers} workers did not all listen:\n${gw.output()}`);
    }
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    // A keep-alive connection opened before the signal, and a request that outlasts the delay.
    expect(await request(`${gw.base}/before`, keepAlive)).toEqual({ status: 200, connection: 'keep-alive' });
    const inFlight = request(`${gw.base}/sleep/${DELAY_MS + 1000}`);
    await sleep(200);

    const t0 = Date.now();
    gw.child.kill('SIGTERM');
    let notReadyAfterMs = -1;
    while (Date.now() - t0 < 1000) {
      const ready = await fetch(`${gw.admin}/readyz`).then((r) => r.status, () => 0);
      if (ready === 503) {
        notReadyAfterMs = Date.now() - t0;
        break;
      }
      await sleep(10);
    }
    expect(notReadyAfterMs, 'ms from SIGTERM until /readyz answered 503').toBeGreaterThanOrEqual(0);
    expect(notReadyAfterMs).toBeLessThan(300);

    // During the delay: every new connection is accepted and answered, then closed by the gateway.
    const during: unknown[] = [];
    while (Date.now() - t0 < DELAY_MS - 500) {
      during.push(await request(`${gw.base}/during`));
      await sleep(100);
    }
    expect(during.length).toBeGreaterThan(5);
    for (const r of during) expect(r).toEqual({ status: 200, connection: 'close' });
    // The connection opened before the signal gets its answer, with Connection: close.
    expect(await request(`${gw.base}/reused`, keepAlive)).toEqual({ status: 200, connection: 'close' });
    expect(await fetch(`${gw.admin}/readyz`).then((r) => r.status)).toBe(503);

    // After the delay: refused, while the in-flight request still holds the process.
    await sleep(Math.max(0, t0 + DELAY_MS + 500 - Date.now()));
    expect(await request(`${gw.base}/after`)).toEqual({ error: 'ECONNREFUSED' });
    expect(await inFlight).toEqual({ status: 200, connection: 'close' });
    expect(await gw.exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(DELAY_MS);
    expect(gw.output()).toMatch(/"drainDelayMs":2000/);
    keepAlive.destroy();
  });
});
