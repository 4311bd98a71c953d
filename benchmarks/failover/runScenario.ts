// One system through one fault timeline: a fresh topology, users logged in, the load, the faults
// at their times, then everything stopped. Used by benchmarks/failover.ts and by the smoke test.
import { DEMO_LOGINS as DEMO_ACCOUNTS } from '@webtier/demo-mail';
import { startDevices, type DeviceProbe, type DeviceSecond } from './DeviceProbe.js';
import { startFailoverTopology, type FailoverTopology } from './FailoverTopology.js';
import { startLabFailoverTopology, type LabFailoverTopology } from './LabFailoverTopology.js';
import { loginUsers, runSessionLoad, type Login, type LoadResult, type SecondSample } from './SessionLoad.js';
import type { SystemSpec } from './systems.js';
import type { FaultEvent } from './timeline.js';

/** The demo accounts (@webtier/demo-mail's data/users.json), the logins the users of the load take. */
export const DEMO_LOGINS: readonly Login[] = DEMO_ACCOUNTS;

export interface ScenarioOptions {
  system: SystemSpec;
  connections: number;
  durationSec: number;
  events: readonly FaultEvent[];
  /** Progress lines. @default none */
  log?: (line: string) => void;
  /** Called with each second as it ends. */
  onSecond?: (s: SecondSample) => void;
  /** Unrecorded load before the measured run (JIT, connection pools), s. @default 0 */
  warmupSec?: number;
  /** Keep the topology's logs directory. @default false (kept anyway when the run throws) */
  keepRunDir?: boolean;
  /** Hook after the users logged in, before the load (the smoke test checks where sessions live). */
  beforeLoad?: (topo: FailoverTopology, cookies: readonly string[]) => Promise<void>;
  /** `lab`: every node on its own host of the multi-host lab (root only), with network faults. @default 'loopback' */
  network?: 'loopback' | 'lab';
  /** ActiveSync devices beside the users (lab only). @default 4 */
  devices?: number;
}

export interface EventRecord extends FaultEvent {
  /** When the fault was actually applied, s from the start of the load. */
  appliedAtSec: number;
  error?: string;
}

export interface ScenarioResult {
  system: SystemSpec;
  load: LoadResult;
  events: EventRecord[];
  /** The ActiveSync devices' per-second samples (lab only). */
  devices?: DeviceSecond[];
  runDir: string;
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const log = o.log ?? (() => {});
  const lab = o.network === 'lab';
  const topo: FailoverTopology = lab ? await startLabFailoverTopology(o.system, log) : await startFailoverTopology(o.system, log);
  let devices: DeviceProbe | undefined;
  let ok = false;
  try {
    const cookies = await loginUsers(topo.url, o.connections, DEMO_LOGINS);
    await o.beforeLoad?.(topo, cookies);
    if (o.warmupSec) {
      const warm = await runSessionLoad({ url: topo.url, cookies, durationSec: o.warmupSec, logins: DEMO_LOGINS });
      if (warm.sessionsLost > 0) throw new Error(`${o.system.label}: ${warm.sessionsLost} sessions lost during the warm-up, before any fault`);
    }
    const applied: EventRecord[] = [];
    const timers: NodeJS.Timeout[] = [];
    const pending: Promise<void>[] = [];
    const load = runSessionLoad({
      url: topo.url,
      cookies,
      durationSec: o.durationSec,
      logins: DEMO_LOGINS,
      ...(o.onSecond ? { onSecond: o.onSecond } : {}),
      onStart: (startedAt) => {
        if (lab) devices = startDevices((topo as LabFailoverTopology).activesyncUrl, o.devices ?? 4, startedAt);
        for (const e of o.events) {
          timers.push(
            setTimeout(() => {
              const appliedAtSec = Math.round((performance.now() - startedAt) / 100) / 10;
              const record: EventRecord = { ...e, appliedAtSec };
              applied.push(record);
              log(`  t=${appliedAtSec.toFixed(1)}s  ${e.label}`);
              pending.push(
                (async () => {
                  try {
                    if (e.action === 'kill') await topo.kill(e.node);
                    else if (e.action === 'restart') await topo.restart(e.node);
                    else if (e.action === 'freeze') await topo.freeze(e.node);
                    else if (e.action === 'thaw') await topo.thaw(e.node);
                    else if (!lab) throw new Error(`${e.action} needs the multi-host lab (--network lab)`);
                    else if (e.action === 'heal') await (topo as LabFailoverTopology).healNetwork();
                    else await (topo as LabFailoverTopology).fault(e.action, e.peer ? [e.node, e.peer] : [e.node]);
                  } catch (err) {
                    record.error = (err as Error).message;
                    log(`  ${e.label} failed: ${record.error}`);
                  }
                })(),
              );
            }, e.atSec * 1000),
          );
        }
      },
    });
    let result: LoadResult;
    try {
      result = await load;
    } finally {
      timers.forEach(clearTimeout);
      await Promise.all(pending);
    }
    const deviceSeconds = await devices?.stop();
    ok = true;
    return { system: o.system, load: result, events: applied, runDir: topo.runDir, ...(deviceSeconds ? { devices: deviceSeconds.slice(0, Math.ceil(o.durationSec)) } : {}) };
  } finally {
    await devices?.stop();
    await topo.stop({ keepRunDir: !ok || (o.keepRunDir ?? false) });
  }
}
