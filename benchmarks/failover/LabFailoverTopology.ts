// The failover topology on the multi-host lab (apps/lab): every node on its own host (a network
// namespace with its own IP) instead of 127.0.0.1: 4 memcached hosts (pairs 1+2, 3+4), 2 webmail
// hosts running the benchmark's webmail node (store chosen per system), 2 ActiveSync hosts (the real
// app) and the proxy on the gateway host; the load reaches the proxy from the root namespace through
// the lab's veth into the client network. Faults by host name: the process faults of the loopback
// topology plus the lab's network faults (blackhole, partition, one-way, link-down, heal).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { Lab, lanTuning, PORTS, type FaultKind } from '@webtier/app-lab';
import { gatewayCli, webmailGatewayConfig, webmailStoreArgs, type FailoverTopology } from './FailoverTopology.js';
import type { SystemSpec } from './systems.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const TSX = pathToFileURL(require.resolve('tsx')).href;
const NETWORK_FAULTS = new Set(['blackhole', 'partition', 'one-way', 'link-down']);

export interface LabFailoverTopology extends FailoverTopology {
  /** Where ActiveSync devices connect (the proxy). */
  readonly activesyncUrl: string;
  fault(kind: FaultKind, hosts: string[]): Promise<void>;
  /** Undoes every network fault in force (process faults stay: a killed node stays down). */
  healNetwork(): Promise<void>;
}

export async function startLabFailoverTopology(system: SystemSpec, log: (line: string) => void = () => {}): Promise<LabFailoverTopology> {
  const lab = await Lab.up({ apps: false, owner: process.pid, waitMs: 120_000, log: (l) => log(`  lab: ${l}`) });
  const frozen = new Map<string, number>();
  try {
    const servers = await Promise.all(lab.hosts('memcached').map((h) => lab.startMemcached(h.name)));
    const secret = randomBytes(18).toString('base64url');
    const storeArgs = webmailStoreArgs(system, servers);
    const webmail = lab.hosts('webmail').map((h) => `http://${lab.ip(h.name)}:${PORTS.webmail}`);
    const activesync = lab.hosts('activesync').map((h) => `http://${lab.ip(h.name)}:${PORTS.activesync}`);
    const activesyncCli = join(dirname(require.resolve('@webtier/app-activesync/package.json')), 'dist', 'esm', 'cli.js');
    const pairs = `${servers[0]}+${servers[1]},${servers[2]}+${servers[3]}`;
    await Promise.all([
      ...lab.hosts('webmail').map((h, i) =>
        lab.start({ host: h.name, name: 'webmail', argv: [process.execPath, '--import', TSX, join(here, 'webmailNode.ts'), '--host', lab.ip(h.name), '--port', String(PORTS.webmail), '--name', h.name, `--secret=${secret}`, ...storeArgs], env: {}, probe: { kind: 'http', target: `${webmail[i]}/healthz` } }),
      ),
      ...lab.hosts('activesync').map((h, i) =>
        lab.start({ host: h.name, name: 'activesync', argv: [process.execPath, activesyncCli, '--host', lab.ip(h.name), '--port', String(PORTS.activesync), '--name', h.name, '--pairs', pairs], env: {}, probe: { kind: 'http', target: `${activesync[i]}/healthz` } }),
      ),
    ]);
    const front = lab.host('gateway').links.find((l) => l.net === 'front')!.ip;
    const url = `http://${front}:${PORTS.gateway}`;
    if (system.proxy === 'gateway') {
      const config = webmailGatewayConfig(PORTS.gateway, PORTS.gatewayAdmin, webmail) as { listeners: Array<{ host: string }>; admin: { host: string }; routes: unknown[]; clusters: Record<string, unknown> };
      config.listeners[0]!.host = '0.0.0.0';
      config.admin.host = '0.0.0.0';
      // A non-loopback admin listener needs a token for drain/undrain (the gateway refuses to start without one).
      const tokenFile = join(lab.state.dir, `gateway-${system.id}.token`);
      writeFileSync(tokenFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
      (config.admin as { tokenFile?: string }).tokenFile = tokenFile;
      config.routes.unshift({ match: { prefix: '/Microsoft-Server-ActiveSync', caseInsensitive: true }, cluster: 'activesync' });
      config.clusters['activesync'] = { lbPolicy: 'ring_hash', hashOn: { query: 'DeviceId' }, endpoints: activesync.map((u) => ({ url: u })), healthCheck: { path: '/healthz' } };
      const configFile = join(lab.state.dir, `gateway-${system.id}.yaml`);
      writeFileSync(configFile, stringify(lanTuning(config)));
      await lab.start({ host: 'gateway', name: 'gateway', argv: [process.execPath, gatewayCli(), '--config', configFile], env: {}, probe: { kind: 'http', target: `${url}/healthz` } });
    } else {
      await lab.start({ host: 'gateway', name: 'gateway', argv: [process.execPath, join(here, 'vanillaProxy.mjs'), '--host', '0.0.0.0', '--port', String(PORTS.gateway), '--upstream', webmail.join(','), '--activesync', activesync.join(',')], env: {}, probe: { kind: 'http', target: `${url}/healthz` } });
    }
    log(`  ${system.label}: lab hosts memcached ${servers.join(' ')}, webmail ${webmail.join(' ')}, activesync ${activesync.join(' ')}, proxy ${url} (logs in ${lab.state.logDir})`);
    const process_ = (name: string) => {
      lab.host(name === 'proxy' ? 'gateway' : name);
      return name === 'proxy' ? 'gateway' : name;
    };
    return {
      url,
      activesyncUrl: url,
      runDir: lab.state.dir,
      memcachedServers: servers,
      names: () => lab.topology.hosts.map((h) => h.name),
      kill: async (name) => void (await lab.fault('kill', [process_(name)])),
      restart: async (name) => void (await lab.fault('restart-empty', [process_(name)])),
      freeze: async (name) => {
        frozen.set(name, (await lab.fault('freeze', [process_(name)])).id);
      },
      thaw: async (name) => {
        const id = frozen.get(name);
        frozen.delete(name);
        if (id !== undefined) await lab.heal(id);
      },
      fault: async (kind, hosts) => void (await lab.fault(kind, hosts)),
      healNetwork: async () => {
        for (const f of [...lab.faults()].reverse()) if (NETWORK_FAULTS.has(f.kind)) await lab.heal(f.id);
      },
      stop: async () => {
        await lab.down();
      },
    };
  } catch (err) {
    await lab.down();
    throw err;
  }
}
