import type { ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { outputReady, SupervisedProcess } from '@webtier/testkit';

/** What the echo upstream answers: who served, and what it received. */
export interface Echo {
  name: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A real HTTP upstream on 127.0.0.1 (port 0) for tests. */
export interface TestUpstream {
  name: string;
  url: string;
  port: number;
  server: Server;
  /** Requests seen, /healthz excluded. */
  hits: number;
  healthChecks: number;
  /** /healthz answers 200 while true, 503 while false. */
  healthy: boolean;
  /** Status for every non-health request, when set. */
  forceStatus: number | undefined;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string, up: TestUpstream) => void;

/**
 * Echo upstream: /healthz → 200/503 by `healthy`; /sleep/<ms> answers after ms; anything else
 * echoes { name, method, url, headers, body }. `handler` replaces the echo.
 */
export async function startUpstream(name: string, handler?: Handler, port = 0): Promise<TestUpstream> {
  const sockets = new Set<Socket>();
  const up = { name, hits: 0, healthChecks: 0, healthy: true, forceStatus: undefined } as TestUpstream;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      if (req.url === '/healthz') {
        up.healthChecks++;
        res.writeHead(up.healthy ? 200 : 503).end(up.healthy ? 'ok' : 'down');
        return;
      }
      up.hits++;
      res.setHeader('x-upstream', name);
      if (up.forceStatus !== undefined) {
        res.writeHead(up.forceStatus).end(`forced ${up.forceStatus}`);
        return;
      }
      if (handler) return handler(req, res, body, up);
      const sleep = /\/sleep\/(\d+)/.exec(req.url ?? '');
      const echo = () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ name, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body } satisfies Echo));
      };
      if (sleep) setTimeout(echo, Number(sleep[1]));
      else echo();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const p = (server.address() as AddressInfo).port;
  Object.assign(up, {
    server,
    port: p,
    url: `http://127.0.0.1:${p}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  });
  return up;
}

/** An upstream in a child process (echo + /healthz), so that a test can SIGKILL it. */
export interface ChildUpstream {
  name: string;
  url: string;
  port: number;
  child: ChildProcess;
  kill(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./upstreamChild.mjs', import.meta.url));

export async function spawnUpstream(name: string, port = 0): Promise<ChildUpstream> {
  const upstream = new SupervisedProcess({ name: `upstream ${name}`, command: process.execPath, args: [CHILD, name, String(port)], ready: outputReady(/listening \d+/), readyTimeoutMs: 10_000 });
  await upstream.start();
  const actual = Number(/listening (\d+)/.exec(upstream.output())![1]);
  return {
    name,
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    child: upstream.child!,
    kill: () => upstream.kill(),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `fn` is true or `timeoutMs` passes; returns the elapsed ms (throws on timeout). */
export async function waitFor(fn: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await fn()) return Date.now() - start;
    await sleep(25);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
