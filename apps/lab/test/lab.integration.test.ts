// The multi-host lab on real network namespaces (needs root, iproute2, iptables, curl, memcached,
// keepalived). Everything lab-related is in this one file, run in order: one namespace set at a
// time on a machine (Lab.up also waits for a lab of another process to go away), and each describe's
// afterAll tears its lab down, also on failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, leftovers, type FaultKind } from '../src/index.js';
import { loginUsers, runUsers } from './UserLoad.js';

type Reach = 'open' | 'refused' | 'timeout' | 'unreachable' | 'other';

let lab: Lab;
let pidsSeen: number[] = [];

/** A TCP connect from inside `from` to ip:port, bounded by 1.5 s. */
async function connect(from: string, ip: string, port: number): Promise<Reach> {
  const r = await lab.exec(from, 'bash', ['-c', `timeout 1.5 bash -c 'exec 3<>/dev/tcp/${ip}/${port}' 2>&1; echo "rc=$?"`], 5000);
  const out = r.stdout;
  if (/rc=0/.test(out)) return 'open';
  if (/rc=124/.test(out)) return 'timeout';
  if (/refused/i.test(out)) return 'refused';
  if (/no route|unreachable/i.test(out)) return 'unreachable';
  return 'other';
}

/** memcached's answer to `version` within 1 s from inside `from` ('' when none). */
async function memcachedVersion(from: string, ip: string): Promise<string> {
  const r = await lab.exec(from, 'bash', ['-c', `exec 3<>/dev/tcp/${ip}/11211 && printf 'version\\r\\n' >&3 && timeout 1 head -c 7 <&3`], 5000);
  return r.stdout;
}

/** Whether a UDP datagram sent from `from` reaches a listener on `to` (listener: node in `to`'s namespace). */
async function udpArrives(from: string, to: string): Promise<boolean> {
  const ip = lab.ip(to);
  const listener = lab.exec(to, process.execPath, ['-e', `const s=require('dgram').createSocket('udp4');s.on('message',()=>{console.log('got');process.exit(0)});s.bind(9999,'${ip}',()=>console.log('ready'));setTimeout(()=>process.exit(0),2500)`], 6000);
  await new Promise((r) => setTimeout(r, 700));
  for (let i = 0; i < 3; i++) {
    await lab.exec(from, 'bash', ['-c', `echo hi > /dev/udp/${ip}/9999`], 2000);
    await new Promise((r) => setTimeout(r, 100));
  }
  return (await listener).stdout.includes('got');
}

