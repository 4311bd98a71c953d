import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { DemoError, DemoErrorCodes } from './errors.js';

/** What `webtier up` starts. Every field has a default; a topology file overrides any of them. */
export interface Topology {
  gateway: {
    /** Plain HTTP port: answers every request with a 308 redirect to the HTTPS port. Taken → a free port is used instead (unless given with --port). @default 8080 */
    port: number;
    /** HTTPS port (HTTP/2 and HTTP/1.1, the demo's self-signed certificate). Taken → a free port (unless given with --https-port). @default 8443 */
    httpsPort: number;
    /** Admin listener port (/status, /metrics). Taken → a free port. @default 9901 */
    adminPort: number;
  };
  memcached: {
    /** Number of memcached nodes. @default 4 */
    nodes: number;
    /** `pairs`: nodes (1,2), (3,4)... are the Kolab pairs; `ring`: 2 replicas on the ring. @default 'pairs' */
    mode: 'pairs' | 'ring';
    /** Memory per node, MiB. @default 64 */
    memoryMb: number;
  };
  webmail: { /** @default 2 */ nodes: number; /** @default 'round_robin' */ lbPolicy: 'round_robin' | 'least_request' | 'random' };
  activesync: { /** @default 2 */ nodes: number; /** Smallest Ping heartbeat accepted, s. @default 60 */ minHeartbeatSeconds: number };
  assets: { /** @default 2 */ nodes: number };
  /** The gateway's active health checks of every cluster. */
  healthCheck: { /** @default 1000 */ intervalMs: number; /** @default 500 */ timeoutMs: number; /** @default 2 */ healthyThreshold: number; /** @default 2 */ unhealthyThreshold: number };
}

export const DEFAULT_TOPOLOGY: Readonly<Topology> = Object.freeze<Topology>({
  gateway: { port: 8080, httpsPort: 8443, adminPort: 9901 },
  memcached: { nodes: 4, mode: 'pairs', memoryMb: 64 },
  webmail: { nodes: 2, lbPolicy: 'round_robin' },
  activesync: { nodes: 2, minHeartbeatSeconds: 60 },
  assets: { nodes: 2 },
  healthCheck: { intervalMs: 1000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 2 },
});

/** A partial topology, as written in a file or passed to startTopology. */
export type TopologyInput = { [K in keyof Topology]?: Partial<Topology[K]> };

function fail(where: string, message: string): never {
  throw new DemoError(DemoErrorCodes.BAD_TOPOLOGY, `${where}: ${message}`);
}

function int(where: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(where, `${JSON.stringify(value)} must be an integer from ${min} to ${max}`);
  return value;
}

function oneOf<T extends string>(where: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) fail(where, `${JSON.stringify(value)} must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** Merges `input` over the defaults and validates every field; unknown keys are errors. */
export function resolveTopology(input: unknown = {}, source = 'topology'): Topology {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) fail(source, 'expected a mapping like "webmail: { nodes: 2 }"');
  const sections = Object.keys(DEFAULT_TOPOLOGY) as Array<keyof Topology>;
  for (const key of Object.keys(input)) if (!sections.includes(key as keyof Topology)) fail(`${source}.${key}`, `unknown section; known: ${sections.join(', ')}`);
  const merged: Record<string, Record<string, unknown>> = {};
  for (const section of sections) {
    const given = (input as Record<string, unknown>)[section] ?? {};
    if (given === null || typeof given !== 'object' || Array.isArray(given)) fail(`${source}.${section}`, 'expected a mapping');
    const defaults = DEFAULT_TOPOLOGY[section] as Record<string, unknown>;
    for (const key of Object.keys(given)) if (!(key in defaults)) fail(`${source}.${section}.${key}`, `unknown key; known: ${Object.keys(defaults).join(', ')}`);
    merged[section] = { ...defaults, ...given };
  }
  const m = merged as unknown as Topology;
  const at = (path: string) => `${source}.${path}`;
  const t: Topology = {
    gateway: {
      port: int(at('gateway.port'), m.gateway.port, 0, 65535),
      httpsPort: int(at('gateway.httpsPort'), m.gateway.httpsPort, 0, 65535),
      adminPort: int(at('gateway.adminPort'), m.gateway.adminPort, 0, 65535),
    },
    memcached: {
      nodes: int(at('memcached.nodes'), m.memcached.nodes, 1, 16),
      mode: oneOf(at('memcached.mode'), m.memcached.mode, ['pairs', 'ring'] as const),
      memoryMb: int(at('memcached.memoryMb'), m.memcached.memoryMb, 8, 4096),
    },
    webmail: { nodes: int(at('webmail.nodes'), m.webmail.nodes, 1, 8), lbPolicy: oneOf(at('webmail.lbPolicy'), m.webmail.lbPolicy, ['round_robin', 'least_request', 'random'] as const) },
    activesync: { nodes: int(at('activesync.nodes'), m.activesync.nodes, 1, 8), minHeartbeatSeconds: int(at('activesync.minHeartbeatSeconds'), m.activesync.minHeartbeatSeconds, 1, 3540) },
    assets: { nodes: int(at('assets.nodes'), m.assets.nodes, 1, 8) },
    healthCheck: {
      intervalMs: int(at('healthCheck.intervalMs'), m.healthCheck.intervalMs, 100, 60_000),
      timeoutMs: int(at('healthCheck.timeoutMs'), m.healthCheck.timeoutMs, 50, 60_000),
      healthyThreshold: int(at('healthCheck.healthyThreshold'), m.healthCheck.healthyThreshold, 1, 10),
      unhealthyThreshold: int(at('healthCheck.unhealthyThreshold'), m.healthCheck.unhealthyThreshold, 1, 10),
    },
  };
  if (t.memcached.mode === 'pairs' && t.memcached.nodes % 2 !== 0) fail(at('memcached.nodes'), `${t.memcached.nodes} nodes cannot form pairs; use an even number or mode: ring`);
  if (t.gateway.port !== 0 && t.gateway.port === t.gateway.adminPort) fail(at('gateway.adminPort'), 'must differ from gateway.port');
  if (t.gateway.httpsPort !== 0 && t.gateway.httpsPort === t.gateway.port) fail(at('gateway.httpsPort'), 'must differ from gateway.port');
  if (t.gateway.httpsPort !== 0 && t.gateway.httpsPort === t.gateway.adminPort) fail(at('gateway.httpsPort'), 'must differ from gateway.adminPort');
  return t;
}

/** Reads a YAML (or JSON) topology file. */
export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new DemoError(DemoErrorCodes.BAD_TOPOLOGY, `${file}: cannot read the topology file (${(cause as Error).message})`, { cause });
  }
  let parsed: unknown;
  try {
    parsed = parse(text) ?? {};
  } catch (cause) {
    throw new DemoError(DemoErrorCodes.BAD_TOPOLOGY, `${file}: not valid YAML: ${(cause as Error).message}`, { cause });
  }
  return resolveTopology(parsed, file);
}
