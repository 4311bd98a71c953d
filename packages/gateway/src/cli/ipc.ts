import type { GatewayStatus } from '../index.js';

/** One endpoint's active-health result, as the primary's checker sees it. */
export interface HealthReport {
  cluster: string;
  url: string;
  activeHealthy: boolean;
  lastCheck: { at: number; ok: boolean; status?: number; error?: string } | null;
}

/** Primary → worker. Requests that expect an answer carry an id; the worker answers with the same id. */
export type ToWorker =
  | { webtier: 'health'; reports: HealthReport[] }
  | { webtier: 'reload'; id: number }
  | { webtier: 'drain' }
  | { webtier: 'metrics'; id: number }
  | { webtier: 'status'; id: number }
  | { webtier: 'setDrained'; id: number; cluster: string; url: string; drained: boolean };

/** Worker → primary. */
export type FromWorker =
  | { webtier: 'listening'; urls: string[] }
  | { webtier: 'reply'; id: number; ok: boolean; error?: string; metrics?: unknown[]; status?: GatewayStatus };

/** Environment variable that carries the primary's current health results to a new worker. */
export const HEALTH_ENV = 'WEBTIER_GATEWAY_HEALTH';
/** Set in a worker's environment: main.ts runs the worker role. */
export const WORKER_ENV = 'WEBTIER_GATEWAY_WORKER';

export function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && typeof (m as { webtier?: unknown }).webtier === 'string';
}
export const isFromWorker = isToWorker as unknown as (m: unknown) => m is FromWorker;
