import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EXIT } from './args.js';

/**
 * The two-gateway layout of the Kolab guide: both hosts run keepalived; host 1 is VRRP master of
 * the first service address (priority 200 over 100), host 2 of the second; a failing local check
 * subtracts 101 (200 − 101 = 99 < 100), so the peer takes the address; DNS holds one A record per
 * service address.
 */
export interface KeepalivedPlan {
  /** Network interface the service addresses live on. */
  interface: string;
  /** The two service addresses with prefix length (`192.0.2.3/24`); host 1 masters the first, host 2 the second. */
  vips: [string, string];
  /** The two hosts' own addresses: VRRP over unicast between them (networks without multicast). */
  peers: [string, string] | undefined;
  /** VRRP password shared by both hosts (1..8 characters, keepalived's PASS limit). */
  password: string;
  /** virtual_router_id of the first instance; the second uses the next one. @default 51 */
  routerId: number;
  /** The gateway's admin URL the check probes. @default 'http://127.0.0.1:9901' */
  admin: string;
  /** Absolute path of the webtier-gateway bin keepalived runs. */
  bin: string;
  /**
   * How a failing check gives the address up. 'fault': the check has no weight, so the instance goes
   * to FAULT and keepalived sends a priority-0 advert; the peer takes over after its skew time
   * (about 0.6 s). 'weight': the Kolab guide's `weight -101`; the peer ignores the lower-priority
   * adverts and waits out its master-down timer (3 × advert_int + skew, about 3.6 s). @default 'fault'
   */
  failover: Failover;
}

/** See KeepalivedPlan.failover. */
export type Failover = 'fault' | 'weight';
export const FAILOVERS: readonly Failover[] = ['fault', 'weight'];

export const PRIORITY_MASTER = 200;
export const PRIORITY_BACKUP = 100;
/** 200 − 101 = 99: below the backup's 100, so a failed check hands the address over. */
export const CHECK_WEIGHT = -101;

