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
