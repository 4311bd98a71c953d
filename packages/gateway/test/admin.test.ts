import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig, type RunningGateway } from '../src/index.js';
import { gatewayFor, testScope } from './support/gateway.js';
import type { TestUpstream } from './support/upstreams.js';

// The admin listener (issue 9 item 4): Host check against DNS rebinding, bearer token for
// state-changing endpoints, no open admin listener off loopback.

const scope = testScope();
const dir = mkdtempSync(join(tmpdir(), 'gw-admin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKEN = 'c2b1d3f0a9e84d7c9b6a5f4e3d2c1b0a';
let up: TestUpstream;
let open: RunningGateway;
let locked: RunningGateway;

const cluster = () => ({ routes: [{ match: { prefix: '/' }, cluster: 'web' }], clusters: { web: { endpoints: [{ url: up.url }] } } });

beforeAll(async () => {
  [up] = (await scope.upstreams('web-1')) as [TestUpstream];
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  open = await scope.gateway(cluster());
  locked = await scope.gateway({ ...cluster(), admin: { host: '127.0.0.1', port: 0, tokenFile: join(dir, 'token'), allowedHosts: ['gw-admin.internal'] } });
});

async function admin(g: RunningGateway, method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await request(`${g.adminUrl}${path}`, {
    method,
    headers: { ...(method === 'POST' ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(method === 'POST' ? { body: JSON.stringify({ cluster: 'web', url: up.url }) } : {}),
  });
  return { status: res.statusCode, body: await res.body.text() };
}

describe('Host check (DNS rebinding)', () => {
  it.each([
    { method: 'POST' as const, path: '/endpoints/drain' },
    { method: 'GET' as const, path: '/status' },
    { method: 'GET' as const, path: '/metrics' },
  ])('$method $path with Host: attacker.example → 421, nothing changes', async ({ method, path }) => {
    const r = await admin(open, method, path, { host: 'attacker.example' });
    expect([r.status, JSON.parse(r.body).code]).toEqual([421, 'GW_ERR_ADMIN_MISDIRECTED']);
    expect(open.runtime.state.clusters.get('web')!.cluster.endpoints[0]!.drained).toBe(false);
  });

  it('the listener’s own address, localhost on loopback, and allowedHosts are accepted', async () => {
    const port = new URL(locked.adminUrl!).port;
    expect((await admin(open, 'GET', '/status')).status).toBe(200);
    expect((await admin(locked, 'GET', '/status', { host: `localhost:${port}` })).status).toBe(200);
    expect((await admin(locked, 'GET', '/status', { host: 'gw-admin.internal' })).status).toBe(200);
    expect((await admin(locked, 'GET', '/status', { host: `gw-admin.internal:${port}` })).status).toBe(200);
  });
});

describe('bearer token (admin.tokenFile)', () => {
  it('state-changing endpoints need the token: none or a wrong one → 401, the right one → 200', async () => {
    expect((await admin(locked, 'POST', '/endpoints/drain')).status).toBe(401);
    expect((await admin(locked, 'POST', '/endpoints/drain', { authorization: `Bearer ${TOKEN.slice(0, -1)}x` })).status).toBe(401);
    expect((await admin(locked, 'POST', '/endpoints/drain', { authorization: TOKEN })).status).toBe(401);
    expect(locked.runtime.state.clusters.get('web')!.cluster.endpoints[0]!.drained).toBe(false);
    const ok = await admin(locked, 'POST', '/endpoints/drain', { authorization: `Bearer ${TOKEN}` });
    expect([ok.status, JSON.parse(ok.body).drained]).toEqual([200, true]);
    expect((await admin(locked, 'POST', '/endpoints/undrain', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });

  it('reads stay open: /status, /metrics, /healthz, /readyz', async () => {
    for (const p of ['/status', '/metrics', '/healthz', '/readyz']) expect([p, (await admin(locked, 'GET', p)).status]).toEqual([p, 200]);
  });

  it('a token file shorter than 16 characters is refused at start', async () => {
    writeFileSync(join(dir, 'short'), 'abc\n');
    await expect(gatewayFor({ ...cluster(), admin: { host: '127.0.0.1', port: 0, tokenFile: join(dir, 'short') } })).rejects.toMatchObject({ code: 'GW_ERR_CONFIG_READ', message: expect.stringContaining('at least 16') });
  });
});

describe('no open admin listener off loopback', () => {
  it.each(['0.0.0.0', '10.1.2.3', '::'])('admin.host %s without tokenFile is a config problem', (host) => {
    expect(validateConfig({ listeners: [{ port: 80 }], admin: { host }, ...cluster() })).toEqual([{ path: 'admin.tokenFile', message: expect.stringContaining('required when the admin listener is not on loopback') }]);
  });

  it.each(['127.0.0.1', '::1', 'localhost'])('admin.host %s needs no token', (host) => {
    expect(validateConfig({ listeners: [{ port: 80 }], admin: { host }, ...cluster() })).toEqual([]);
  });

  it('off loopback with a tokenFile is fine', () => {
    expect(validateConfig({ listeners: [{ port: 80 }], admin: { host: '0.0.0.0', tokenFile: '/etc/webtier/admin.token' }, ...cluster() })).toEqual([]);
  });
});
