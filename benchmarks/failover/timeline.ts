// The fault timeline of issue 6, for a run of `durationSec` (the 60 s timeline scaled
// proportionally). Pairs mode: memcached-1+2 and memcached-3+4; at most one node of a pair is ever
// down, so a replicated store must lose no session.

export type FaultAction = 'kill' | 'restart' | 'freeze' | 'thaw';

export interface FaultEvent {
  /** Seconds from the start of the measured run. */
  atSec: number;
  action: FaultAction;
  node: string;
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
  return [
    { atSec: at(10), action: 'kill', node: 'memcached-1', label: 'SIGKILL memcached-1', chartLabel: 'kill memcached-1', measured: true },
    { atSec: at(20), action: 'kill', node: 'webmail-1', label: 'SIGKILL webmail-1', chartLabel: 'kill webmail-1', measured: true },
    { atSec: at(30), action: 'restart', node: 'memcached-1', label: 'restart memcached-1 empty', chartLabel: 'restart memcached-1', measured: true },
    { atSec: at(40), action: 'kill', node: 'memcached-3', label: 'SIGKILL memcached-3', chartLabel: 'kill memcached-3', measured: true },
    { atSec: at(50), action: 'freeze', node: 'memcached-2', label: `SIGSTOP memcached-2 ${at(5)} s`, chartLabel: 'freeze memcached-2', measured: true },
    { atSec: at(55), action: 'thaw', node: 'memcached-2', label: 'SIGCONT memcached-2', chartLabel: 'thaw', measured: false },
  ];
}

/** The smoke test's timeline: one memcached SIGKILL. */
export function singleKillTimeline(atSec: number, node = 'memcached-1'): FaultEvent[] {
  return [{ atSec, action: 'kill', node, label: `SIGKILL ${node}`, chartLabel: `kill ${node}`, measured: true }];
}