describe('lab kolab (one host per node)', () => {
  beforeAll(async () => {
    lab = await Lab.up({ owner: process.pid, waitMs: 120_000 });
    pidsSeen = lab.processes().map((p) => p.pid!).filter(Boolean);
  }, 150_000);

  afterAll(async () => {
    await lab?.down();
  }, 60_000);

  describe('lab: up', () => {
    it('serves the web tier through the gateway from the root namespace; every host is isolated in its own namespace', async () => {
      expect((await fetch(`${lab.gatewayUrl}/healthz`)).status).toBe(200);
      expect(lab.processes().filter((p) => p.state === 'running')).toHaveLength(11);
      // A lab address is reachable only through the lab: the root namespace has no route to the
      // server network (only the blackhole), only its veth into the client network.
      await expect(fetch(`http://${lab.ip('webmail-1')}:8000/healthz`, { signal: AbortSignal.timeout(500) })).rejects.toThrow();
      expect(await connect('webmail-1', lab.ip('memcached-3'), 11211)).toBe('open');
      expect(await connect('webmail-1', lab.ip('memcached-3'), 9)).toBe('refused');
    });
  });

  describe('lab: a memcached host blackholed, then partitioned from one web node, under load through the gateway', () => {
    it('loses no session and answers every request (0 lost, 0 errors, no split history)', async () => {
      const cookies = await loginUsers(lab.gatewayUrl, 6);
      const timeline = (async () => {
        await new Promise((r) => setTimeout(r, 1500));
        await lab.fault('blackhole', ['memcached-1'], { forMs: 4000 });
        await new Promise((r) => setTimeout(r, 1500));
        await lab.fault('partition', ['webmail-1', 'memcached-3'], { forMs: 4000 });
        await new Promise((r) => setTimeout(r, 2000));
      })();
      const result = await runUsers(lab.gatewayUrl, cookies, timeline);
      expect(result.requests).toBeGreaterThan(200);
      expect({ lost: result.lost, errors: result.errors, splits: result.splits, samples: result.samples }).toEqual({ lost: 0, errors: 0, splits: 0, samples: [] });
      // Every request answered within the lab's webmail route timeout (8 s).
      expect(result.maxMs).toBeLessThan(8_000);
    }, 60_000);
  });

  // Each fault must be real: the check before the fault passes, the check during it shows the fault
  // the way a peer on a real network would see it, the check after the heal passes again.
  interface FaultCase {
    kind: FaultKind;
    hosts: string[];
    before: () => Promise<unknown>;
    during: () => Promise<unknown>;
    expectBefore: unknown;
    expectDuring: unknown;
  }

  const cases: FaultCase[] = [
    {
      // Dropped both ways, no RST: a closed port that refused before now times out, from and to the host.
      kind: 'blackhole',
      hosts: ['memcached-2'],
      before: async () => [await connect('webmail-1', lab.ip('memcached-2'), 9), await connect('memcached-2', lab.ip('webmail-1'), 8000)],
      during: async () => [await connect('webmail-1', lab.ip('memcached-2'), 9), await connect('memcached-2', lab.ip('webmail-1'), 8000)],
      expectBefore: ['refused', 'open'],
      expectDuring: ['timeout', 'timeout'],
    },
    {
      // Only between the two: webmail-2 still reaches memcached-3.
      kind: 'partition',
      hosts: ['webmail-1', 'memcached-3'],
      before: async () => [await connect('webmail-1', lab.ip('memcached-3'), 11211), await connect('memcached-3', lab.ip('webmail-1'), 8000), await connect('webmail-2', lab.ip('memcached-3'), 11211)],
      during: async () => [await connect('webmail-1', lab.ip('memcached-3'), 11211), await connect('memcached-3', lab.ip('webmail-1'), 8000), await connect('webmail-2', lab.ip('memcached-3'), 11211)],
      expectBefore: ['open', 'open', 'open'],
      expectDuring: ['timeout', 'timeout', 'open'],
    },
    {
      // Datagrams from the gateway to activesync-1 are lost; the other way they arrive.
      kind: 'one-way',
      hosts: ['gateway', 'activesync-1'],
      before: async () => [await udpArrives('gateway', 'activesync-1'), await udpArrives('activesync-1', 'gateway')],
      during: async () => [await udpArrives('gateway', 'activesync-1'), await udpArrives('activesync-1', 'gateway')],
      expectBefore: [true, true],
      expectDuring: [false, true],
    },
    {
      // The host leaves the bridge: its interface loses carrier, nobody reaches it (no RST), others still talk.
      kind: 'link-down',
      hosts: ['webmail-2'],
      before: async () => [await connect('gateway', lab.ip('webmail-2'), 9), (await lab.exec('webmail-2', 'ip', ['-o', 'link', 'show', 'eth0'])).stdout.includes('NO-CARRIER'), await connect('gateway', lab.ip('webmail-1'), 8000)],
      during: async () => [await connect('gateway', lab.ip('webmail-2'), 9), (await lab.exec('webmail-2', 'ip', ['-o', 'link', 'show', 'eth0'])).stdout.includes('NO-CARRIER'), await connect('gateway', lab.ip('webmail-1'), 8000)],
      expectBefore: ['refused', false, 'open'],
      expectDuring: ['timeout', true, 'open'],
    },
    {
      // The process is gone, the host is up: the kernel refuses at once.
      kind: 'kill',
      hosts: ['webmail-1'],
      before: () => connect('gateway', lab.ip('webmail-1'), 8000),
      during: () => connect('gateway', lab.ip('webmail-1'), 8000),
      expectBefore: 'open',
      expectDuring: 'refused',
    },
    {
      // SIGSTOP: the kernel still accepts the connection, memcached never answers.
      kind: 'freeze',
      hosts: ['memcached-4'],
      before: async () => [await connect('webmail-1', lab.ip('memcached-4'), 11211), await memcachedVersion('webmail-1', lab.ip('memcached-4'))],
      during: async () => [await connect('webmail-1', lab.ip('memcached-4'), 11211), await memcachedVersion('webmail-1', lab.ip('memcached-4'))],
      expectBefore: ['open', 'VERSION'],
      expectDuring: ['open', ''],
    },
  ];

  describe('lab: every fault kind is real, and heal undoes it', () => {
    it.each(cases)('$kind $hosts', async (c) => {
      expect(await c.before()).toEqual(c.expectBefore);
      const f = await lab.fault(c.kind, c.hosts);
      try {
        expect(await c.during()).toEqual(c.expectDuring);
      } finally {
        await lab.heal(f.id);
      }
      expect(await c.before()).toEqual(c.expectBefore);
      expect(lab.faults()).toEqual([]);
    }, 30_000);

    it('restart-empty: memcached comes back as a new, empty process on the same address', async () => {
      const mc = lab.ip('memcached-1');
      const cmd = (c: string) => lab.exec('webmail-1', 'bash', ['-c', `exec 3<>/dev/tcp/${mc}/11211 && printf '${c}' >&3 && timeout 1 cat <&3`], 5000).then((r) => r.stdout);
      expect(await cmd('set wtlab-probe 0 0 2\\r\\nhi\\r\\nget wtlab-probe\\r\\nquit\\r\\n')).toContain('VALUE wtlab-probe');
      const pid = lab.processes().find((p) => p.host === 'memcached-1')!.pid;
      await lab.fault('restart-empty', ['memcached-1']);
      const after = lab.processes().find((p) => p.host === 'memcached-1')!;
      expect(after.state).toBe('running');
      expect(after.pid).not.toBe(pid);
      expect(await cmd('get wtlab-probe\\r\\nquit\\r\\n')).not.toContain('VALUE');
      pidsSeen.push(after.pid!);
    });

    it('a fault with --for ends by itself, and the log holds its start and end', async () => {
      const t0 = Date.now();
      await lab.fault('blackhole', ['assets-2'], { forMs: 600 });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
      expect(lab.faults()).toEqual([]);
      const { readFileSync } = await import('node:fs');
      const log = readFileSync(`${lab.state.dir}/faults.log`, 'utf8');
      expect(log).toMatch(/start #\d+ blackhole assets-2/);
      expect(log).toMatch(/end +#\d+ blackhole assets-2/);
    });
  });

  describe('lab: down', () => {
    it('leaves nothing behind: no namespace, veth, bridge, root iptables rule, blackhole route or process', async () => {
      pidsSeen.push(...lab.processes().map((p) => p.pid!).filter(Boolean));
      expect((await leftovers()).namespaces.length).toBeGreaterThan(0);
      await lab.down();
      expect(await leftovers()).toEqual({ namespaces: [], links: [], route: false, rootRules: [] });
      const alive = pidsSeen.filter((pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      });
      expect(alive).toEqual([]);
      // No static Lab.down() here: it removes whatever lab is up, and another test run waiting for the lock
    // may have brought its lab up the moment ours went down (it tore down another session's lab once).
    await lab.down(); // our lab is gone: a no-op
    });
  });
});

let ha: Lab;

function haAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function haStatus(url: string): Promise<number> {
  return fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status, () => 0);
}

async function haUntil(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
}

describe('lab kolab-ha: two gateways, keepalived, two VIPs (issue 14)', () => {
  const url3 = () => ha.state.data.gatewayUrls[0]!;
  beforeAll(async () => {
    ha = await Lab.up({ topology: 'kolab-ha', owner: process.pid, waitMs: 240_000 });
  }, 300_000);

  afterAll(async () => {
    await ha?.down();
  }, 60_000);

  it('each gateway host holds its own VIP and both VIPs serve the web tier from the root namespace', async () => {
    const [vip3, vip4] = ha.topology.vips as [string, string];
    expect(await ha.vipHolder(vip3)).toBe('gateway-1');
    expect(await ha.vipHolder(vip4)).toBe('gateway-2');
    expect(ha.state.data.gatewayUrls).toEqual([`http://${vip3}:8080`, `http://${vip4}:8080`]);
    for (const url of ha.state.data.gatewayUrls) expect(await haStatus(url)).toBe(200);
  });

  it('each gateway host has both VIPs on lo and answers ARP only for its front addresses; a FAULT drops new SYNs to its VIP until the heal', async () => {
    const [vip3, vip4] = ha.topology.vips as [string, string];
    const synDrop = async (host: string) => (await ha.exec(host, 'iptables', ['-w', '-S', 'INPUT'])).stdout.split('\n').filter((l) => l.includes(`-d ${vip3}/32`) && l.includes('DROP'));
    for (const g of ['gateway-1', 'gateway-2']) {
      const lo = (await ha.exec(g, 'ip', ['-o', '-4', 'addr', 'show', 'dev', 'lo'])).stdout;
      expect(lo, `${g}: lo`).toContain(` ${vip3}/32`);
      expect(lo, `${g}: lo`).toContain(` ${vip4}/32`);
      expect((await ha.exec(g, 'sysctl', ['-n', 'net.ipv4.conf.all.arp_ignore', 'net.ipv4.conf.all.arp_announce'])).stdout.split('\n').filter(Boolean), g).toEqual(['1', '2']);
    }
    expect(await synDrop('gateway-1'), 'no SYN drop while gateway-1 is ready').toEqual([]);
    const fault = await ha.fault('kill', ['gateway-1']);
    try {
      await haUntil('VIP .3 on gateway-2', async () => (await ha.vipHolder(vip3)) === 'gateway-2', 10_000);
      expect(await synDrop('gateway-1'), 'gateway-1 in FAULT drops SYNs to its VIP').toHaveLength(1);
      expect(await synDrop('gateway-2'), 'gateway-2 holds VIP .3 and accepts').toEqual([]);
    } finally {
      await ha.heal(fault.id);
    }
    await haUntil('VIP .3 back on gateway-1', async () => (await ha.vipHolder(vip3)) === 'gateway-1', 10_000);
    await haUntil('the SYN drop removed when gateway-1 leaves FAULT', async () => (await synDrop('gateway-1')).length === 0, 5000);
    await haUntil('VIP .3 answers from gateway-1', async () => (await haStatus(url3())) === 200, 5000);
  }, 45_000);

  // Issue 14's faults on the master of VIP .3: keepalived's check (kill, stop, freeze) or the host
  // vanishing with keepalived on it (link-down) must move the VIP; the heal brings it back (preempt).
  // keepalived's backup takes a VIP when its master-down timer runs out (3 × advert_int + skew, ~3.6 s)
  // after the master's check failed (the backup discards the lower-priority adverts); a frozen gateway
  // fails its check only when curl's 1 s --max-time runs out.
  it.each([
    { kind: 'kill' as const, what: 'SIGKILL of the gateway process only', boundMs: 5000 },
    { kind: 'stop' as const, what: 'SIGTERM: the gateway drains and exits', boundMs: 5000 },
    { kind: 'freeze' as const, what: 'SIGSTOP of the gateway process: the check times out', boundMs: 7000 },
    { kind: 'link-down' as const, what: 'the host leaves the client network, keepalived with it', boundMs: 5000 },
  ])('$kind gateway-1 ($what): its VIP moves to gateway-2 within $boundMs ms, and comes back after the heal', async ({ kind, boundMs }) => {
    const vip3 = ha.topology.vips[0]!;
    const url = ha.state.data.gatewayUrls[0]!;
    const fault = await ha.fault(kind, ['gateway-1']);
    try {
      if (kind !== 'link-down') expect(ha.processes().find((p) => p.host === 'gateway-1' && p.name === 'keepalived')!.state).toBe('running');
      const moved = await haUntil('VIP .3 on gateway-2', async () => (await ha.vipHolder(vip3)) === 'gateway-2', 10_000);
      console.log(`kolab-ha: ${kind} gateway-1: VIP ${vip3} on gateway-2 after ${moved} ms`);
      expect(moved).toBeLessThan(boundMs);
      await haUntil('VIP .3 answers again', async () => (await haStatus(url)) === 200, 5000);
    } finally {
      // Healed even when an expectation failed: the next case starts from both gateways up.
      await ha.heal(fault.id);
    }
    await haUntil('VIP .3 back on gateway-1', async () => (await ha.vipHolder(vip3)) === 'gateway-1', 10_000);
    // Connections on a VIP do not move with it: the first request may ride one that now gets a RST.
    await haUntil('VIP .3 answers from gateway-1', async () => (await haStatus(url)) === 200, 5000);
  }, 45_000);

  it('down removes the keepalived processes and the VIPs with everything else', async () => {
    await ha.down();
    // (No request to a VIP after this: with the blackhole route gone it would leave the machine.)
    expect(await leftovers()).toEqual({ namespaces: [], links: [], route: false, rootRules: [] });
    expect(ha.processes().every((p) => p.pid === null || !haAlive(p.pid))).toBe(true);
  });
});
