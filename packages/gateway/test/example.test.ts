import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startGateway, type RunningGateway } from '../src/index.js';
import { dispatchTimeouts } from '../src/proxy/Forwarder.js';
import { startUpstream, type TestUpstream } from './support/upstreams.js';
import { get } from './support/gateway.js';

// Issue 4's example config, verbatim in a file: it must validate as written, and run as written
// once its addresses point at real loopback upstreams.
const FIXTURE = fileURLToPath(new URL('./fixtures/issue-4-example.yaml', import.meta.url));
const LONG_POLL_MS = 3_660_000;
const MiB = 1024 * 1024;

/** The example's endpoint URLs → the name of the loopback upstream standing in for each. */
const STAND_INS = {
  'http://10.0.0.11:8000': 'webmail-1',
  'http://10.0.0.12:8000': 'webmail-2',
  'http://10.0.0.21:8000': 'activesync-1',
  'http://10.0.0.22:8000': 'activesync-2',
  'http://10.0.0.31:8000': 'assets-1',
  'http://10.0.0.32:8000': 'assets-2',
} as const;

const dir = mkdtempSync(join(tmpdir(), 'gw-example-'));
const upstreams = new Map<string, TestUpstream>();
let gw: RunningGateway;
let base: string;

/** undici keeps a Pool's constructor options under Symbol(options): what the endpoint's connections really use. */
function poolOptions(pool: object): { headersTimeout?: number; bodyTimeout?: number } {
  const sym = Object.getOwnPropertySymbols(pool).find((s) => s.description === 'options');
  return (pool as Record<symbol, { headersTimeout?: number; bodyTimeout?: number }>)[sym!]!;
}

/** The MS-ASHTTP base64 query: version, command code, locale, DeviceId, policy key, DeviceType, User parameter. */
function base64Query(deviceId: string, command = 18 /* Ping */): string {
  const id = Buffer.from(deviceId, 'latin1');
  const type = Buffer.from('iPhone', 'latin1');
  const user = Buffer.from('jane.doe', 'latin1');
  const bytes = Buffer.concat([
    Buffer.from([141, command, 0x09, 0x04, id.length]),
    id,
    Buffer.from([4, 1, 2, 3, 4, type.length]),
    type,
    Buffer.from([8, user.length]),
    user,
  ]);
  return bytes.toString('base64');
}

const served = async (path: string, init: RequestInit = {}) => {
  const r = await get(base + path, init);
  return { status: r.status, by: r.headers.get('x-upstream') };
};

beforeAll(async () => {
  let yaml = readFileSync(FIXTURE, 'utf8');
  for (const [url, name] of Object.entries(STAND_INS)) {
    const up = await startUpstream(name);
    upstreams.set(name, up);
    yaml = yaml.replace(url, up.url);
  }
  yaml = yaml.replace('{ host: 0.0.0.0, port: 8080 }', '{ host: 127.0.0.1, port: 0 }').replace('port: 9901', 'port: 0');
  expect(yaml).not.toMatch(/10\.0\.0\.|8080|9901/);
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, `logLevel: silent\n${yaml}`);
  gw = await startGateway(loadConfig(file));
  base = gw.urls[0]!;
});

