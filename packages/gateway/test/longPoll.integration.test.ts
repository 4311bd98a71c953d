import { describe, expect, it } from 'vitest';
import { startActiveSyncUpstream } from './support/activeSyncUpstream.js';
import { testScope } from './support/gateway.js';
import { base64Query, holdPings } from './support/heldPings.js';
import { waitFor } from './support/upstreams.js';

const scope = testScope();
const AS = '/Microsoft-Server-ActiveSync';

async function timedPost(url: string): Promise<{ status: number; ms: number; retryAfter: string | null }> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, { method: 'POST', body: '', signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - t0, retryAfter: res.headers.get('retry-after') };
  } catch {
    return { status: 0, ms: performance.now() - t0, retryAfter: null };
  }
}

describe('held ActiveSync Pings never starve other requests (issue #16)', () => {
  it('a Sync is answered within 100 ms with more Pings held than connectionsPerEndpoint', async () => {
    const up = await startActiveSyncUpstream();
    scope.defer(() => up.close());
    const gw = await scope.gateway({
      routes: [{ match: { prefix: AS, caseInsensitive: true }, cluster: 'activesync' }],
      clusters: { activesync: { endpoints: [{ url: up.url }], connectionsPerEndpoint: 4 } },
    });
    const port = Number(new URL(gw.urls[0]!).port);
    const pings = await holdPings(port, 12, (i) => `Cmd=Ping&User=u&DeviceId=d${i}&DeviceType=SmartPhone`);
    scope.defer(async () => pings.close());
    await waitFor(() => up.held >= 4, 5000, 'the upstream holds the Pings');
    const sync = await timedPost(`${gw.urls[0]}${AS}?Cmd=Sync&User=u&DeviceId=d0&DeviceType=SmartPhone`);
    expect(sync.status, 'Sync answered beside the held Pings').toBe(200);
    expect(sync.ms).toBeLessThan(100);
  });
});
