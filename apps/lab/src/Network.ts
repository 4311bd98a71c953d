import { readdirSync, readFileSync } from 'node:fs';
import { run, tryRun } from './Command.js';
import type { LabState } from './LabState.js';
import { BACK_NET, FRONT_NET, LAB_RANGE, PREFIX, ROOT_LINK } from './LabTopology.js';

/** The iptables chains every host namespace gets; faults add their DROP rules there. */
export const CHAIN_IN = 'WTLAB-IN';
export const CHAIN_OUT = 'WTLAB-OUT';

async function blackholeRouteExists(): Promise<boolean> {
  const r = await tryRun('ip', ['route', 'show', 'exact', LAB_RANGE]);
  return /\bblackhole\b/.test(r.stdout);
}

/**
 * Creates the lab's network, recording each object in the state before creating it:
 * 1. the blackhole route for the whole lab range in the root namespace (first: a lab address that
 *    is not up, or no longer, is dropped here instead of following the default route off the machine);
 * 2. the two bridges; 3. per host a namespace, a veth per network leg, the fault chains;
 * 4. the root namespace's veth into the client network.
 */
export async function createNetwork(state: LabState): Promise<void> {
  const d = state.data;
  if (!(await blackholeRouteExists())) {
    d.route = true;
    state.save();
    await run('ip', ['route', 'add', 'blackhole', LAB_RANGE]);
  }
  for (const bridge of [BACK_NET.bridge, FRONT_NET.bridge]) {
    d.bridges.push(bridge);
    state.save();
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    // No STP delay, no IPv6 chatter on the lab bridges.
    await run('ip', ['link', 'set', bridge, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
    await tryRun('sysctl', ['-q', '-w', `net.ipv6.conf.${bridge}.disable_ipv6=1`]);
    await run('ip', ['link', 'set', bridge, 'up']);
  }
  for (const h of d.topology.hosts) {
    d.namespaces.push(h.ns);
    state.save();
    await run('ip', ['netns', 'add', h.ns]);
    await run('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up']);
    for (const l of h.links) {
      d.veths.push(l.dev);
      state.save();
      await run('ip', ['link', 'add', l.dev, 'type', 'veth', 'peer', 'name', l.ifname, 'netns', h.ns]);
      await run('ip', ['link', 'set', l.dev, 'master', l.net === 'back' ? BACK_NET.bridge : FRONT_NET.bridge, 'up']);
      await run('ip', ['-n', h.ns, 'addr', 'add', `${l.ip}/24`, 'dev', l.ifname]);
      await run('ip', ['-n', h.ns, 'link', 'set', l.ifname, 'up']);
    }
    if (h.role === 'gateway' && d.topology.vips.length > 0) await holdVipsOnLoopback(h.ns, d.topology.vips);
    for (const [chain, hook] of [[CHAIN_IN, 'INPUT'], [CHAIN_OUT, 'OUTPUT']] as const) {
      await run('ip', ['netns', 'exec', h.ns, 'iptables', '-w', '-N', chain]);
      await run('ip', ['netns', 'exec', h.ns, 'iptables', '-w', '-I', hook, '-j', chain]);
    }
  }
  d.veths.push(ROOT_LINK.dev);
  state.save();
  await run('ip', ['link', 'add', ROOT_LINK.dev, 'type', 'veth', 'peer', 'name', ROOT_LINK.port]);
  await run('ip', ['link', 'set', ROOT_LINK.port, 'master', FRONT_NET.bridge, 'up']);
  await run('ip', ['addr', 'add', `${ROOT_LINK.ip}/24`, 'dev', ROOT_LINK.dev]);
  await run('ip', ['link', 'set', ROOT_LINK.dev, 'up']);
}

/**
 * kolab-ha: every VIP also on the gateway host's loopback (/32), with ARP limited to the addresses of
 * the asking interface (arp_ignore 1) and ARP requests sent from the interface's own address
 * (arp_announce 2), as on an LVS direct-routing real server. keepalived still decides which host
 * receives a VIP's packets (its VIP on the front interface, the ARP answers and gratuitous ARPs),
 * but a host that loses the VIP can still answer the connections it has: a request in flight when
 * keepalived moves the VIP gets its response (the client's next packets go to the new holder, which
 * resets the connection after the response; the gateway's drain has already said Connection: close).
 * Without it the old holder can no longer send from the address and the client waits for its timeout
 * (measured: 8–9 of 10 users of a VIP timed out on each `stop`, 10 s after the VIP moved).
 */
async function holdVipsOnLoopback(ns: string, vips: readonly string[]): Promise<void> {
  for (const [key, value] of [['arp_ignore', '1'], ['arp_announce', '2']]) {
    await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv4.conf.all.${key}=${value}`]);
  }
  for (const vip of vips) await run('ip', ['-n', ns, 'addr', 'add', `${vip}/32`, 'dev', 'lo']);
}

/** Every network namespace whose name has the lab prefix. */
export async function labNamespaces(): Promise<string[]> {
  const r = await tryRun('ip', ['netns', 'list']);
  return r.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((n) => n.startsWith(PREFIX));
}

/** Every link in the root namespace whose name has the lab prefix. */
export async function labLinks(): Promise<string[]> {
  const r = await tryRun('ip', ['-o', 'link', 'show']);
  return r.stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n.startsWith(PREFIX));
}

/** The pids of every process inside a namespace. */
export async function namespacePids(ns: string): Promise<number[]> {
  const r = await tryRun('ip', ['netns', 'pids', ns]);
  return r.stdout.split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/** What is left of a lab on this machine (empty lists and route false: nothing). */
export async function leftovers(): Promise<{ namespaces: string[]; links: string[]; route: boolean; rootRules: string[] }> {
  const rules = await tryRun('iptables-save', []);
  return {
    namespaces: await labNamespaces(),
    links: await labLinks(),
    route: await blackholeRouteExists(),
    rootRules: rules.stdout.split('\n').filter((l) => /wtlab/i.test(l)),
  };
}

/**
 * Removes the lab's network: SIGKILLs every process inside a lab namespace, deletes the namespaces
 * (their veth ends go with them), any wtlab-* link left in the root namespace, the bridges, and
 * last the blackhole route (when we added it, or when no state survived and lab objects were found).
 * Works from the state file and by name, so it is idempotent and survives a crash mid-`up`.
 */
export async function destroyNetwork(state: LabState | undefined, log: (line: string) => void = () => {}): Promise<void> {
  const namespaces = [...new Set([...(state?.data.namespaces ?? []), ...(await labNamespaces())])];
  const existing = new Set(await labNamespaces());
  for (const ns of namespaces.filter((n) => existing.has(n))) {
    const pids = await namespacePids(ns);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    if (pids.length > 0) log(`killed ${pids.length} process(es) in ${ns}`);
    await waitGone(pids, 5000);
  }
  for (const ns of namespaces.filter((n) => existing.has(n))) await tryRun('ip', ['netns', 'del', ns]);
  const links = await labLinks();
  // veths before bridges (deleting a veth end deletes its peer too).
  for (const dev of links.filter((l) => l !== BACK_NET.bridge && l !== FRONT_NET.bridge)) await tryRun('ip', ['link', 'del', dev]);
  for (const dev of (await labLinks())) await tryRun('ip', ['link', 'del', dev]);
  const foundStray = !state && (namespaces.length > 0 || links.length > 0);
  if ((state?.data.route || foundStray) && (await blackholeRouteExists())) await tryRun('ip', ['route', 'del', 'blackhole', LAB_RANGE]);
  if (namespaces.length || links.length) log(`removed ${namespaces.length} namespace(s), ${links.length} link(s)${state?.data.route || foundStray ? ' and the blackhole route' : ''}`);
}

/** Resolves once none of `pids` is alive (zombies count as gone), or after timeoutMs. */
export async function waitGone(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pids.every((p) => !pidAlive(p))) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Alive, or still tearing down. A zombie counts as gone only once it is its last thread: a SIGKILLed
 * Node process's main thread reads as a zombie while its other threads are still exiting, and until
 * the last one has, its sockets stay open (measured: a killed HTTP server still accepted connections
 * in 6 of 20 tries at that moment; 0 of 20 once the zombie had one task left). The lab's `kill`
 * fault waits for that, so a test right after it sees the port refused.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (!/^\d+ \(.*\) Z/.test(stat)) return true;
    return readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return false;
  }
}
