import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, httpProbe, MemcachedNode } from '@webtier/testkit';
import { DEMO_LOGINS } from '@webtier/demo-mail';
import { makeDemoCertificate, type DemoCertificate } from './certificate.js';
import { ChildApp, type NodeInfo, type NodeKind } from './ChildApp.js';
import { DemoError, DemoErrorCodes } from './errors.js';
import { gatewayConfig } from './gatewayConfig.js';
import { ensureMemcached } from './memcached.js';
import { loadTopology, resolveTopology, type Topology, type TopologyInput } from './TopologyFile.js';

export interface StartTopologyOptions {
  /** The topology, merged over DEFAULT_TOPOLOGY. Ignored when `topologyFile` is given. */
  topology?: TopologyInput;
  /** A YAML topology file (what `webtier up file.yaml` passes). */
  topologyFile?: string;
  /** Plain HTTP port of the gateway (308 to HTTPS); given here it must be free (no fallback). @default topology.gateway.port, or a free port when taken */
  port?: number;
  /** HTTPS port of the gateway; given here it must be free. @default topology.gateway.httpsPort, or a free port when taken */
  httpsPort?: number;
  /** Admin port of the gateway; given here it must be free. @default topology.gateway.adminPort, or a free port when taken */
  adminPort?: number;
  /** Cookie secret shared by the webmail nodes. @default random per topology */
  sessionSecret?: string;
  /** Progress lines (the CLI prints them). @default none */
  log?: (line: string) => void;
  /** When memcached is missing and we are root on Debian, apt-get install it. @default false */
  installMemcached?: boolean;
  /** Directory for the gateway config and the logs. @default a fresh directory under os.tmpdir() */
  runDir?: string;
  /** Keep runDir (logs) after stop. @default false; kept anyway when a node crashed */
  keepRunDir?: boolean;
  /** How long start waits for every node and the gateway's routes. @default 60000 */
  startTimeoutMs?: number;
}

/** A running demo topology: URLs, the nodes, and chaos by name. */
export interface DemoTopology extends EventEmitter<{ crash: [NodeInfo & { code: number | null; signal: string | null; tail: string }] }> {
  readonly topology: Topology;
  /** The gateway's public URL, https://127.0.0.1:port (HTTP/2 and HTTP/1.1): open this in a browser. */
  readonly url: string;
  /** The gateway's plain HTTP URL: every request gets a 308 to the same path on `url`. */
  readonly httpUrl: string;
  /** The self-signed certificate `url` serves (made at start in runDir/tls; trust certFile to skip the browser warning). */
  readonly certificate: DemoCertificate;
  /** The certificate's PEM text, for clients: `new undici.Agent({ connect: { ca } })`, `https.request({ ca })`. */
  readonly ca: string;
  /** The gateway's admin listener. */
  readonly adminUrl: string;
  /** The gateway's status page (HTML for browsers, JSON with Accept: application/json). */
  readonly statusUrl: string;
  readonly runDir: string;
  /** memcached addresses in order (memcached-1 first). */
  readonly memcachedServers: readonly string[];
  readonly logins: ReadonlyArray<{ user: string; password: string }>;
  nodes(): NodeInfo[];
  node(name: string): NodeInfo;
  /** The memcached node name for an address ("127.0.0.1:40001" → "memcached-1"). */
  nameOf(address: string): string | undefined;
  /** SIGKILL a node (memcached, app or gateway). */
  kill(name: string): Promise<NodeInfo>;
  /** Start a killed or crashed node again, on the same port (memcached comes back empty). */
  restart(name: string): Promise<NodeInfo>;
  /** SIGSTOP / SIGCONT a memcached node. */
  freeze(name: string): Promise<NodeInfo>;
  thaw(name: string): Promise<NodeInfo>;
  /** The gateway's /status as JSON, or undefined when it does not answer. */
  gatewayStatus(): Promise<unknown>;
  /** Stops every process (gateway first, memcached last); never throws, idempotent. */
  stop(): Promise<void>;
}

class MemcachedMember {
  constructor(readonly node: MemcachedNode) {}
  get name(): string {
    return this.node.name;
  }
  info(): NodeInfo {
    const s = this.node.state;
    return { name: this.node.name, kind: 'memcached', state: s, pid: s === 'running' || s === 'frozen' ? this.node.pid : undefined, address: this.node.address };
  }
}

