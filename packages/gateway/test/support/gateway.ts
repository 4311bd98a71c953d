import { afterAll } from 'vitest';
import { startUpstream, type TestUpstream } from './upstreams.js';
import { startGateway, type GatewayConfigInput, type RunningGateway } from '../../src/index.js';

/** A gateway on 127.0.0.1:0 with an admin listener, quiet logs. */
export async function gatewayFor(config: Omit<GatewayConfigInput, 'listeners'> & Partial<Pick<GatewayConfigInput, 'listeners'>>): Promise<RunningGateway> {
  return startGateway({ logLevel: 'silent', listeners: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0 }, ...config } as GatewayConfigInput);
}

/** fetch with a deadline; returns status, body text and headers. */
export async function get(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 10_000) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/**
 * What a test file starts, closed in reverse order after its last test: `defer(close)` for anything,
 * `upstreams(...names)` and `gateway(config)` start and register in one call.
 */
export function testScope(): {
  defer: (...closes: Array<() => Promise<unknown>>) => void;
  upstreams: (...names: string[]) => Promise<TestUpstream[]>;
  gateway: (config: Parameters<typeof gatewayFor>[0]) => Promise<RunningGateway>;
} {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });
  const defer = (...closes: Array<() => Promise<unknown>>) => void cleanup.push(...closes);
  return {
    defer,
    async upstreams(...names) {
      const ups = await Promise.all(names.map((n) => startUpstream(n)));
      defer(() => Promise.all(ups.map((u) => u.close())));
      return ups;
    },
    async gateway(config) {
      const g = await gatewayFor(config);
      defer(() => g.close(500));
      return g;
    },
  };
}
