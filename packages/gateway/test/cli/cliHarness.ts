// Starts the webtier-gateway bin as an operator would (the file npm links as
// node_modules/.bin/webtier-gateway) and real HTTP upstreams on 127.0.0.1, for the CLI tests.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { httpReady, SupervisedProcess } from '@webtier/testkit';

/** The bin exactly as npm links it (node_modules/.bin/webtier-gateway points here). */
export const CLI = fileURLToPath(new URL('../../bin/webtier-gateway.js', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A real upstream: answers its name (x-upstream) after /sleep/<ms>; counts /healthz checks. */
export interface CliUpstream {
  url: string;
  healthChecks: number;
  requests: number;
}

export function configFor(port: number, adminPort: number, endpoints: string[], extra: Record<string, unknown> = {}) {
  return {
    listeners: [{ host: '127.0.0.1', port }],
    admin: { host: '127.0.0.1', port: adminPort },
    routes: [{ match: { prefix: '/' }, cluster: 'web' }],
    clusters: { web: { endpoints: endpoints.map((url) => ({ url })) } },
    ...extra,
  };
}

export interface Running {
  child: ChildProcess;
  base: string;
  admin: string;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** What a test file starts; everything is stopped after its last test. */
export function cliScope() {
  const dir = mkdtempSync(join(tmpdir(), 'gw-cli-'));
  const children: SupervisedProcess[] = [];
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.allSettled(children.map((c) => c.kill()));
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });

  async function upstream(name: string): Promise<CliUpstream> {
    const up: CliUpstream = { url: '', healthChecks: 0, requests: 0 };
    const s = createServer((req, res) => {
      if (req.url === '/healthz') {
        up.healthChecks++;
        res.end('ok');
        return;
      }
      up.requests++;
      const m = /\/sleep\/(\d+)/.exec(req.url ?? '');
      setTimeout(() => res.writeHead(200, { 'x-upstream': name }).end(name), m ? Number(m[1]) : 0);
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    up.url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    return up;
  }

  /** Spawns `command args` (default: node <bin> --config file) and waits for the admin /readyz. */
  async function start(file: string, port: number, adminPort: number, extra: string[] = [], command: string[] = [process.execPath, CLI]): Promise<Running> {
    const admin = `http://127.0.0.1:${adminPort}`;
    // exitWithParent off: the bin runs exactly as an operator starts it (no preload, which node:cluster
    // workers would inherit); the afterAll and testkit's registry still kill it.
    const gateway = new SupervisedProcess({ name: 'gateway CLI', command: command[0]!, args: [...command.slice(1), '--config', file, ...extra], ready: httpReady(`${admin}/readyz`), readyTimeoutMs: 15_000, exitWithParent: false });
    children.push(gateway);
    await gateway.start();
    const child = gateway.child!;
    const exit = gateway.exited.then(({ code, signal }) => ({ code, signal }));
    const out = () => gateway.output();
    return { child, base: `http://127.0.0.1:${port}`, admin, output: out, exit };
  }

  return { dir, upstream, start };
}

/** One request on a new connection (so that node:cluster hands it to the next worker); the x-upstream that answered. */
export async function who(base: string, path = '/x'): Promise<string> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000), headers: { connection: 'close' } });
  await res.arrayBuffer();
  return res.headers.get('x-upstream') ?? `status ${res.status}`;
}
