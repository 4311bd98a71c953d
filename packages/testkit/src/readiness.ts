import { request, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ReadyCheck } from './SupervisedProcess.js';

export interface HttpProbeOptions {
  /** @default 1000 */
  timeoutMs?: number;
  /** @default 'GET' */
  method?: string;
  /** For https:// URLs: the CA to verify the server against (a self-signed demo certificate). */
  ca?: string;
}

/**
 * Status and Location of one request on a fresh connection (redirects not followed); status 0 when
 * the connection fails or times out. Never throws.
 */
export function httpProbe(url: string, o: HttpProbeOptions = {}): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve) => {
    const options = { method: o.method ?? 'GET', timeout: o.timeoutMs ?? 1000, agent: false as const, ...(o.ca !== undefined ? { ca: o.ca } : {}) };
    const onResponse = (res: IncomingMessage) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
    };
    const req = url.startsWith('https:') ? httpsRequest(url, options, onResponse) : request(url, options, onResponse);
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve({ status: 0, location: undefined }));
    req.end();
  });
}

/** The status of a request, or 0 when the connection fails or times out. */
export async function httpStatus(url: string, o: HttpProbeOptions = {}): Promise<number> {
  return (await httpProbe(url, o)).status;
}

/** Ready once `url` answers `status` (200). */
export function httpReady(url: string, o: HttpProbeOptions & { status?: number } = {}): ReadyCheck {
  return async () => (await httpStatus(url, o)) === (o.status ?? 200);
}

/** Ready once the process has printed a line matching `pattern` (output kept in memory or in its log file). */
export function outputReady(pattern: RegExp): ReadyCheck {
  return (p) => pattern.test(p.output());
}
