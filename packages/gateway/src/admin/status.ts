/** /status JSON: one entry per endpoint. */
export interface EndpointStatus {
  url: string;
  address: string;
  healthy: boolean;
  activeHealthy: boolean;
  ejected: boolean;
  ejectedUntil: string | null;
  ejections: number;
  drained: boolean;
  priority: number;
  /** The priority it competes with: its priority while healthy, -1 while not (a failing check lowers it). */
  effectivePriority: number;
  weight: number;
  backup: boolean;
  inFlight: number;
  requests: number;
  lastCheck: { at: string; ok: boolean; status?: number; error?: string } | null;
}

/** /status JSON. */
export interface GatewayStatus {
  startedAt: string;
  draining: boolean;
  routes: Array<{ name: string; prefixes: string[]; caseInsensitive: boolean; cluster: string; timeoutMs: number; bodyLimitBytes: number; longPoll: boolean }>;
  clusters: Array<{ name: string; lbPolicy: string; preempt: boolean; activePriority: number | null; panic: boolean; healthyEndpoints: number; endpoints: EndpointStatus[] }>;
}
