import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { findMemcached, memcachedUserArgs } from '@webtier/testkit';
import { checkPrerequisites, inNetns, which, type RunResult } from './Command.js';
import { LabError, LabErrorCodes } from './errors.js';
import { applyFault, FAULT_KINDS, heal, type FaultKind } from './Faults.js';
import { processRuns, spawnProcess, waitReady } from './HostProcess.js';
import { keepalivedConfig } from './keepalived.js';
import { labGatewayConfig } from './labGatewayConfig.js';
import { LabState, labDir, type ActiveFault, type LabProcess } from './LabState.js';
import { findHost, FRONT_NET, hostIp, labTopology, PORTS, type LabHost, type TopologyName } from './LabTopology.js';
import { createNetwork, destroyNetwork, labLinks, labNamespaces, pidAlive } from './Network.js';

export interface LabUpOptions {
  /** @default 'kolab' */
  topology?: TopologyName;
  /** Start the demo's apps (memcached, webmail, ActiveSync, assets, gateway) on the hosts. @default true */
  apps?: boolean;
  /** pid owning the lab (a test or a benchmark): once it is gone, the next `up` removes the lab as stale. @default null (kept until `down`) */
  owner?: number | null;
  /** How long to wait for another lab on this machine to go away (one lab at a time). @default 0 */
  waitMs?: number;
  /** How long each process may take to pass its readiness probe. @default 30000 */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

/** What `status` reports per process. */
export interface ProcessStatus {
  host: string;
  name: string;
  pid: number | null;
  state: LabProcess['state'] | 'crashed';
}

const require = createRequire(import.meta.url);

function appScript(pkg: string): string {
  let dir: string;
  try {
    dir = dirname(require.resolve(`${pkg}/package.json`));
  } catch (cause) {
    throw new LabError(LabErrorCodes.NOT_BUILT, `${pkg} is not installed in this workspace: run \`npm install\``, { cause });
  }
  const script = join(dir, 'dist', 'esm', 'cli.js');
  if (!existsSync(script)) throw new LabError(LabErrorCodes.NOT_BUILT, `${script} does not exist: build first with \`npm run build\` (\`npm run lab\` builds, then runs)`);
  return script;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The multi-host lab: one network namespace per host on two bridges in 10.231.0.0/16 (blackholed in
 * the root namespace first), the demo's apps inside, faults by host name. Everything it creates is
 * recorded in a state file (default /run/webtier-lab/state.json) so that `down` undoes it after any crash.
 */
export class Lab {
  readonly state: LabState;

  private constructor(state: LabState) {
    this.state = state;
  }

  /** Brings a lab up (network, then the apps unless `apps: false`). On failure everything created is removed. */
  static async up(o: LabUpOptions = {}): Promise<Lab> {
    const log = o.log ?? (() => {});
    checkPrerequisites();
    const topology = labTopology(o.topology ?? 'kolab');
    const state = await acquire(topology, o.owner ?? null, o.waitMs ?? 0, log);
    const lab = new Lab(state);
    try {
      log(`network: blackhole route for the lab range, 2 bridges, ${topology.hosts.length} namespaces (${topology.hosts.map((h) => h.name).join(', ')})`);
      await createNetwork(state);
      if (o.apps ?? true) await lab.#startApps(o.startTimeoutMs ?? 30_000, log);
      return lab;
    } catch (err) {
      await Lab.down({ log });
      throw err;
    }
  }

  /** The lab recorded on this machine; LAB_ERR_NOT_UP when there is none. */
  static attach(): Lab {
    const state = LabState.read();
    if (!state) throw new LabError(LabErrorCodes.NOT_UP, `no lab is up (no ${LabState.file()}); start one with \`npm run lab -- up\``);
    return new Lab(state);
  }

  /**
   * Removes every process, namespace, veth, bridge and rule of the lab, then the blackhole route and
   * the state file. Idempotent: also cleans up after a crash, from the state file and by the wtlab- prefix.
   * Returns whether there was anything to remove.
   */
  static async down(o: { log?: (line: string) => void } = {}): Promise<boolean> {
    checkPrerequisites(['ip']);
    let state: LabState | undefined;
    try {
      state = LabState.read();
    } catch (err) {
      o.log?.(`${(err as Error).message}: removing by name`);
    }
    const found = Boolean(state) || (await labNamespaces()).length > 0 || (await labLinks()).length > 0;
    await destroyNetwork(state, o.log);
    state?.remove();
    return found;
  }

  get topology() {
    return this.state.data.topology;
  }
  /** The gateway's URL from the root namespace (through its veth into the client network). */
  get gatewayUrl(): string {
    const url = this.state.data.gatewayUrls[0];
    if (!url) throw new LabError(LabErrorCodes.BAD_STATE, 'this lab runs no gateway (brought up with apps: false?)');
    return url;
  }
  get adminUrl(): string {
    const url = this.state.data.adminUrls[0];
    if (!url) throw new LabError(LabErrorCodes.BAD_STATE, 'this lab runs no gateway');
    return url;
  }
  host(name: string): LabHost {
    return findHost(this.topology, name);
  }
  /** The host's address on the server network (its front address for the client host). */
  ip(name: string): string {
    return hostIp(this.host(name));
  }
  hosts(role?: LabHost['role']): LabHost[] {
    return this.topology.hosts.filter((h) => !role || h.role === role);
  }

  /** Starts a process inside a host's namespace, records it, waits for its probe. Benchmarks start their own nodes with this. */
  async start(p: Omit<LabProcess, 'pid' | 'state' | 'logFile'> & { logFile?: string }, timeoutMs = 30_000): Promise<LabProcess> {
    this.host(p.host);
    const proc: LabProcess = { ...p, logFile: p.logFile ?? join(this.state.logDir, `${p.host}.${p.name}.log`), pid: null, state: 'stopped' };
    this.state.data.processes.push(proc);
    spawnProcess(this.state, proc);
    await waitReady(this.state, proc, timeoutMs);
    return proc;
  }

  /** Starts memcached (64 MiB, TCP only) on a host's own address, port 11211; resolves with "ip:port". */
  async startMemcached(host: string, timeoutMs = 30_000): Promise<string> {
    const ip = this.ip(host);
    const address = `${ip}:${PORTS.memcached}`;
    const argv = [findMemcached(), ...memcachedUserArgs(), '-l', ip, '-p', String(PORTS.memcached), '-U', '0', '-m', '64', '-t', '2'];
    await this.start({ host, name: 'memcached', argv, env: {}, logFile: join(this.state.logDir, `${host}.log`), probe: { kind: 'memcached', target: address } }, timeoutMs);
    return address;
  }

  /** Runs a command inside a host's namespace (tests: connect from an isolated host). */
  exec(host: string, cmd: string, args: readonly string[], timeoutMs?: number): Promise<RunResult> {
    return inNetns(this.host(host).ns, cmd, args, timeoutMs);
  }

  /**
   * Applies a fault (kill, freeze, restart-empty, blackhole, partition, one-way, link-down); with
   * `forMs`, heals it after that long (the promise resolves after the heal). Logged in faults.log.
   */
  async fault(kind: FaultKind, hosts: string[], o: { forMs?: number } = {}): Promise<ActiveFault> {
    const f = await applyFault(this.state, kind, hosts);
    if (o.forMs !== undefined && this.state.data.faults.some((x) => x.id === f.id)) {
      await sleep(o.forMs);
      await heal(this.state, f.id);
    }
    return f;
  }

  /** Undoes one fault, or every fault in force. */
  heal(id?: number): Promise<ActiveFault[]> {
    return heal(this.state, id);
  }

  faults(): readonly ActiveFault[] {
    return this.state.data.faults;
  }

  processes(): ProcessStatus[] {
    return this.state.data.processes.map((p) => ({ host: p.host, name: p.name, pid: p.pid, state: p.state === 'running' || p.state === 'frozen' ? (processRuns(p) ? p.state : 'crashed') : p.state }));
  }

  /**
   * Removes this lab (see Lab.down), and only this one: a test whose lab never came up, or was
   * already removed, must not tear down the lab another test or benchmark has just brought up.
   */
  async down(log?: (line: string) => void): Promise<void> {
    let current: LabState | undefined;
    try {
      current = LabState.read(this.state.dir);
    } catch {
      current = undefined;
    }
    if (!current || current.data.createdAt !== this.state.data.createdAt || current.data.owner !== this.state.data.owner) return;
    await Lab.down(log ? { log } : {});
  }

  async #startApps(timeoutMs: number, log: (line: string) => void): Promise<void> {
    const secret = randomBytes(24).toString('base64url');
    const logs = this.state.logDir;
    const mc = this.hosts('memcached');
    log(`starting memcached on ${mc.map((h) => `${h.name} ${hostIp(h)}`).join(', ')}...`);
    const servers = await Promise.all(mc.map((h) => this.startMemcached(h.name, timeoutMs)));
    const pairs = servers.reduce<string[]>((acc, s, i) => (i % 2 === 0 ? [...acc, s] : [...acc.slice(0, -1), `${acc.at(-1)}+${s}`]), []).join(',');
    const env = { WEBTIER_MEMCACHED_PAIRS: pairs, WEBTIER_MEMCACHED_LABELS: mc.map((h) => h.name).join(','), WEBTIER_SESSION_SECRET: secret };
    const kinds = [
      ['webmail', '@webtier/app-webmail', PORTS.webmail, []],
      ['activesync', '@webtier/app-activesync', PORTS.activesync, ['--min-heartbeat', '60']],
      ['assets', '@webtier/app-assets', PORTS.assets, []],
    ] as const;
    const urls: Record<string, string[]> = {};
    const starts: Promise<LabProcess>[] = [];
    for (const [role, pkg, port, extra] of kinds) {
      const script = appScript(pkg);
      urls[role] = [];
      for (const h of this.hosts(role)) {
        const url = `http://${hostIp(h)}:${port}`;
        urls[role].push(url);
        starts.push(this.start({ host: h.name, name: role, argv: [process.execPath, script, '--host', hostIp(h), '--port', String(port), '--name', h.name, ...extra], env: { ...env, WEBTIER_NODE_NAME: h.name }, logFile: join(logs, `${h.name}.log`), probe: { kind: 'http', target: `${url}/healthz` } }, timeoutMs));
      }
    }
    log(`starting ${starts.length} app nodes...`);
    await Promise.all(starts);
    const configFile = join(this.state.dir, 'gateway.yaml');
    const config = labGatewayConfig({ webmail: urls['webmail']!, activesync: urls['activesync']!, assets: urls['assets']! });
    // The admin listener binds 0.0.0.0 (probes from the host's own addresses): the gateway then requires a token for drain/undrain.
    const tokenFile = join(this.state.dir, 'gateway-admin.token');
    writeFileSync(tokenFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    (config['admin'] as Record<string, unknown>)['tokenFile'] = tokenFile;
    writeFileSync(configFile, `# generated by npm run lab -- up\n${stringify(config)}`);
    const gatewayCli = process.env['WEBTIER_GATEWAY_CLI'] || join(dirname(require.resolve('@webtier/gateway/package.json')), 'bin', 'webtier-gateway.js');
    for (const g of this.hosts('gateway')) {
      const front = hostIp(g, 'front');
      log(`starting the gateway on ${g.name} ${front}:${PORTS.gateway} (config ${configFile})...`);
      await this.start({ host: g.name, name: 'gateway', argv: [process.execPath, gatewayCli, '--config', configFile], env: {}, logFile: join(logs, `${g.name}.log`), probe: { kind: 'http', target: `http://${front}:${PORTS.gatewayAdmin}/healthz` } }, timeoutMs);
      if (this.topology.vips.length === 0) this.state.data.gatewayUrls.push(`http://${front}:${PORTS.gateway}`);
      this.state.data.adminUrls.push(`http://${front}:${PORTS.gatewayAdmin}`);
    }
    if (this.topology.vips.length > 0) await this.#startKeepalived(timeoutMs, log);
    this.state.save();
    for (const url of this.state.data.gatewayUrls) await waitThroughGateway(url, timeoutMs);
  }

  /** kolab-ha: keepalived on each gateway host, each master of one VIP on the client network. */
  async #startKeepalived(timeoutMs: number, log: (line: string) => void): Promise<void> {
    checkPrerequisites(['keepalived']);
    const vips = this.topology.vips;
    const gateways = this.hosts('gateway');
    for (const [index, g] of gateways.entries()) {
      const iface = g.links.find((l) => l.net === 'front')!.ifname;
      const conf = join(this.state.dir, `keepalived-${g.name}.conf`);
      // curl, not `webtier-gateway check`: one node start costs ~0.5 s of CPU, and two a second (one per
      // host) starved this 2-core lab under bench:gateway-ha's load (checks timed out on both hosts, both
      // went to FAULT: stop moved the VIP after 6.6 s instead of < 2 s, p99 ~7 s). Same probe: /readyz within 1 s.
      const check = `/usr/bin/curl -fsS --max-time 1 -o /dev/null http://127.0.0.1:${PORTS.gatewayAdmin}/readyz`;
      writeFileSync(conf, keepalivedConfig({ host: g, index, vips, interface: iface, check, synDrop: which('iptables') ?? '/usr/sbin/iptables' }));
      const pid = (what: string) => join(this.state.dir, `keepalived-${g.name}${what}.pid`);
      // A pid file left by an earlier lab names a pid that may have been reused: keepalived would then
      // believe it is already running and exit.
      for (const f of [pid(''), pid('-vrrp'), pid('-checkers')]) rmSync(f, { force: true });
      log(`starting keepalived on ${g.name} (master of ${vips[index]}, backup of the other VIP; ${conf})...`);
      await this.start({ host: g.name, name: 'keepalived', argv: [which('keepalived')!, '-n', '-l', '-D', '-G', '-f', conf, '-p', pid(''), '-r', pid('-vrrp'), '-c', pid('-checkers')], env: {}, logFile: join(this.state.logDir, `${g.name}.keepalived.log`) }, timeoutMs);
    }
    const deadline = Date.now() + timeoutMs;
    for (const [index, vip] of vips.entries()) {
      for (;;) {
        if ((await this.vipHolder(vip)) === gateways[index]!.name) break;
        if (Date.now() > deadline) throw new LabError(LabErrorCodes.START_FAILED, `keepalived did not put ${vip} on ${gateways[index]!.name} within ${timeoutMs} ms (see ${this.state.logDir}/${gateways[index]!.name}.keepalived.log)`);
        await sleep(200);
      }
      this.state.data.gatewayUrls.push(`http://${vip}:${PORTS.gateway}`);
    }
  }

  /** The gateway host that holds a VIP now (kolab-ha: keepalived put it on its front interface), or undefined. */
  async vipHolder(vip: string): Promise<string | undefined> {
    for (const g of this.hosts('gateway')) {
      const r = await inNetns(g.ns, 'ip', ['-o', '-4', 'addr', 'show']);
      // The VIP on its front interface (every gateway host also has each VIP on lo: see holdVipsOnLoopback).
      if (r.stdout.split('\n').some((l) => l.includes(` ${vip}/`) && l.split(/\s+/)[1] !== 'lo')) return g.name;
    }
    return undefined;
  }
}

/** Takes the lab lock (the state file); removes a stale lab whose owner died; waits for a live one up to waitMs. */
async function acquire(topology: ReturnType<typeof labTopology>, owner: number | null, waitMs: number, log: (line: string) => void): Promise<LabState> {
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    let created: LabState | undefined;
    try {
      created = LabState.create(topology, owner);
    } catch (err) {
      if ((err as LabError).code !== LabErrorCodes.ALREADY_UP) throw err;
    }
    if (created) {
      // Only with the lock held: wtlab-* objects without a state file are left by a lab whose state was
      // removed by hand (checked before taking the lock, this removed another lab that was just starting).
      if ((await labNamespaces()).length > 0 || (await labLinks()).length > 0) {
        log(`wtlab-* objects without a state file in ${labDir()}: removing them first`);
        await destroyNetwork(undefined, log);
      }
      return created;
    }
    let existing: LabState | undefined;
    try {
      existing = LabState.read();
    } catch (err) {
      // Caught between the other lab's create and its first write: look again.
      if ((err as LabError).code !== LabErrorCodes.BAD_STATE || Date.now() >= deadline) throw err;
      await sleep(100);
      continue;
    }
    if (!existing) continue;
    const d = existing.data;
    if (d.owner !== null && !pidAlive(d.owner)) {
      log(`a lab left by process ${d.owner} (gone) is still up: removing it`);
      await destroyNetwork(existing, log);
      existing.remove();
      continue;
    }
    if (Date.now() >= deadline) {
      const who = d.owner === null ? 'started with `npm run lab -- up`' : `owned by process ${d.owner}`;
      throw new LabError(LabErrorCodes.ALREADY_UP, `a lab is already up (${who}, since ${d.createdAt}); one lab at a time: \`npm run lab -- down\` removes it`);
    }
    if (!announced) log(`another lab is up (owner ${d.owner ?? 'CLI'}): waiting up to ${Math.round(waitMs / 1000)} s for it to go away...`);
    announced = true;
    await sleep(500);
  }
}

/** Waits until each cluster answers through the gateway from the root namespace. */
async function waitThroughGateway(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const checks: Array<[string, string, number]> = [
    ['GET', '/healthz', 200],
    ['GET', '/skins/elastic/styles/styles.css', 200],
    ['OPTIONS', '/Microsoft-Server-ActiveSync', 401],
  ];
  let last = '';
  while (Date.now() < deadline) {
    const results = await Promise.all(checks.map(([method, path]) => fetch(`${url}${path}`, { method, signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0)));
    if (results.every((s, i) => s === checks[i]![2])) return;
    last = results.map((s, i) => `${checks[i]![0]} ${checks[i]![1]} → ${s || 'no answer'}`).join(', ');
    await sleep(200);
  }
  throw new LabError(LabErrorCodes.START_FAILED, `the gateway at ${url} did not route to every cluster within ${timeoutMs} ms (${last})`);
}

export { FAULT_KINDS, FRONT_NET };
