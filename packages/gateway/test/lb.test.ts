import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LbPolicy, RunningGateway } from '../src/index.js';
import { Endpoint } from '../src/cluster/Endpoint.js';
import { decodeActiveSyncBase64Query, hashKeyOf } from '../src/cluster/hashKey.js';
import { RoundRobin } from '../src/cluster/lb/RoundRobin.js';
import { startUpstream, type TestUpstream } from './support/upstreams.js';
import { gatewayFor } from './support/gateway.js';

/** MS-ASHTTP base64 query: version, command code, locale LE, DeviceId, policy key, DeviceType, params. */
function base64Query(deviceId: string | Buffer, opts: { cmd?: number; policyKey?: boolean; user?: string } = {}): string {
  const id = Buffer.isBuffer(deviceId) ? deviceId : Buffer.from(deviceId, 'latin1');
  const type = Buffer.from('SmartPhone');
  const parts = [Buffer.from([141, opts.cmd ?? 18, 0x09, 0x04, id.length]), id];
  parts.push(opts.policyKey ? Buffer.from([4, 1, 2, 3, 4]) : Buffer.from([0]));
  parts.push(Buffer.from([type.length]), type);
  if (opts.user) parts.push(Buffer.from([8, opts.user.length]), Buffer.from(opts.user));
  return Buffer.concat(parts).toString('base64');
}

let ups: TestUpstream[] = [];
const gateways: RunningGateway[] = [];
beforeAll(async () => {
  ups = await Promise.all(['u0', 'u1', 'u2'].map((n) => startUpstream(n)));
});
afterAll(async () => {
  for (const g of gateways) await g.close(500);
  await Promise.all(ups.map((u) => u.close()));
});

async function gatewayWith(lbPolicy: LbPolicy, weights: number[], extra: Record<string, unknown> = {}): Promise<string> {
  const g = await gatewayFor({
    admin: undefined,
    routes: [{ match: { prefix: '/' }, cluster: 'c' }],
    clusters: { c: { lbPolicy, endpoints: weights.map((weight, i) => ({ url: ups[i]!.url, weight })), ...extra } },
  });
  gateways.push(g);
  return g.urls[0]!;
}

async function countUpstreams(url: (i: number) => string, n: number, concurrency = 1, init?: (i: number) => RequestInit): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const res = await fetch(url(i), { ...init?.(i), signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        const who = res.headers.get('x-upstream') ?? `status ${res.status}`;
        counts[who] = (counts[who] ?? 0) + 1;
      }
    }),
  );
  return counts;
}

describe('load-balancing policies: distribution', () => {
  it('round_robin (smooth weighted, nginx): weights 5,1,1 give a a b a c a a', () => {
    const eps = [5, 1, 1].map((weight, i) => new Endpoint('c', { url: `http://127.0.0.1:${1000 + i}`, weight, priority: 1, backup: false }, { connectTimeoutMs: 100, connections: 1, keepAliveTimeoutMs: 100, maxLongPolls: 1 }));
    const rr = new RoundRobin();
    const seq = Array.from({ length: 7 }, () => eps.indexOf(rr.pick({ candidates: eps, hashKey: undefined })));
    expect(seq).toEqual([0, 0, 1, 0, 2, 0, 0]);
    for (const e of eps) void e.pool.destroy();
  });

  const cases: Array<{ policy: LbPolicy; weights: number[]; n: number; concurrency: number; expected: number[]; tolerance: number }> = [
    { policy: 'round_robin', weights: [1, 2], n: 300, concurrency: 4, expected: [1 / 3, 2 / 3], tolerance: 0.01 },
    { policy: 'round_robin', weights: [1, 1, 1], n: 300, concurrency: 4, expected: [1 / 3, 1 / 3, 1 / 3], tolerance: 0.01 },
    { policy: 'random', weights: [1, 1], n: 400, concurrency: 4, expected: [0.5, 0.5], tolerance: 0.1 },
    { policy: 'random', weights: [1, 3], n: 400, concurrency: 4, expected: [0.25, 0.75], tolerance: 0.1 },
    { policy: 'least_request', weights: [1, 1], n: 400, concurrency: 4, expected: [0.5, 0.5], tolerance: 0.12 },
    { policy: 'least_request', weights: [1, 3], n: 400, concurrency: 1, expected: [0.25, 0.75], tolerance: 0.1 },
  ];
  it.each(cases)('$policy weights $weights → ratios $expected', async ({ policy, weights, n, concurrency, expected, tolerance }) => {
    const base = await gatewayWith(policy, weights);
    const counts = await countUpstreams(() => `${base}/x`, n, concurrency);
    expected.forEach((ratio, i) => expect(Math.abs((counts[`u${i}`] ?? 0) / n - ratio)).toBeLessThanOrEqual(tolerance));
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(n);
  });

  it('least_request sends new requests away from the endpoint holding slow ones', async () => {
    const g = await gatewayFor({ admin: undefined, routes: [{ match: { prefix: '/' }, cluster: 'c' }], clusters: { c: { lbPolicy: 'least_request', endpoints: [{ url: ups[0]!.url }, { url: ups[1]!.url }] } } });
    gateways.push(g);
    const base = g.urls[0]!;
    // Park 6 slow requests on u0 (u1 drained meanwhile), then u1 comes back: every fast request
    // whose two draws include u1 goes there (P = 3/4), so u1 must get most of them. Asserted
    // unconditionally (the old test asserted only inside ifs and could not fail on equal parking).
    g.runtime.setDrained('c', ups[1]!.url, true);
    const slow = Array.from({ length: 6 }, () => fetch(`${base}/sleep/1500`).then((r) => r.json() as Promise<{ name: string }>));
    await new Promise((r) => setTimeout(r, 300));
    g.runtime.setDrained('c', ups[1]!.url, false);
    const counts = await countUpstreams(() => `${base}/fast`, 60, 1);
    const parked = await Promise.all(slow);
    expect(parked.map((p) => p.name)).toEqual(Array(6).fill('u0'));
    expect(counts['u1'] ?? 0).toBeGreaterThanOrEqual(30);
    expect(counts['u1'] ?? 0).toBeGreaterThan(counts['u0'] ?? 0);
    expect((counts['u0'] ?? 0) + (counts['u1'] ?? 0)).toBe(60);
  });
});

