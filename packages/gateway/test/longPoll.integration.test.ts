import { describe, expect, it } from 'vitest';
import { resolveRoute } from '../src/config/resolve.js';
import { parseConfig } from '../src/config/load.js';
import { readFileLimit } from '../src/limits.js';
import { isLongPoll } from '../src/proxy/longPoll.js';
import { startActiveSyncUpstream, type ActiveSyncUpstream } from './support/activeSyncUpstream.js';
import { get, testScope } from './support/gateway.js';
import { base64Query, holdPings, type HeldPings } from './support/heldPings.js';
import { waitFor } from './support/upstreams.js';

const scope = testScope();
const AS = '/Microsoft-Server-ActiveSync';
const plainQuery = (cmd: string, i = 0) => `Cmd=${cmd}&User=u&DeviceId=d${i}&DeviceType=SmartPhone`;

async function timedPost(url: string, timeoutMs = 2000): Promise<{ status: number; ms: number; retryAfter: string | null; code: string }> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, { method: 'POST', body: '', signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    return { status: res.status, ms: performance.now() - t0, retryAfter: res.headers.get('retry-after'), code: /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? '' };
  } catch {
    return { status: 0, ms: performance.now() - t0, retryAfter: null, code: '' };
  }
}

/** The fastest of `n` Syncs (each must be answered 200 within 2 s): the machine is shared, one slow sample is noise. */
async function fastestSync(base: string, n = 5): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    const r = await timedPost(`${base}${AS}?${plainQuery('Sync', i)}`);
    expect(r.status, `Sync #${i} answered beside the held Pings`).toBe(200);
    best = Math.min(best, r.ms);
  }
  return best;
}

describe('which requests are long polls (routes[].longPoll)', () => {
  const cases: Array<{ longPoll: unknown; cluster?: string; url: string; expected: boolean }> = [
    { longPoll: undefined, cluster: 'activesync', url: `${AS}?${plainQuery('Ping')}`, expected: true },
    { longPoll: undefined, cluster: 'activesync', url: `${AS}?${plainQuery('ping')}`, expected: true },
    { longPoll: undefined, cluster: 'activesync', url: `${AS}?${plainQuery('Sync')}`, expected: false },
    { longPoll: undefined, cluster: 'activesync', url: `${AS}?${base64Query(18)}`, expected: true },
    { longPoll: undefined, cluster: 'activesync', url: `${AS}?${base64Query(0)}`, expected: false },
    { longPoll: undefined, cluster: 'activesync', url: AS, expected: false },
    { longPoll: undefined, cluster: 'activesync', url: `${AS}?!!notbase64`, expected: false },
    { longPoll: undefined, cluster: 'webmail', url: `${AS}?${plainQuery('Ping')}`, expected: false },
    { longPoll: true, cluster: 'webmail', url: '/anything', expected: true },
    { longPoll: false, cluster: 'activesync', url: `${AS}?${plainQuery('Ping')}`, expected: false },
    { longPoll: { query: { cmd: ['Ping', 'GetItemEstimate'] } }, url: `${AS}?${base64Query(14)}`, expected: true },
    { longPoll: { query: { Cmd: 'Ping', DeviceType: 'iPhone' } }, url: `${AS}?${plainQuery('Ping')}`, expected: false },
  ];
  it.each(cases)('longPoll $longPoll on cluster $cluster: $url -> $expected', ({ longPoll, cluster = 'c', url, expected }) => {
    const config = parseConfig({
      listeners: [{ port: 0 }],
      routes: [{ match: { prefix: '/' }, cluster, ...(longPoll === undefined ? {} : { longPoll }) }],
      clusters: { [cluster]: { endpoints: [{ url: 'http://127.0.0.1:1' }] } },
    } as never);
    const route = resolveRoute(config.routes[0]!, cluster, config.clusters[cluster], config);
    expect(isLongPoll(route, url)).toBe(expected);
  });

  it('rejects a matcher that is not { query: { name: value } } with the path', () => {
    expect(() => parseConfig({ listeners: [{ port: 0 }], routes: [{ match: { prefix: '/' }, cluster: 'c', longPoll: { query: { Cmd: 3 } } }], clusters: { c: { endpoints: [{ url: 'http://127.0.0.1:1' }] } } } as never)).toThrow(/routes\[0\]\.longPoll/);
  });
});