/** @webtier/gateway's webtier-gateway bin (it loads the package's build; appScript checks that build exists). */
function gatewayBin(): string {
  appScript('@webtier/gateway', join('dist', 'esm', 'cli', 'main.js'));
  return join(dirname(createRequire(import.meta.url).resolve('@webtier/gateway/package.json')), 'bin', 'webtier-gateway.js');
}

function appScript(pkg: string, file = join('dist', 'esm', 'cli.js')): string {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = dirname(require.resolve(`${pkg}/package.json`));
  } catch (cause) {
    throw new DemoError(DemoErrorCodes.NOT_BUILT, `${pkg} is not installed in this workspace: run \`npm install\``, { cause });
  }
  const script = join(dir, file);
  if (!existsSync(script)) throw new DemoError(DemoErrorCodes.NOT_BUILT, `${script} does not exist: build first with \`npm run build\` (\`npm run demo\` builds, then starts)`);
  return script;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port other than those in `avoid` (freePort closes its probe socket, so two calls can return the same port). */
async function freePortExcept(avoid: readonly number[]): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!avoid.includes(port)) return port;
  }
}

async function pickPort(what: string, explicit: number | undefined, preferred: number, log: (l: string) => void, avoid: readonly number[] = []): Promise<number> {
  const freePort = () => freePortExcept(avoid);
  if (explicit !== undefined) {
    if (explicit === 0) return freePort();
    if (avoid.includes(explicit)) throw new DemoError(DemoErrorCodes.PORT_TAKEN, `${what}: port ${explicit} is already one of the gateway's other ports; the http, https and admin ports must differ`);
    if (!(await portIsFree(explicit))) throw new DemoError(DemoErrorCodes.PORT_TAKEN, `${what}: port ${explicit} on 127.0.0.1 is taken; pick another with --https-port/--port/--admin-port`);
    return explicit;
  }
  if (preferred !== 0 && !avoid.includes(preferred) && (await portIsFree(preferred))) return preferred;
  const port = await freePort();
  if (preferred !== 0) log(`${what}: port ${preferred} is taken, using ${port} instead`);
  return port;
}

/**
 * Starts the whole demo web tier on 127.0.0.1: memcached nodes (testkit's MemcachedNode, run as an
 * unprivileged user when we are root), webmail, ActiveSync and asset nodes (child processes of the
 * built apps) and the gateway in front with a generated config. Resolves once every node is healthy
 * and every cluster answers through the gateway. On failure, everything already started is stopped.
 */
