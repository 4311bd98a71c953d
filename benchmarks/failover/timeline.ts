// The fault timeline of issue 6, for a run of `durationSec` (the 60 s timeline scaled
// proportionally). Pairs mode: memcached-1+2 and memcached-3+4; at most one node of a pair is ever
// down, so a replicated store must lose no session.

export type FaultAction = 'kill' | 'restart' | 'freeze' | 'thaw' | NetworkFaultAction | 'heal';
/** The multi-host lab's network faults (apps/lab). */
export type NetworkFaultAction = 'blackhole' | 'partition' | 'one-way' | 'link-down';

export interface FaultEvent {
  /** Seconds from the start of the measured run. */
  atSec: number;
  action: FaultAction;
  node: string;
  /** The second host of a partition or one-way fault. */
  peer?: string;
  /** Label for tables ("SIGKILL memcached-1"). */
  label: string;
  /** Shorter label for the charts' event markers ("kill memcached-1"). */
  chartLabel: string;
  /** Charted and given a recovery time (a thaw ends the freeze event instead). */
  measured: boolean;
}

/** issue 6's timeline at 60 s; scaled by durationSec / 60. */
export function failoverTimeline(durationSec: number): FaultEvent[] {
  const k = durationSec / 60;
  const at = (s: number) => Math.round(s * k * 10) / 10;
  return processFaults([10, 20, 30, 40, 50, 55].map(at), at(5));
}

/**
 * Issue 6's process faults at the six given times (seconds, scaled): SIGKILL memcached-1, SIGKILL
 * webmail-1, restart memcached-1 empty, SIGKILL memcached-3, SIGSTOP memcached-2 for `freezeSec`, SIGCONT.
 */
function processFaults([kill1, killWebmail, restart1, kill3, freeze, thaw]: number[], freezeSec: number): FaultEvent[] {
  return [
    { atSec: kill1!, action: 'kill', node: 'memcached-1', label: 'SIGKILL memcached-1', chartLabel: 'kill memcached-1', measured: true },
    { atSec: killWebmail!, action: 'kill', node: 'webmail-1', label: 'SIGKILL webmail-1', chartLabel: 'kill webmail-1', measured: true },
    { atSec: restart1!, action: 'restart', node: 'memcached-1', label: 'restart memcached-1 empty', chartLabel: 'restart memcached-1', measured: true },
    { atSec: kill3!, action: 'kill', node: 'memcached-3', label: 'SIGKILL memcached-3', chartLabel: 'kill memcached-3', measured: true },
    { atSec: freeze!, action: 'freeze', node: 'memcached-2', label: `SIGSTOP memcached-2 ${freezeSec} s`, chartLabel: 'freeze memcached-2', measured: true },
    { atSec: thaw!, action: 'thaw', node: 'memcached-2', label: 'SIGCONT memcached-2', chartLabel: 'thaw', measured: false },
  ];
}

/** The smoke test's timeline: one memcached SIGKILL. */
export function singleKillTimeline(atSec: number, node = 'memcached-1'): FaultEvent[] {
  return [{ atSec, action: 'kill', node, label: `SIGKILL ${node}`, chartLabel: `kill ${node}`, measured: true }];
}

/**
 * The multi-host lab's timeline (issue 13) at 60 s, scaled by durationSec / 60: network faults first
 * (a blackholed memcached host, a partition between one web node and one memcached host while the
 * other web node still reaches it, an unplugged webmail host, one-way loss from the gateway to an
 * ActiveSync host), healed together, then issue 6's process faults. At most one member of each
 * memcached pair is out of reach of any web node at any time.
 */
export function labTimeline(durationSec: number): FaultEvent[] {
  const k = durationSec / 60;
  const at = (s: number) => Math.round(s * k * 10) / 10;
  return [
    { atSec: at(5), action: 'blackhole', node: 'memcached-1', label: 'blackhole memcached-1 (every packet dropped, no RST)', chartLabel: 'blackhole memcached-1', measured: true },
    { atSec: at(10), action: 'partition', node: 'webmail-1', peer: 'memcached-3', label: 'partition webmail-1 | memcached-3 (webmail-2 still reaches it)', chartLabel: 'partition wm-1|mc-3', measured: true },
    { atSec: at(15), action: 'link-down', node: 'webmail-2', label: 'link down webmail-2 (veth down)', chartLabel: 'link-down webmail-2', measured: true },
    { atSec: at(20), action: 'one-way', node: 'gateway', peer: 'activesync-1', label: 'one-way loss gateway → activesync-1', chartLabel: 'one-way gw→as-1', measured: true },
    { atSec: at(25), action: 'heal', node: '-', label: 'heal every network fault', chartLabel: 'heal', measured: true },
    ...processFaults([30, 35, 40, 45, 50, 55].map(at), at(5)),
  ];
}
