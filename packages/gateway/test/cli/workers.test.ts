// workers: 2: the primary runs one health checker and the admin listener, two workers share the
// listener through node:cluster. Real processes and sockets throughout; one gateway, in order.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cliScope, configFor, freePort, sleep, who, type CliUpstream, type Running } from './cliHarness.js';

const { dir, upstream, start } = cliScope();
const INTERVAL_MS = 200;
let a: CliUpstream;
let b: CliUpstream;
let gw: Running;
let file: string;

function config(endpoint: CliUpstream) {
  return configFor(port, adminPort, [endpoint.url], {
    workers: 2,
    drainTimeoutMs: 10_000,
    clusters: { web: { endpoints: [{ url: endpoint.url }], healthCheck: { path: '/healthz', intervalMs: INTERVAL_MS, timeoutMs: 150, healthyThreshold: 1, unhealthyThreshold: 1 } } },
  });
}
let port: number;
let adminPort: number;

interface Status {
  clusters: Array<{ endpoints: Array<{ url: string; requests: number; inFlight: number; healthy: boolean }> }>;
  workers: Array<{ id: number; pid: number; restarts: number; listening: boolean }>;
}
const status = async () => (await (await fetch(`${gw.admin}/status?format=json`)).json()) as Status;
const metrics = async () => (await fetch(`${gw.admin}/metrics`)).text();
const accessLines = () =>
  gw
    .output()
    .split('\n')
    .filter((l) => l.includes('"msg":"access"'))
    .map((l) => JSON.parse(l) as { pid: number; url: string });

async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; gateway output:\n${gw.output().slice(-3000)}`);
    await sleep(50);
  }
}

beforeAll(async () => {
  [a, b] = [await upstream('a'), await upstream('b')];
  [port, adminPort] = [await freePort(), await freePort()];
  file = join(dir, 'workers.yaml');
  writeFileSync(file, stringify(config(a)));
  gw = await start(file, port, adminPort);
  await until('two listening workers', async () => (await status()).workers.filter((w) => w.listening).length === 2);
});

describe('webtier-gateway with workers: 2', () => {
  it('health checks: one per interval against the upstream, not one per worker', async () => {
    const before = a.healthChecks;
    const windowMs = 2000;
    await sleep(windowMs);
    const checks = a.healthChecks - before;
    // One checker: at most one check per interval (+1 for a round in flight at either edge).
    // Two checkers would make about 2 × windowMs / INTERVAL_MS = 20.
    expect(checks).toBeLessThanOrEqual(windowMs / INTERVAL_MS + 1);
    expect(checks).toBeGreaterThanOrEqual(windowMs / INTERVAL_MS / 2);
  });

  it('connections spread over both workers; /metrics and /status add them up; one access line per request', async () => {
    const n = 20;
    const linesBefore = accessLines().length;
    for (let i = 0; i < n; i++) expect(await who(gw.base, `/req/${i}`)).toBe('a');
    await until('20 access lines', () => accessLines().length - linesBefore === n);
    await sleep(300);
    const lines = accessLines().slice(linesBefore);
    expect(lines.length).toBe(n);
    expect(new Set(lines.map((l) => l.url)).size).toBe(n);
    const s = await status();
    const pids = s.workers.map((w) => w.pid);
    // node:cluster hands new connections round-robin: both workers served.
    expect(new Set(lines.map((l) => l.pid))).toEqual(new Set(pids));
    expect(s.clusters[0]!.endpoints[0]!.requests).toBe(n);
    const m = await metrics();
    expect(m).toMatch(new RegExp(`gateway_requests_total\\{route="/",cluster="web",status="200"\\} ${n}\\n`));
    expect(m).toMatch(/gateway_endpoint_healthy\{cluster="web",endpoint="127\.0\.0\.1:\d+"\} 1\n/);
    expect(m).toMatch(/gateway_workers 2\n/);
  });

  it('a burst of 300 concurrent requests: 300 access lines, every stdout line whole JSON (workers write lines in pieces below PIPE_BUF)', async () => {
    const before = accessLines().length;
    // 300 at once can make the upstream miss a 150 ms health check (503s then): what counts here is one whole line per request.
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => who(gw.base, `/burst/${i}/${'p'.repeat(200)}`)));
    expect(answers.filter((x) => x !== 'a' && x !== 'status 503')).toEqual([]);
    await until('300 access lines', () => accessLines().length - before === 300);
    for (const line of gw.output().split('\n').filter((l) => l.startsWith('{'))) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('SIGHUP to the primary reloads every worker', async () => {
    await until('upstream a healthy again', async () => (await status()).clusters[0]!.endpoints[0]!.healthy);
    writeFileSync(file, stringify(config(b)));
    gw.child.kill('SIGHUP');
    await until('config reloaded in 2 workers', () => /"workers":2,"reloaded":2/.test(gw.output()));
    for (let i = 0; i < 6; i++) expect(await who(gw.base)).toBe('b');
  });

  it('a crashed worker is restarted with backoff and counted in /metrics and /status', async () => {
    const before = await status();
    const victim = before.workers[0]!;
    process.kill(victim.pid, 'SIGKILL');
    await until('the worker restarted', async () => {
      const w = (await status()).workers.find((x) => x.id === victim.id)!;
      return w.listening && w.pid !== victim.pid;
    });
    const after = await status();
    expect(after.workers.find((x) => x.id === victim.id)!.restarts).toBe(1);
    expect(await metrics()).toMatch(/gateway_worker_restarts_total\{reason="SIGKILL"\} 1\n/);
    expect(gw.output()).toMatch(/"reason":"signal SIGKILL".*"restartInMs":100.*"msg":"worker exited unexpectedly; restarting"/);
    for (let i = 0; i < 4; i++) expect(await who(gw.base)).toBe('b');
  });

  it('SIGTERM to the primary drains every worker: in-flight requests finish, /readyz 503, exit 0', async () => {
    const inFlight = [who(gw.base, '/sleep/1500'), who(gw.base, '/sleep/1500')];
    await sleep(300);
    expect((await status()).clusters[0]!.endpoints[0]!.inFlight).toBe(2);
    gw.child.kill('SIGTERM');
    await sleep(200);
    expect((await fetch(`${gw.admin}/readyz`)).status).toBe(503);
    await expect(fetch(`${gw.base}/new`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    expect(await Promise.all(inFlight)).toEqual(['b', 'b']);
    expect(await gw.exit).toEqual({ code: 0, signal: null });
    expect(gw.output().match(/"clean":true,"msg":"gateway stopped"/g)).toHaveLength(2);
    expect(gw.output()).toMatch(/"workers":2,"msg":"gateway stopped"/);
  });
});