describe('ring_hash', () => {
  it('decodes DeviceId, DeviceType and User from the MS-ASHTTP base64 query', () => {
    expect(decodeActiveSyncBase64Query(base64Query('ABC123', { policyKey: true, user: 'jane' }))).toEqual({ Cmd: 'Ping', DeviceId: 'ABC123', DeviceType: 'SmartPhone', User: 'jane' });
    expect(decodeActiveSyncBase64Query(base64Query(Buffer.from([0xde, 0xad, 0xbe, 0xef])))!['DeviceId']).toBe('deadbeef');
    expect(decodeActiveSyncBase64Query('AAAA')).toBeUndefined();
    const q = encodeURIComponent(base64Query('dev+/='));
    expect(hashKeyOf({ query: 'DeviceId' }, `/Microsoft-Server-ActiveSync?${q}`, {})).toBe('dev+/=');
    expect(hashKeyOf({ query: 'DeviceId' }, '/Microsoft-Server-ActiveSync?Cmd=Sync&User=j&DeviceId=dev1&DeviceType=iPhone', {})).toBe('dev1');
    expect(hashKeyOf({ query: 'DeviceId' }, '/Microsoft-Server-ActiveSync', {})).toBeUndefined();
    expect(hashKeyOf({ cookie: 'sid' }, '/', { cookie: 'a=1; sid=xyz; b=2' })).toBe('xyz');
    expect(hashKeyOf({ header: 'X-User' }, '/', { 'x-user': 'jane' })).toBe('jane');
  });

  it('sticks each DeviceId to one endpoint in both query forms, and spreads devices over all endpoints', async () => {
    const base = await gatewayWith('ring_hash', [1, 1, 1], { hashOn: { query: 'DeviceId' } });
    const owner: Record<string, string> = {};
    const devices = Array.from({ length: 60 }, (_, i) => `device-${i}`);
    for (const d of devices) {
      const seen = new Set<string>();
      for (const url of [
        `${base}/Microsoft-Server-ActiveSync?Cmd=Sync&User=jane&DeviceId=${d}&DeviceType=iPhone`,
        `${base}/Microsoft-Server-ActiveSync?Cmd=Ping&User=jane&DeviceId=${d}&DeviceType=iPhone`,
        `${base}/Microsoft-Server-ActiveSync?${encodeURIComponent(base64Query(d, { cmd: 0 }))}`,
        `${base}/Microsoft-Server-ActiveSync?${base64Query(d, { cmd: 18, policyKey: true, user: 'jane' })}`,
      ]) {
        const res = await fetch(url, { method: 'POST', body: 'x' });
        await res.arrayBuffer();
        seen.add(res.headers.get('x-upstream')!);
      }
      expect([...seen]).toHaveLength(1);
      owner[d] = [...seen][0]!;
    }
    const per = (n: string) => Object.values(owner).filter((o) => o === n).length;
    for (const n of ['u0', 'u1', 'u2']) expect(per(n)).toBeGreaterThanOrEqual(8);
  });

  it('moves only the devices of a drained endpoint, and moves them back', async () => {
    const g = await gatewayFor({ admin: undefined, routes: [{ match: { prefix: '/' }, cluster: 'c' }], clusters: { c: { lbPolicy: 'ring_hash', hashOn: { header: 'X-Device' }, endpoints: ups.map((u) => ({ url: u.url })) } } });
    gateways.push(g);
    const ownerOf = async (d: string) => {
      const res = await fetch(`${g.urls[0]}/x`, { headers: { 'x-device': d } });
      await res.arrayBuffer();
      return res.headers.get('x-upstream')!;
    };
    const devices = Array.from({ length: 30 }, (_, i) => `d${i}`);
    const before = await Promise.all(devices.map(ownerOf));
    g.runtime.setDrained('c', ups[1]!.url, true);
    const during = await Promise.all(devices.map(ownerOf));
    devices.forEach((_, i) => {
      if (before[i] === 'u1') expect(during[i]).not.toBe('u1');
      else expect(during[i]).toBe(before[i]);
    });
    g.runtime.setDrained('c', ups[1]!.url, false);
    expect(await Promise.all(devices.map(ownerOf))).toEqual(before);
  });
});
