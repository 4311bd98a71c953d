// kolab-ha (issue 14, lab part): two gateway hosts running keepalived, two VIPs on the client network
// inside the blackholed lab range. Killing the gateway process of the VIP's master makes keepalived's
// check fail (priority 200 − 101 = 99 < 100) and the peer takes the VIP; the heal brings it back
// (preempt). Lab.up waits for any other lab on the machine (one namespace set at a time).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, leftovers } from '../src/index.js';

let lab: Lab;

beforeAll(async () => {
  lab = await Lab.up({ topology: 'kolab-ha', owner: process.pid, waitMs: 240_000 });
}, 300_000);

afterAll(async () => {
  await Lab.down();
}, 60_000);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function status(url: string): Promise<number> {
  return fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status, () => 0);
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
}

describe('lab kolab-ha: two gateways, keepalived, two VIPs', () => {
  it('each gateway host holds its own VIP and both VIPs serve the web tier from the root namespace', async () => {
    const [vip3, vip4] = lab.topology.vips as [string, string];
    expect(await lab.vipHolder(vip3)).toBe('gateway-1');
    expect(await lab.vipHolder(vip4)).toBe('gateway-2');
    expect(lab.state.data.gatewayUrls).toEqual([`http://${vip3}:8080`, `http://${vip4}:8080`]);
    for (const url of lab.state.data.gatewayUrls) expect(await status(url)).toBe(200);
  });

  it('kill gateway-1 (the gateway process only): its VIP moves to gateway-2 within 3 × advert_int + check interval, and comes back after the heal', async () => {
    const vip3 = lab.topology.vips[0]!;
    const url = lab.state.data.gatewayUrls[0]!;
    const fault = await lab.fault('kill', ['gateway-1']);
    expect(lab.processes().find((p) => p.host === 'gateway-1' && p.name === 'keepalived')!.state).toBe('running');
    const moved = await until('VIP .3 on gateway-2', async () => (await lab.vipHolder(vip3)) === 'gateway-2', 8000);
    expect(moved).toBeLessThan(5000);
    console.log(`kolab-ha: VIP ${vip3} moved to gateway-2 ${moved} ms after the gateway process on gateway-1 was SIGKILLed`);
    await until('VIP .3 answers again', async () => (await status(url)) === 200, 5000);
    await lab.heal(fault.id);
    await until('VIP .3 back on gateway-1', async () => (await lab.vipHolder(vip3)) === 'gateway-1', 10_000);
    // Connections on a VIP do not move with it: the first request may ride one that now gets a RST.
    await until('VIP .3 answers from gateway-1', async () => (await status(url)) === 200, 5000);
  }, 40_000);

  it('down removes the keepalived processes and the VIPs with everything else', async () => {
    await Lab.down();
    // (No request to a VIP after this: with the blackhole route gone it would leave the machine.)
    expect(await leftovers()).toEqual({ namespaces: [], links: [], route: false, rootRules: [] });
    expect(lab.processes().every((p) => p.pid === null || !isAlive(p.pid))).toBe(true);
  });
});