export async function startTopology(options: StartTopologyOptions = {}): Promise<DemoTopology> {
  const log = options.log ?? (() => {});
  const topology = options.topologyFile ? loadTopology(options.topologyFile) : resolveTopology(options.topology ?? {});
  const scripts = {
    webmail: appScript('@webtier/app-webmail'),
    activesync: appScript('@webtier/app-activesync'),
    assets: appScript('@webtier/app-assets'),
    // WEBTIER_GATEWAY_CLI: run another gateway build (same CLI contract: --config file.yaml).
    gateway: process.env['WEBTIER_GATEWAY_CLI'] || gatewayBin(),
  };
  ensureMemcached(options.installMemcached ?? false, log);
  const runDir = options.runDir ?? mkdtempSync(join(tmpdir(), 'webtier-demo-'));
  mkdirSync(join(runDir, 'logs'), { recursive: true });
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const secret = options.sessionSecret ?? randomBytes(24).toString('base64url');
  // Before any process starts: a missing openssl fails here, with nothing to clean up but runDir.
  let certificate: DemoCertificate;
  try {
    certificate = makeDemoCertificate(join(runDir, 'tls'));
  } catch (err) {
    if (!options.runDir) rmSync(runDir, { recursive: true, force: true });
    throw err;
  }
  const ca = readFileSync(certificate.certFile, 'utf8');

  const memcached: MemcachedMember[] = [];
  const apps: ChildApp[] = [];
  let gateway: ChildApp | undefined;
  const emitter = new EventEmitter() as DemoTopology;
  let crashed = false;
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (gateway) await gateway.stop().catch(() => {});
    await Promise.allSettled(apps.map((a) => a.stop()));
    await Promise.allSettled(memcached.map((m) => m.node.stop()));
    if (!options.keepRunDir && !crashed && !options.runDir) rmSync(runDir, { recursive: true, force: true });
  };

  try {
    log(`starting ${topology.memcached.nodes} memcached nodes...`);
    // Every process exits with this one, even when it is SIGKILLed (testkit's exitWithParent: a
    // watchdog for memcached, the stdin pipe for the app children).
    for (let i = 1; i <= topology.memcached.nodes; i++) memcached.push(new MemcachedMember(new MemcachedNode({ name: `memcached-${i}`, memoryMb: topology.memcached.memoryMb, exitWithParent: true })));
    await Promise.all(memcached.map((m) => m.node.start()));
    const servers = memcached.map((m) => m.node.address);
    const labels = memcached.map((m) => m.name).join(',');
    const storeEnv: NodeJS.ProcessEnv =
      topology.memcached.mode === 'pairs'
        ? { WEBTIER_MEMCACHED_PAIRS: servers.reduce<string[]>((acc, s, i) => (i % 2 === 0 ? [...acc, s] : [...acc.slice(0, -1), `${acc.at(-1)}+${s}`]), []).join(','), WEBTIER_MEMCACHED: '' }
        : { WEBTIER_MEMCACHED: servers.join(','), WEBTIER_MEMCACHED_PAIRS: '' };
    const env: NodeJS.ProcessEnv = { ...storeEnv, WEBTIER_MEMCACHED_LABELS: labels, WEBTIER_SESSION_SECRET: secret };
    // Empty strings would count as "given" for the flag parser: drop them.
    for (const [k, v] of Object.entries(env)) if (v === '') delete env[k];

    const child = async (kind: 'webmail' | 'activesync' | 'assets', i: number, extra: string[] = []) => {
      const name = `${kind}-${i}`;
      const port = await freePort();
      const app = new ChildApp({ name, kind, script: scripts[kind], args: ['--port', String(port), '--name', name, ...extra], port, env: { ...env, WEBTIER_NODE_NAME: name }, logFile: join(runDir, 'logs', `${name}.log`), stopTimeoutMs: 3000 });
      apps.push(app);
      return app;
    };
    for (let i = 1; i <= topology.webmail.nodes; i++) await child('webmail', i);
    for (let i = 1; i <= topology.activesync.nodes; i++) await child('activesync', i, ['--min-heartbeat', String(topology.activesync.minHeartbeatSeconds)]);
    for (let i = 1; i <= topology.assets.nodes; i++) await child('assets', i);
    log(`starting ${apps.length} app nodes (${apps.map((a) => a.name).join(', ')})...`);
    await Promise.all(apps.map((a) => a.start(startTimeoutMs)));

    const g = topology.gateway;
    const listenPort = await pickPort('gateway http', options.port, g.port, log);
    const httpsPort = await pickPort('gateway https', options.httpsPort, g.httpsPort, log, [listenPort]);
    const adminPort = await pickPort('gateway admin', options.adminPort, g.adminPort, log, [listenPort, httpsPort]);
    const urls = (kind: string) => apps.filter((a) => a.kind === kind).map((a) => a.url);
    const config = gatewayConfig({
      listenPort,
      adminPort,
      tls: { port: httpsPort, certFile: certificate.certFile, keyFile: certificate.keyFile },
      webmail: urls('webmail'),
      activesync: urls('activesync'),
      assets: urls('assets'),
      healthCheck: topology.healthCheck,
      webmailLbPolicy: topology.webmail.lbPolicy,
    });
    const configFile = join(runDir, 'gateway.yaml');
    writeFileSync(configFile, `# generated by webtier up\n${stringify(config)}`);
    log(`starting the gateway on https://127.0.0.1:${httpsPort} (http ${listenPort} redirects, admin ${adminPort}, config ${configFile})...`);
    gateway = new ChildApp({
      name: 'gateway',
      kind: 'gateway',
      script: scripts.gateway,
      args: ['--config', configFile],
      port: httpsPort,
      url: `https://127.0.0.1:${httpsPort}`,
      healthUrl: `http://127.0.0.1:${adminPort}/healthz`,
      logFile: join(runDir, 'logs', 'gateway.log'),
      stopTimeoutMs: 5000,
    });
    await gateway.start(startTimeoutMs);
    for (const a of [...apps, gateway]) {
      a.process.on('crash', (why) => {
        if (stopped) return;
        crashed = true;
        emitter.emit('crash', { ...a.info(), code: why.code, signal: why.signal, tail: why.tail });
      });
    }
    const httpUrl = `http://127.0.0.1:${listenPort}`;
    await waitThroughGateway(gateway.url, httpUrl, ca, startTimeoutMs);

    const url = gateway.url;
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    const all = (): Array<MemcachedMember | ChildApp> => [...memcached, ...apps, ...(gateway ? [gateway] : [])];
    const find = (name: string) => {
      const n = all().find((x) => x.name === name);
      if (!n) throw new DemoError(DemoErrorCodes.UNKNOWN_NODE, `no node named "${name}"; nodes are ${all().map((x) => x.name).join(', ')}`);
      return n;
    };
    const memcachedOnly = (name: string, op: string) => {
      const n = find(name);
      if (!(n instanceof MemcachedMember)) throw new DemoError(DemoErrorCodes.BAD_STATE, `${op} works on memcached nodes only; ${name} is a ${n.kind} node (use kill)`);
      return n.node;
    };
    Object.assign(emitter, {
      topology,
      url,
      httpUrl,
      certificate,
      ca,
      adminUrl,
      statusUrl: `${adminUrl}/status`,
      runDir,
      memcachedServers: servers,
      logins: DEMO_LOGINS,
      nodes: () => all().map((n) => n.info()),
      node: (name: string) => find(name).info(),
      nameOf: (address: string) => memcached.find((m) => m.node.address === address)?.name,
      kill: async (name: string) => {
        const n = find(name);
        if (n instanceof MemcachedMember) {
          if (n.node.state === 'running' || n.node.state === 'frozen') await n.node.kill();
        } else await n.kill();
        return n.info();
      },
      restart: async (name: string) => {
        const n = find(name);
        if (n instanceof MemcachedMember) {
          await n.node.restart();
        } else await n.restart();
        return n.info();
      },
      freeze: async (name: string) => {
        memcachedOnly(name, 'freeze').freeze();
        return find(name).info();
      },
      thaw: async (name: string) => {
        memcachedOnly(name, 'thaw').thaw();
        return find(name).info();
      },
      gatewayStatus: async () => {
        try {
          const res = await fetch(`${adminUrl}/status`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(2000) });
          return res.ok ? await res.json() : undefined;
        } catch {
          return undefined;
        }
      },
      stop,
    } satisfies Omit<DemoTopology, keyof EventEmitter>);
    return emitter;
  } catch (err) {
    crashed = true; // keep the logs of a failed start
    await stop();
    throw err;
  }
}

