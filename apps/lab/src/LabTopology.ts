import { LabError, LabErrorCodes } from './errors.js';

/** Every namespace, veth, bridge and iptables chain the lab creates starts with this, so nothing else is ever touched. */
export const PREFIX = 'wtlab-';
/** The whole lab range: blackholed in the root namespace before anything else is created. */
export const LAB_RANGE = '10.231.0.0/16';
/** The server network (memcached, web nodes, the gateway's back leg) and the client network (gateway front, client, root). */
export const BACK_NET = { bridge: `${PREFIX}back`, prefix: '10.231.0', cidr: '10.231.0.0/24' } as const;
export const FRONT_NET = { bridge: `${PREFIX}front`, prefix: '10.231.1', cidr: '10.231.1.0/24' } as const;
/** The root namespace's leg into the client network: how `npm run lab` and the benchmarks reach the gateway. */
export const ROOT_LINK = { dev: `${PREFIX}root`, port: `${PREFIX}rootp`, ip: `${FRONT_NET.prefix}.254` } as const;

export const PORTS = { memcached: 11211, webmail: 8000, activesync: 8001, assets: 8002, gateway: 8080, gatewayAdmin: 9901 } as const;

export type HostRole = 'memcached' | 'webmail' | 'activesync' | 'assets' | 'gateway' | 'client';
export type TopologyName = 'kolab' | 'kolab-ha';
export const TOPOLOGIES: readonly TopologyName[] = ['kolab', 'kolab-ha'];

export interface HostLink {
  net: 'back' | 'front';
  /** The veth end in the root namespace, enslaved to the network's bridge (link-down sets it down). */
  dev: string;
  /** The interface name inside the host's namespace. */
  ifname: string;
  ip: string;
}

/** One lab host: a network namespace with one leg per network it is on. */
export interface LabHost {
  name: string;
  role: HostRole;
  ns: string;
  links: HostLink[];
}

export interface LabTopology {
  name: TopologyName;
  hosts: LabHost[];
  /** Service IPs on the client network held by keepalived (kolab-ha only). */
  vips: string[];
}

function host(name: string, role: HostRole, short: string, legs: Array<['back' | 'front', number]>): LabHost {
  return {
    name,
    role,
    ns: `${PREFIX}${name}`,
    links: legs.map(([net, octet], i) => ({ net, dev: `${PREFIX}${short}${net[0]}`, ifname: `eth${i}`, ip: `${net === 'back' ? BACK_NET.prefix : FRONT_NET.prefix}.${octet}` })),
  };
}

/**
 * The Kolab guide's web tier, one host each: memcached-1..4 (pairs 1+2 and 3+4), webmail-1..2,
 * activesync-1..2, assets-1..2, the gateway (back leg .2, front leg .2) and a client host.
 * `kolab-ha` has two gateway hosts and two VIPs (.3 and .4 on the client network, issue 14).
 */
export function labTopology(name: TopologyName = 'kolab'): LabTopology {
  if (!TOPOLOGIES.includes(name)) throw new LabError(LabErrorCodes.BAD_ARGS, `--topology: "${name}" is not a lab topology; known: ${TOPOLOGIES.join(', ')}`);
  const hosts: LabHost[] = [];
  for (let i = 1; i <= 4; i++) hosts.push(host(`memcached-${i}`, 'memcached', `mc${i}`, [['back', 10 + i]]));
  for (let i = 1; i <= 2; i++) hosts.push(host(`webmail-${i}`, 'webmail', `wm${i}`, [['back', 20 + i]]));
  for (let i = 1; i <= 2; i++) hosts.push(host(`activesync-${i}`, 'activesync', `as${i}`, [['back', 30 + i]]));
  for (let i = 1; i <= 2; i++) hosts.push(host(`assets-${i}`, 'assets', `st${i}`, [['back', 40 + i]]));
  if (name === 'kolab') hosts.push(host('gateway', 'gateway', 'gw', [['back', 2], ['front', 2]]));
  else for (let i = 1; i <= 2; i++) hosts.push(host(`gateway-${i}`, 'gateway', `gw${i}`, [['back', 5 + i], ['front', 5 + i]]));
  hosts.push(host('client', 'client', 'cl', [['front', 100]]));
  return { name, hosts, vips: name === 'kolab-ha' ? [`${FRONT_NET.prefix}.3`, `${FRONT_NET.prefix}.4`] : [] };
}

/** The address others use to reach a host's service: its back-network IP, else its front IP. */
export function hostIp(h: LabHost, net?: 'back' | 'front'): string {
  const link = net ? h.links.find((l) => l.net === net) : (h.links.find((l) => l.net === 'back') ?? h.links[0]);
  if (!link) throw new LabError(LabErrorCodes.BAD_STATE, `${h.name} has no ${net ?? ''} link`);
  return link.ip;
}

export function findHost(t: { hosts: LabHost[] }, name: string): LabHost {
  const h = t.hosts.find((x) => x.name === name);
  if (!h) throw new LabError(LabErrorCodes.UNKNOWN_HOST, `no lab host named "${name}"; hosts are ${t.hosts.map((x) => x.name).join(', ')}`);
  return h;
}
