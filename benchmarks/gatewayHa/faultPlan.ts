// Which faults hit which gateway, and when: issue 14's four faults, each on the master of one
// service address in turn, healed before the next one so that both gateways are back.
import { LAB_DRAIN_DELAY_MS, type FaultKind } from '@webtier/app-lab';

export type GatewayFault = Extract<FaultKind, 'kill' | 'stop' | 'freeze' | 'link-down'>;

export interface PlannedFault {
  kind: GatewayFault;
  /** Which front-door address's master is hit (0: VIP .3 on gateway-1, 1: VIP .4 on gateway-2). */
  vip: number;
}

export interface Schedule {
  /** Steady load before each fault. */
  beforeSec: number;
  /** How long the fault lasts before the heal (for the single gateway: its restart). */
  faultSec: number;
  /** After the heal: both gateways back, the addresses home again, the load steady. */
  afterSec: number;
}

export const FULL_PLAN: readonly PlannedFault[] = [
  { kind: 'stop', vip: 0 },
  { kind: 'kill', vip: 1 },
  { kind: 'freeze', vip: 0 },
  { kind: 'link-down', vip: 1 },
];
/** The CI smoke run: planned maintenance, then a crash, both on the master of VIP 1. */
export const SMOKE_PLAN: readonly PlannedFault[] = [
  { kind: 'stop', vip: 0 },
  { kind: 'kill', vip: 0 },
];
export const FULL_SCHEDULE: Schedule = { beforeSec: 4, faultSec: 10, afterSec: 12 };
export const SMOKE_SCHEDULE: Schedule = { beforeSec: 2, faultSec: 4, afterSec: 6 };

export const FAULT_LABELS: Record<GatewayFault, string> = {
  stop: 'stop (SIGTERM: drain)',
  kill: 'kill (SIGKILL of the gateway process)',
  freeze: 'freeze (SIGSTOP of the gateway process)',
  'link-down': 'link-down (the gateway host leaves the network)',
};

/**
 * The load must outlast the plan: a `stop` lasts until the gateway has exited, that is its drain delay
 * (the lab gateway's drainDelayMs: it keeps serving while the VIP moves) and then the drain itself.
 */
export function loadDurationSec(plan: readonly PlannedFault[], s: Schedule): number {
  return plan.length * (s.beforeSec + s.faultSec + s.afterSec) + plan.filter((p) => p.kind === 'stop').length * (4 + LAB_DRAIN_DELAY_MS / 1000) + 2;
}