describe('held ActiveSync Pings never starve other requests (issue #16)', () => {
  async function setup(cluster: Record<string, unknown>, route: Record<string, unknown> = {}): Promise<{ up: ActiveSyncUpstream; base: string; port: number; admin: string }> {
    const up = await startActiveSyncUpstream();
    scope.defer(() => up.close());
    const gw = await scope.gateway({
      routes: [{ match: { prefix: AS, caseInsensitive: true }, cluster: 'activesync', ...route }],
      clusters: { activesync: { endpoints: [{ url: up.url }], ...cluster } },
    });
    return { up, base: gw.urls[0]!, port: Number(new URL(gw.urls[0]!).port), admin: gw.adminUrl! };
  }
  const hold = async (port: number, n: number, up: ActiveSyncUpstream): Promise<HeldPings> => {
    // Both MS-ASHTTP query forms, as a mixed fleet of phones sends them.
    const p = await holdPings(port, n, (i) => (i % 2 ? base64Query(18, `d${i}`) : plainQuery('Ping', i)), 100, () => up.held);
    scope.defer(async () => p.close());
    return p;
  };

  it('a Sync is answered within 100 ms with more Pings held than connectionsPerEndpoint', async () => {
    const { up, base, port } = await setup({ connectionsPerEndpoint: 4 });
    await hold(port, 12, up);
    await waitFor(() => up.held === 12, 5000, 'the upstream holds the 12 Pings');
    expect(await fastestSync(base)).toBeLessThan(100);
  });

  it('an ordinary request waits at most queueTimeoutMs for a busy endpoint, then 503 + Retry-After', async () => {
    // longPoll: false puts the Pings in the ordinary lane: the two connections stay busy.
    const { up, base, port, admin } = await setup({ connectionsPerEndpoint: 2, queueTimeoutMs: 200 }, { longPoll: false });
    await hold(port, 2, up);
    await waitFor(() => up.held === 2, 5000, 'the upstream holds 2 Pings');
    const r = await timedPost(`${base}${AS}?${plainQuery('Sync')}`);
    expect(r).toMatchObject({ status: 503, code: 'GW_ERR_QUEUE_TIMEOUT', retryAfter: '5' });
    expect(r.ms).toBeGreaterThanOrEqual(190);
    expect((await get(`${admin}/metrics`)).text).toMatch(/gateway_rejected_total\{cluster="activesync",reason="queue_timeout"\} 1/);
    up.releasePings();
    await waitFor(async () => (await timedPost(`${base}${AS}?${plainQuery('Sync')}`)).status === 200, 5000, 'a Sync once the Pings are answered');
  });

  it('2,000 held Pings through one endpoint: a Sync within 100 ms, the Ping over maxLongPolls 503 at once', async () => {
    const limit = readFileLimit();
    // client + gateway downstream + gateway upstream + upstream server sockets, all in this process.
    expect(limit?.soft ?? 0, 'this test opens ~8,000 sockets: raise the open-file limit (ulimit -n 10000)').toBeGreaterThan(9000);
    const { up, base, port, admin } = await setup({ connectionsPerEndpoint: 4, maxLongPolls: 2000 });
    const pings = await hold(port, 2000, up);
    await waitFor(() => up.held === 2000, 60_000, 'the upstream holds 2,000 Pings').catch((err: Error) => {
      throw new Error(`${err.message}: held ${up.held}, answered ${pings.answers.length} (${[...new Set(pings.answers)].join(', ')}), closed ${pings.closed}`);
    });
    const over = await timedPost(`${base}${AS}?${base64Query(18, 'over')}`);
    expect(over).toMatchObject({ status: 503, code: 'GW_ERR_LONG_POLL_BUDGET', retryAfter: '5' });
    expect(over.ms, 'answered at once, not queued').toBeLessThan(1000);
    expect(await fastestSync(base)).toBeLessThan(100);
    const metrics = (await get(`${admin}/metrics`)).text;
    expect(metrics).toMatch(/gateway_rejected_total\{cluster="activesync",reason="long_poll_budget"\} 1/);
    expect(metrics).toMatch(/gateway_endpoint_long_polls\{cluster="activesync",endpoint="[^"]+"\} 2000/);
    expect(pings.answers.length, 'no held Ping was answered or closed').toBe(0);
    up.releasePings();
    await waitFor(() => pings.answers.length === 2000, 30_000, 'every Ping answered once released');
    expect(pings.answers.every((s) => s === 200)).toBe(true);
  }, 120_000);
});