/**
 * Waits until each cluster answers through the gateway over HTTPS, verified against the demo's own
 * certificate (webmail /healthz, an asset, and ActiveSync: 401 = reached), and the plain HTTP port
 * redirects (308) to the same path on the HTTPS URL.
 */
async function waitThroughGateway(url: string, httpUrl: string, ca: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const checks: Array<[string, string, number, string?]> = [
    ['GET', `${url}/healthz`, 200],
    ['GET', `${url}/skins/elastic/styles/styles.css`, 200],
    ['OPTIONS', `${url}/Microsoft-Server-ActiveSync`, 401],
    ['GET', `${httpUrl}/mail?x=1`, 308, `${url}/mail?x=1`],
  ];
  let last = '';
  while (Date.now() < deadline) {
    const results = await Promise.all(checks.map(([method, target]) => httpProbe(target, { timeoutMs: 2000, method, ca })));
    if (results.every((r, i) => r.status === checks[i]![2] && r.location === checks[i]![3])) return;
    last = results.map((r, i) => `${checks[i]![0]} ${checks[i]![1]} → ${r.status || 'no answer'}${r.location ? ` ${r.location}` : ''}`).join(', ');
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new DemoError(DemoErrorCodes.START_FAILED, `the gateway at ${url} did not route to every cluster within ${timeoutMs} ms (${last})`);
}

export type { NodeInfo, NodeKind };
