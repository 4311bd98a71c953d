// The web tier a failover run drives: 4 memcached nodes (memcached-1+2 and memcached-3+4 are the
// Kolab pairs), 2 webmail nodes and one proxy in front (webtier's gateway via its CLI, or vanilla
// @fastify/http-proxy), all real processes on 127.0.0.1. Faults by node name, like the demo's
// `topo.kill(name)`: kill (SIGKILL), restart (memcached comes back empty), freeze/thaw (SIGSTOP/SIGCONT).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { freePort, MemcachedNode } from '@webtier/testkit';
import { ChildNode } from './ChildNode.js';
import type { SystemSpec } from './systems.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The gateway CLI: WEBTIER_GATEWAY_CLI, else @webtier/gateway's webtier-gateway bin. */
export function gatewayCli(): string {
  const fromEnv = process.env['WEBTIER_GATEWAY_CLI'];
  if (fromEnv) return fromEnv;
  return join(dirname(require.resolve('@webtier/gateway/package.json')), 'bin', 'webtier-gateway.js');
}

/** The gateway config (issue 4's format): everything to the webmail cluster, health-checked like the demo. */
export function webmailGatewayConfig(listenPort: number, adminPort: number, webmail: string[]): Record<string, unknown> {
  return {
    listeners: [{ host: '127.0.0.1', port: listenPort }],
    admin: { host: '127.0.0.1', port: adminPort },
    routes: [{ match: { prefix: '/' }, cluster: 'webmail' }],
    clusters: {
      webmail: {
        lbPolicy: 'round_robin',
        endpoints: webmail.map((url) => ({ url })),
        healthCheck: { path: '/healthz', intervalMs: 1000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 2 },
      },
    },
  };
}

export interface FailoverTopology {
  /** The proxy's URL: where the users' traffic goes. */
  readonly url: string;
  readonly runDir: string;
  readonly memcachedServers: readonly string[];
  kill(name: string): Promise<void>;
  restart(name: string): Promise<void>;
  freeze(name: string): void | Promise<void>;
  thaw(name: string): void | Promise<void>;
  /** Names of every node. */
  names(): string[];
  stop(options?: { keepRunDir?: boolean }): Promise<void>;
}

export async function startFailoverTopology(system: SystemSpec, log: (line: string) => void = () => {}): Promise<FailoverTopology> {
  const runDir = mkdtempSync(join(tmpdir(), `webtier-failover-${system.id}-`));
  mkdirSync(join(runDir, 'logs'), { recursive: true });
  const memcached = [1, 2, 3, 4].map((i) => new MemcachedNode({ name: `memcached-${i}`, memoryMb: 64 }));
  const apps: ChildNode[] = [];
  let stopped = false;
  const stop = async (options: { keepRunDir?: boolean } = {}) => {
    if (stopped) return;
    stopped = true;
    await Promise.allSettled(apps.map((a) => a.stop()));
    await Promise.allSettled(memcached.map((m) => m.stop()));
    if (!options.keepRunDir) rmSync(runDir, { recursive: true, force: true });
  };
  try {
    await Promise.all(memcached.map((m) => m.start()));
    const servers = memcached.map((m) => m.address);
    const secret = randomBytes(18).toString('base64url');
    const storeArgs = webmailStoreArgs(system, servers);
    const webmailUrls: string[] = [];
    for (const i of [1, 2]) {
      const port = await freePort();
      const name = `webmail-${i}`;
      webmailUrls.push(`http://127.0.0.1:${port}`);
      apps.push(
        new ChildNode({
          name,
          script: join(here, 'webmailNode.ts'),
          args: ['--port', String(port), '--name', name, `--secret=${secret}`, ...storeArgs],
          healthUrl: `http://127.0.0.1:${port}/healthz`,
          logFile: join(runDir, 'logs', `${name}.log`),
        }),
      );
    }
    await Promise.all(apps.map((a) => a.start()));
    const port = await freePort();
    let proxy: ChildNode;
    if (system.proxy === 'gateway') {
      const adminPort = await freePort();
      const configFile = join(runDir, 'gateway.yaml');
      writeFileSync(configFile, stringify(webmailGatewayConfig(port, adminPort, webmailUrls)));
      proxy = new ChildNode({ name: 'proxy', script: gatewayCli(), args: ['--config', configFile], healthUrl: `http://127.0.0.1:${port}/healthz`, logFile: join(runDir, 'logs', 'gateway.log') });
    } else {
      proxy = new ChildNode({
        name: 'proxy',
        script: join(here, 'vanillaProxy.mjs'),
        args: ['--port', String(port), '--upstream', webmailUrls.join(',')],
        healthUrl: `http://127.0.0.1:${port}/healthz`,
        logFile: join(runDir, 'logs', 'proxy.log'),
      });
    }
    apps.push(proxy);
    await proxy.start();
    log(`  ${system.label}: memcached ${servers.join(' ')}, webmail ${webmailUrls.join(' ')}, proxy http://127.0.0.1:${port} (logs in ${runDir})`);
    const memcachedByName = (name: string) => memcached.find((m) => m.name === name);
    const appByName = (name: string) => apps.find((a) => a.name === name);
    const find = (name: string) => {
      const n = memcachedByName(name) ?? appByName(name);
      if (!n) throw new Error(`no node named "${name}"; nodes: ${[...memcached, ...apps].map((x) => x.name).join(', ')}`);
      return n;
    };
    return {
      url: `http://127.0.0.1:${port}`,
      runDir,
      memcachedServers: servers,
      names: () => [...memcached, ...apps].map((x) => x.name),
      kill: async (name) => {
        await find(name).kill();
      },
      restart: async (name) => {
        const n = find(name);
        if (n instanceof MemcachedNode) await n.restart();
        else await n.start();
      },
      freeze: (name) => {
        const n = memcachedByName(name);
        if (!n) throw new Error(`freeze: ${name} is not a memcached node`);
        n.freeze();
      },
      thaw: (name) => {
        const n = memcachedByName(name);
        if (!n) throw new Error(`thaw: ${name} is not a memcached node`);
        n.thaw();
      },
      stop,
    };
  } catch (err) {
    await stop({ keepRunDir: true });
    throw err;
  }
}

/** The webmail node's store flags for a system over 4 memcached servers (the Kolab pairs are 1+2 and 3+4). */
export function webmailStoreArgs(system: SystemSpec, servers: readonly string[]): string[] {
  if (system.store !== 'webtier') return ['--store', 'connect-memjs', '--servers', servers.join(','), ...(system.store === 'connect-memjs-failover' ? ['--memjs-failover'] : [])];
  if (system.placement && system.placement !== 'pairs') return ['--store', 'webtier', '--servers', servers.join(','), '--replicas', String(system.placement.replicas)];
  return ['--store', 'webtier', '--pairs', `${servers[0]}+${servers[1]},${servers[2]}+${servers[3]}`];
}