afterAll(async () => {
  await gw?.close(0);
  await Promise.all([...upstreams.values()].map((u) => u.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe("issue 4's example config (test/fixtures/issue-4-example.yaml)", () => {
  it('validates as written and yields the documented timeouts and body limits per route', () => {
    const config = loadConfig(FIXTURE);
    expect(config.listeners).toEqual([{ host: '0.0.0.0', port: 8080 }]);
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 9901 });
    const routes = gw.runtime.state.routes.routes.map((r) => [r.prefixes.join(' '), r.cluster, r.longPoll, r.timeoutMs, r.bodyLimitBytes]);
    expect(routes).toEqual([
      ['/Microsoft-Server-ActiveSync', 'activesync', true, LONG_POLL_MS, 20 * MiB],
      ['/autodiscover/', 'activesync', true, LONG_POLL_MS, 20 * MiB],
      ['/assets/ /skins/ /program/js/ /static.php', 'assets', false, 30_000, 25 * MiB],
      ['/', 'webmail', false, 60_000, 25 * MiB],
    ]);
  });

  it("ActiveSync's effective upstream timeouts outlive undici's 300 s defaults (request options and pool options)", () => {
    for (const route of gw.runtime.state.routes.routes.filter((r) => r.cluster === 'activesync')) {
      const t = dispatchTimeouts(route);
      expect(t.headersTimeout).toBeGreaterThanOrEqual(LONG_POLL_MS);
      expect(t.bodyTimeout).toBeGreaterThanOrEqual(LONG_POLL_MS);
    }
    for (const e of gw.runtime.state.clusters.get('activesync')!.cluster.endpoints) {
      // 0 = off: only the per-request timeouts of the route apply, never undici's 300 s.
      expect(poolOptions(e.pool)).toMatchObject({ headersTimeout: 0, bodyTimeout: 0 });
    }
  });

  it.each([
    ['/Microsoft-Server-ActiveSync?Cmd=Ping&User=jane&DeviceId=DEV1&DeviceType=iPhone', 'activesync'],
    ['/microsoft-server-activesync?Cmd=Sync&User=jane&DeviceId=DEV1&DeviceType=iPhone', 'activesync'],
    ['/AutoDiscover/AutoDiscover.xml', 'activesync'],
    ['/assets/app.css', 'assets'],
    ['/skins/elastic/styles.css', 'assets'],
    ['/program/js/app.min.js', 'assets'],
    ['/static.php/plugins/logo.png', 'assets'],
    ['/', 'webmail'],
    ['/?_task=mail&_mbox=INBOX', 'webmail'],
    ['/skin/not-an-asset', 'webmail'],
    ['/Assets/case-sensitive', 'webmail'],
  ])('routes %s to %s', async (path, cluster) => {
    const r = await served(path);
    expect(r.status).toBe(200);
    expect(r.by).toMatch(new RegExp(`^${cluster}-\\d$`));
  });

  it('assets go to the priority-200 endpoint only; webmail splits 1:2 by weight (smooth round robin)', async () => {
    const assets: Record<string, number> = {};
    const webmail: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      const a = await served(`/assets/${i}.css`);
      assets[a.by!] = (assets[a.by!] ?? 0) + 1;
      const w = await served(`/?_task=mail&i=${i}`);
      webmail[w.by!] = (webmail[w.by!] ?? 0) + 1;
    }
    expect(assets).toEqual({ 'assets-1': 30 });
    expect(webmail).toEqual({ 'webmail-1': 10, 'webmail-2': 20 });
  });

  it('ActiveSync: one device sticks to one endpoint in the plain and the base64 query form', async () => {
    const seen = new Set<string>();
    for (const device of ['DEVAAAA1', 'DEVBBBB2', 'DEVCCCC3', 'DEVDDDD4', 'DEVEEEE5', 'DEVFFFF6']) {
      const plain = await served(`/Microsoft-Server-ActiveSync?Cmd=Ping&User=jane.doe&DeviceId=${device}&DeviceType=iPhone`, { method: 'POST', body: '{}' });
      const b64 = await served(`/Microsoft-Server-ActiveSync?${base64Query(device)}`, { method: 'POST', body: '{}' });
      const again = await served(`/Microsoft-Server-ActiveSync?${encodeURIComponent(base64Query(device, 0 /* Sync */))}`, { method: 'POST', body: '{}' });
      expect([plain.status, b64.status, again.status]).toEqual([200, 200, 200]);
      expect(b64.by).toBe(plain.by);
      expect(again.by).toBe(plain.by);
      seen.add(plain.by!);
    }
    expect(seen.size).toBe(2);
  });

  it('the admin API is on its own listener; the same paths on the public listener are proxied to webmail', async () => {
    const status = (await (await fetch(`${gw.adminUrl}/status`, { headers: { accept: 'application/json' } })).json()) as {
      clusters: Array<{ name: string; endpoints: Array<{ url: string; priority: number; weight: number }> }>;
    };
    const byCluster = Object.fromEntries(status.clusters.map((c) => [c.name, c.endpoints.map((e) => [e.url, e.weight, e.priority])]));
    const u = (name: string) => upstreams.get(name)!.url;
    expect(byCluster).toEqual({
      webmail: [[u('webmail-1'), 1, 100], [u('webmail-2'), 2, 100]],
      activesync: [[u('activesync-1'), 1, 100], [u('activesync-2'), 1, 100]],
      assets: [[u('assets-1'), 1, 200], [u('assets-2'), 1, 100]],
    });
    for (const path of ['/status', '/metrics', '/readyz']) expect((await served(path)).by).toMatch(/^webmail-\d$/);
  });

  it('assets fail over to the priority-100 endpoint without an error when the priority-200 one is down', async () => {
    await upstreams.get('assets-1')!.close();
    for (let i = 0; i < 10; i++) {
      const r = await served(`/skins/elastic/${i}.png`);
      expect(r).toEqual({ status: 200, by: 'assets-2' });
    }
  });
});
