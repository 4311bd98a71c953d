import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { outputReady, SupervisedProcess } from '@webtier/testkit';
import { startActiveSyncUpstream } from './support/activeSyncUpstream.js';
import { base64Query, holdPings } from './support/heldPings.js';
import { waitFor } from './support/upstreams.js';

// The gateway CLI (the package's webtier-gateway bin) as an operator runs it: real SIGHUP and SIGTERM with Pings held.
const CLI = fileURLToPath(new URL('../bin/webtier-gateway.js', import.meta.url));
const AS = '/Microsoft-Server-ActiveSync';
const dir = mkdtempSync(join(tmpdir(), 'gw-longpoll-'));
const children: SupervisedProcess[] = [];
afterAll(async () => {
  await Promise.allSettled(children.map((c) => c.kill()));
  rmSync(dir, { recursive: true, force: true });
});

describe('held Pings across SIGHUP and SIGTERM (issue #16)', () => {
  it('SIGHUP with 300 Pings held keeps every one; SIGTERM answers each (503) within drainTimeoutMs', async () => {
    expect(existsSync(CLI), `${CLI} is missing: run npm run build first`).toBe(true);
    const up = await startActiveSyncUpstream();
    try {
      const config = (retryAfterSeconds: number) =>
        JSON.stringify({
          listeners: [{ host: '127.0.0.1', port: 0 }],
          logLevel: 'info',
          drainTimeoutMs: 1500,
          retryAfterSeconds,
          routes: [{ match: { prefix: AS, caseInsensitive: true }, cluster: 'activesync' }],
          clusters: { activesync: { endpoints: [{ url: up.url }], connectionsPerEndpoint: 4, maxLongPolls: 1000 } },
        });
      const file = join(dir, 'gateway.json');
      writeFileSync(file, config(5));
      // No exitWithParent preload: the bin runs as an operator starts it.
      const gateway = new SupervisedProcess({ name: 'gateway CLI', command: process.execPath, args: [CLI, '--config', file], ready: outputReady(/"gateway listening"/), readyTimeoutMs: 15_000, exitWithParent: false });
      children.push(gateway);
      await gateway.start();
      const child = gateway.child!;
      const out = () => gateway.output();
      const url = /"listeners":\["(http:\/\/[^"]+)"/.exec(out())?.[1];
      expect(url, `listening URL in the CLI output:\n${out()}`).toBeDefined();
      const port = Number(new URL(url!).port);
      const pings = await holdPings(port, 300, (i) => (i % 2 ? base64Query(18, `d${i}`) : `Cmd=Ping&User=u&DeviceId=d${i}&DeviceType=SmartPhone`), 100, () => up.held);
      try {
        await waitFor(() => up.held === 300, 15_000, 'the upstream holds 300 Pings');

        writeFileSync(file, config(7));
        child.kill('SIGHUP');
        await waitFor(() => /"config reloaded"/.test(out()), 5000, 'the reload');
        const sync = await fetch(`${url}${AS}?Cmd=Sync&User=u&DeviceId=d0&DeviceType=SmartPhone`, { method: 'POST', body: '', signal: AbortSignal.timeout(2000) });
        expect(sync.status).toBe(200);
        expect(up.held, 'every Ping still held after the reload').toBe(300);
        expect(pings.closed + pings.answers.length, 'no Ping answered or closed by the reload').toBe(0);
        const t0 = Date.now();
        const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
        child.kill('SIGTERM');
        await waitFor(() => pings.answers.length === 300, 1500 + 2000, 'every Ping answered or closed after SIGTERM');
        const drainedMs = Date.now() - t0;
        expect(drainedMs, 'within drainTimeoutMs (1500) plus scheduling slack').toBeLessThan(1500 + 1000);
        expect(await exited).toBe(0);
        // Answered, not cut: a device gets 503 + Retry-After and re-Pings elsewhere at once.
        expect(pings.answers.filter((s) => s === 503).length, 'each held Ping answered 503 by the drain').toBe(300);
      } finally {
        pings.close();
      }
    } finally {
      await up.close();
    }
  }, 60_000);
});