/** keepalived.conf of host 1 or 2. */
export function keepalivedConf(plan: KeepalivedPlan, host: 1 | 2): string {
  const self = plan.peers?.[host - 1];
  const other = plan.peers?.[2 - host];
  const instance = (i: 0 | 1) => {
    const master = i === host - 1;
    return `vrrp_instance webtier_vip${i + 1} {
    # Host ${i + 1} holds ${plan.vips[i]} (priority ${PRIORITY_MASTER}); the other host takes it over (${PRIORITY_BACKUP}).
    state ${master ? 'MASTER' : 'BACKUP'}
    interface ${plan.interface}
    virtual_router_id ${plan.routerId + i}
    priority ${master ? PRIORITY_MASTER : PRIORITY_BACKUP}
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass ${plan.password}
    }
${self && other ? `    unicast_src_ip ${self}\n    unicast_peer {\n        ${other}\n    }\n` : ''}    virtual_ipaddress {
        ${plan.vips[i]} dev ${plan.interface}
    }
    track_script {
        webtier_gateway
    }
    # keepalived appends: INSTANCE <name> <MASTER|BACKUP|FAULT|STOP> <priority>
    notify "/usr/bin/logger -t webtier-keepalived"
${plan.failover === 'fault' ? synDropHooks(plan.vips[i].split('/')[0]!) : ''}}
`;
  };
  return `# keepalived.conf for webtier gateway host ${host} of 2, written by \`webtier-gateway keepalived\`.
# Host 1 is master of ${plan.vips[0]}, host 2 of ${plan.vips[1]}; DNS: one A record per address.
${plan.failover === 'weight' ? `# A failing check (not ready, draining, no answer within 1 s) subtracts ${-CHECK_WEIGHT} from this host's
# priorities: ${PRIORITY_MASTER} - ${-CHECK_WEIGHT} = ${PRIORITY_MASTER + CHECK_WEIGHT} < ${PRIORITY_BACKUP}, so the peer takes the address after its
# master-down timer (3 x advert_int + skew, about 3.6 s).
# Do not add nopreempt: it does not combine with weight-based failover.` : `# A failing check (not ready, draining, no answer within 1 s) puts both instances into FAULT: this
# host sends a priority-0 advert and the peer takes the address after its skew time (about 0.6 s).
# If both hosts' checks fail, neither holds the addresses.`}
global_defs {
    router_id webtier_gateway_${host}
    enable_script_security
    script_user root
}

vrrp_script webtier_gateway {
    script "${plan.bin} check --admin ${plan.admin} --timeout-ms 1000"
    interval 1
    timeout 2
    fall 1
    rise 2
${plan.failover === 'weight' ? `    weight ${CHECK_WEIGHT}\n` : '    # no weight: a failure is a FAULT (priority-0 advert, fast takeover)\n'}}

${instance(0)}
${instance(1)}`;
}

/**
 * While an instance is in FAULT (this gateway draining or gone) new connections to its address are
 * dropped, not refused: the client sends its SYN again after 1 s, to the peer that holds the address by
 * then, and the requests already here finish (with the address also on lo, see deploy/README.md). Leaving
 * FAULT removes the rule (BACKUP then MASTER both delete; the second delete fails harmlessly).
 */
export const IPTABLES = '/usr/sbin/iptables';
function synDropHooks(vip: string): string {
  const rule = (op: '-I' | '-D') => `${IPTABLES} -w ${op} INPUT -d ${vip} -p tcp --syn -j DROP`;
  return `    # FAULT: new connections to ${vip} wait for the peer (SYN dropped here, sent again by the client after 1 s).
    notify_fault "${rule('-I')}"
    notify_backup "${rule('-D')}"
    notify_master "${rule('-D')}"
`;
}

function addressOf(value: string, what: string, withPrefix: boolean): string {
  const [addr, bits, extra] = value.split('/');
  const v = isIP(addr ?? '');
  const max = v === 6 ? 128 : 32;
  if (!v || extra !== undefined || (withPrefix ? bits === undefined || !/^\d{1,3}$/.test(bits) || Number(bits) > max : bits !== undefined)) {
    throw new Error(`${what}: "${value}" is not ${withPrefix ? 'an address with a prefix length such as 192.0.2.3/24' : 'an IP address such as 192.0.2.1'}`);
  }
  return value;
}

/** Parses the `keepalived` subcommand's options into a plan; throws Error naming the bad option. */
export function parseKeepalivedArgs(argv: string[], defaultBin: string): { plan: KeepalivedPlan; host: 1 | 2 | undefined; outDir: string | undefined } {
  const { values } = parseArgs({
    args: argv,
    options: {
      interface: { type: 'string' },
      vip: { type: 'string', multiple: true },
      peer: { type: 'string', multiple: true },
      password: { type: 'string' },
      'router-id': { type: 'string' },
      admin: { type: 'string' },
      bin: { type: 'string' },
      host: { type: 'string' },
      'out-dir': { type: 'string' },
      failover: { type: 'string' },
    },
  });
  if (!values.interface || !/^[A-Za-z0-9_.:-]{1,15}$/.test(values.interface)) throw new Error(`--interface: expected a network interface name such as eth0 (got ${JSON.stringify(values.interface ?? null)})`);
  const vips = values.vip ?? [];
  if (vips.length !== 2) throw new Error(`--vip: give exactly two service addresses (host 1 masters the first, host 2 the second); got ${vips.length}`);
  const peers = values.peer ?? [];
  if (peers.length !== 0 && peers.length !== 2) throw new Error(`--peer: give both hosts' own addresses (host 1's, then host 2's) for unicast VRRP, or none for multicast; got ${peers.length}`);
  const host = values.host === undefined ? undefined : values.host === '1' ? 1 : values.host === '2' ? 2 : undefined;
  if (values.host !== undefined && host === undefined) throw new Error(`--host: expected 1 or 2 (got "${values.host}")`);
  if (host === undefined && values['out-dir'] === undefined) throw new Error('give --host 1|2 (print that host\'s keepalived.conf) or --out-dir <dir> (write both)');
  if (host !== undefined && values.password === undefined) throw new Error('--password is required with --host: both hosts must share it (with --out-dir a random one is written into both files)');
  const password = values.password ?? randomBytes(6).toString('base64url').slice(0, 8);
  if (!/^[\x21-\x7e]{1,8}$/.test(password) || password.includes('"')) throw new Error('--password: 1 to 8 printable characters without spaces or quotes (keepalived PASS authentication uses at most 8)');
  const routerId = Number(values['router-id'] ?? 51);
  if (!Number.isInteger(routerId) || routerId < 1 || routerId > 254) throw new Error(`--router-id: expected 1..254, the first instance's virtual_router_id; the second uses the next (got "${values['router-id']}")`);
  const admin = values.admin ?? 'http://127.0.0.1:9901';
  if (!/^https?:\/\/[^\s"]+$/.test(admin)) throw new Error(`--admin: expected the gateway's admin URL such as http://127.0.0.1:9901 (got "${admin}")`);
  const bin = values.bin ?? defaultBin;
  if (!bin.startsWith('/') || /[\s"]/.test(bin)) throw new Error(`--bin: expected the absolute path of webtier-gateway without spaces (got "${bin}")`);
  const failover = (values.failover ?? 'fault') as Failover;
  if (!FAILOVERS.includes(failover)) throw new Error(`--failover: expected fault (fast: priority-0 advert) or weight (the Kolab guide's weight -101) (got "${values.failover}")`);
  return {
    plan: {
      failover,
      interface: values.interface,
      vips: [addressOf(vips[0]!, '--vip', true), addressOf(vips[1]!, '--vip', true)],
      peers: peers.length === 2 ? [addressOf(peers[0]!, '--peer', false), addressOf(peers[1]!, '--peer', false)] : undefined,
      password,
      routerId,
      admin,
      bin,
    },
    host,
    outDir: values['out-dir'],
  };
}

/** `webtier-gateway keepalived ...`: prints one host's config or writes both; returns the exit code. */
export function keepalivedCommand(argv: string[]): number {
  let parsed: ReturnType<typeof parseKeepalivedArgs>;
  try {
    parsed = parseKeepalivedArgs(argv, process.argv[1] ?? '/usr/bin/webtier-gateway');
  } catch (err) {
    process.stderr.write(`webtier-gateway keepalived: ${(err as Error).message}\n`);
    return EXIT.USAGE;
  }
  if (parsed.host !== undefined && parsed.outDir === undefined) {
    process.stdout.write(keepalivedConf(parsed.plan, parsed.host));
    return EXIT.OK;
  }
  const dir = parsed.outDir!;
  mkdirSync(dir, { recursive: true });
  for (const host of parsed.host ? [parsed.host] : ([1, 2] as const)) {
    const file = join(dir, `keepalived-host${host}.conf`);
    writeFileSync(file, keepalivedConf(parsed.plan, host), { mode: 0o600 });
    process.stdout.write(`${file}\n`);
  }
  return EXIT.OK;
}
