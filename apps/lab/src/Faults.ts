import { run, tryRun } from './Command.js';
import { LabError, LabErrorCodes } from './errors.js';
import { killProcess, signalProcess, spawnProcess, stopProcess, waitReady } from './HostProcess.js';
import type { ActiveFault, LabProcess, LabState } from './LabState.js';
import { findHost, type LabHost } from './LabTopology.js';
import { CHAIN_IN, CHAIN_OUT } from './Network.js';

/** The fault kinds and how many hosts each takes. */
export const FAULT_KINDS = {
  kill: 1,
  stop: 1,
  freeze: 1,
  'restart-empty': 1,
  blackhole: 1,
  partition: 2,
  'one-way': 2,
  'link-down': 1,
} as const;
export type FaultKind = keyof typeof FAULT_KINDS;

export function isFaultKind(kind: string): kind is FaultKind {
  return Object.hasOwn(FAULT_KINDS, kind);
}

/** The host's own service process (memcached on a memcached host, the gateway on a gateway host...): what kill/freeze hit. */
export function mainProcess(state: LabState, host: LabHost): LabProcess {
  const p = state.data.processes.find((x) => x.host === host.name && x.name === host.role);
  if (!p) throw new LabError(LabErrorCodes.BAD_STATE, `${host.name} runs no ${host.role} process (the client host runs none; was the lab brought up with its apps?)`);
  return p;
}

const ips = (h: LabHost) => h.links.map((l) => l.ip);

/**
 * Applies a fault and records what undoes it. Network faults are iptables DROP rules inside the hosts'
 * own namespaces (a DROP sends nothing back: no RST, no ICMP, the peer waits out its timeouts) or a
 * root-side veth set down (the host vanishes from the bridge).
 */
export async function applyFault(state: LabState, kind: FaultKind, hostNames: string[], readyTimeoutMs = 30_000): Promise<ActiveFault> {
  const want = FAULT_KINDS[kind];
  if (hostNames.length !== want) throw new LabError(LabErrorCodes.BAD_ARGS, `fault ${kind} takes ${want} host${want > 1 ? 's' : ''}, got ${hostNames.length} (${hostNames.join(' ') || 'none'})`);
  const hosts = hostNames.map((n) => findHost(state.data.topology, n));
  if (want === 2 && hosts[0] === hosts[1]) throw new LabError(LabErrorCodes.BAD_ARGS, `fault ${kind} needs two different hosts, got ${hostNames[0]} twice`);
  // Process faults need a process to hit: refuse before anything is recorded.
  if (kind === 'kill' || kind === 'stop' || kind === 'freeze' || kind === 'restart-empty') mainProcess(state, hosts[0]!);
  const fault: ActiveFault = { id: state.data.nextFaultId++, kind, hosts: hostNames, startedAt: new Date().toISOString(), rules: [], links: [], frozen: [], killed: [] };
  const tag = ['-m', 'comment', '--comment', `wtlab-fault-${fault.id}`];
  const rule = (h: LabHost, chain: string, spec: string[]) => fault.rules.push({ ns: h.ns, chain, spec: [...spec, ...tag, '-j', 'DROP'] });
  const [a, b] = hosts as [LabHost, LabHost | undefined];
  switch (kind) {
    case 'blackhole':
      rule(a, CHAIN_IN, ['!', '-i', 'lo']);
      rule(a, CHAIN_OUT, ['!', '-o', 'lo']);
      break;
    case 'partition':
      for (const [x, y] of [[a, b!], [b!, a]] as const) for (const ip of ips(y)) {
        rule(x, CHAIN_IN, ['-s', ip]);
        rule(x, CHAIN_OUT, ['-d', ip]);
      }
      break;
    case 'one-way':
      // Packets from a to b are lost on the way; b's packets to a arrive.
      for (const ip of ips(a)) rule(b!, CHAIN_IN, ['-s', ip]);
      break;
    case 'link-down':
      fault.links = a.links.map((l) => l.dev);
      break;
    case 'freeze':
      fault.frozen = [mainProcess(state, a).pid ?? 0].filter(Boolean);
      break;
    case 'kill':
    case 'stop':
      fault.killed = [{ host: a.name, name: a.role }];
      break;
    case 'restart-empty':
      break;
  }
  state.data.faults.push(fault);
  state.save();
  state.logFault(`start #${fault.id} ${kind} ${hostNames.join(' ')}`);
  for (const r of fault.rules) await run('ip', ['netns', 'exec', r.ns, 'iptables', '-w', '-I', r.chain, ...r.spec]);
  for (const dev of fault.links) await run('ip', ['link', 'set', dev, 'down']);
  if (kind === 'freeze') {
    const p = mainProcess(state, a);
    if (!signalProcess(p, 'SIGSTOP')) throw new LabError(LabErrorCodes.BAD_STATE, `${a.name}: its ${p.name} process is not running (state ${p.state}); nothing to freeze`);
    p.state = 'frozen';
  }
  if (kind === 'kill') await killProcess(state, mainProcess(state, a));
  if (kind === 'stop') await stopProcess(state, mainProcess(state, a));
  if (kind === 'restart-empty') {
    // A one-shot fault: SIGKILL, start again (memcached comes back empty), done when it answers.
    const p = mainProcess(state, a);
    await killProcess(state, p);
    spawnProcess(state, p);
    await waitReady(state, p, readyTimeoutMs);
    await endFault(state, fault, readyTimeoutMs);
  }
  state.save();
  return fault;
}

async function endFault(state: LabState, fault: ActiveFault, readyTimeoutMs: number): Promise<void> {
  for (const r of fault.rules) await tryRun('ip', ['netns', 'exec', r.ns, 'iptables', '-w', '-D', r.chain, ...r.spec]);
  for (const dev of fault.links) await tryRun('ip', ['link', 'set', dev, 'up']);
  for (const pid of fault.frozen) {
    const p = state.data.processes.find((x) => x.pid === pid);
    if (p && signalProcess(p, 'SIGCONT')) p.state = 'running';
  }
  for (const k of fault.killed) {
    const p = state.data.processes.find((x) => x.host === k.host && x.name === k.name);
    if (p && p.state === 'killed') {
      spawnProcess(state, p);
      await waitReady(state, p, readyTimeoutMs);
    }
  }
  state.data.faults = state.data.faults.filter((f) => f.id !== fault.id);
  state.save();
  state.logFault(`end   #${fault.id} ${fault.kind} ${fault.hosts.join(' ')} (started ${fault.startedAt})`);
}

/** Undoes one fault (by id) or every fault in force: rules removed, links up, processes thawed, killed ones started again. */
export async function heal(state: LabState, id?: number, readyTimeoutMs = 30_000): Promise<ActiveFault[]> {
  const faults = id === undefined ? [...state.data.faults].reverse() : state.data.faults.filter((f) => f.id === id);
  if (id !== undefined && faults.length === 0) throw new LabError(LabErrorCodes.BAD_ARGS, `no fault #${id} in force; in force: ${state.data.faults.map((f) => `#${f.id} ${f.kind}`).join(', ') || 'none'}`);
  for (const f of faults) await endFault(state, f, readyTimeoutMs);
  return faults;
}
