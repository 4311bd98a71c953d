import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DemoError, DemoErrorCodes } from './errors.js';
import type { DemoTopology, NodeInfo } from './Topology.js';

/** Where a running launcher says how to reach it: per user, in $XDG_RUNTIME_DIR or the temp dir. */
export function stateFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env['WEBTIER_STATE_FILE']) return env['WEBTIER_STATE_FILE'];
  const runtime = env['XDG_RUNTIME_DIR'];
  return runtime ? join(runtime, 'webtier-demo.json') : join(tmpdir(), `webtier-demo-${process.getuid?.() ?? 'user'}.json`);
}

export interface LauncherState {
  pid: number;
  /** Control API: http://127.0.0.1:port */
  control: string;
  token: string;
  /** The gateway's https URL. */
  url: string;
  /** The gateway's http URL (308 to `url`). */
  httpUrl: string;
  /** The self-signed certificate `url` serves. */
  certFile: string;
  adminUrl: string;
  runDir: string;
  /** testkit's pid directory: what to reap if this launcher died without cleaning up. */
  pidDir?: string;
  startedAt: string;
}

export function readState(file = stateFile()): LauncherState | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LauncherState;
  } catch {
    return undefined;
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const ACTIONS = ['kill', 'restart', 'freeze', 'thaw'] as const;

/**
 * The launcher's control API on loopback, so that `webtier kill memcached-2` works from another
 * terminal: GET /status, POST /nodes/<name>/<kill|restart|freeze|thaw>, POST /stop. Every request
 * carries the bearer token written (mode 0600) to the state file.
 */
export class ControlServer {
  readonly #server: Server;
  readonly #token = randomBytes(24).toString('base64url');
  readonly #file: string;
  #written = false;

  constructor(topology: DemoTopology, onStop: () => void, onAction: (action: string, node: NodeInfo) => void = () => {}, file = stateFile()) {
    this.#file = file;
    this.#server = createServer((req, res) => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body, null, 2)}\n`);
      };
      const given = Buffer.from(req.headers.authorization ?? '');
      const expected = Buffer.from(`Bearer ${this.#token}`);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return send(401, { error: 'missing or wrong token (read it from the state file)' });
      const url = new URL(req.url ?? '/', 'http://control');
      void (async () => {
        try {
          if (req.method === 'GET' && url.pathname === '/status') {
            return send(200, { url: topology.url, httpUrl: topology.httpUrl, certFile: topology.certificate.certFile, adminUrl: topology.adminUrl, statusUrl: topology.statusUrl, runDir: topology.runDir, nodes: topology.nodes(), gateway: await topology.gatewayStatus() });
          }
          if (req.method === 'POST' && url.pathname === '/stop') {
            send(202, { stopping: true });
            return onStop();
          }
          const m = /^\/nodes\/([^/]+)\/([a-z]+)$/.exec(url.pathname);
          if (req.method === 'POST' && m && (ACTIONS as readonly string[]).includes(m[2]!)) {
            const action = m[2] as (typeof ACTIONS)[number];
            const info = await topology[action](decodeURIComponent(m[1]!));
            onAction(action, info);
            return send(200, info);
          }
          send(404, { error: `no such control endpoint: ${req.method} ${url.pathname}` });
        } catch (err) {
          const e = err as Error & { code?: string };
          send(e.code === DemoErrorCodes.UNKNOWN_NODE ? 404 : 409, { error: e.message, code: e.code });
        }
      })();
    });
  }

  /** Listens on a free loopback port and writes the state file. */
  async start(topology: DemoTopology, pidDir?: string): Promise<LauncherState> {
    await new Promise<void>((resolve, reject) => this.#server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
    const address = this.#server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const state: LauncherState = {
      pid: process.pid,
      control: `http://127.0.0.1:${port}`,
      token: this.#token,
      url: topology.url,
      httpUrl: topology.httpUrl,
      certFile: topology.certificate.certFile,
      adminUrl: topology.adminUrl,
      runDir: topology.runDir,
      ...(pidDir ? { pidDir } : {}),
      startedAt: new Date().toISOString(),
    };
    writeFileSync(this.#file, JSON.stringify(state, null, 2), { mode: 0o600 });
    this.#written = true;
    return state;
  }

  async close(): Promise<void> {
    if (this.#written) rmSync(this.#file, { force: true });
    this.#written = false;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Calls a running launcher's control API (for `webtier kill|restart|status|stop`). */
export async function callLauncher(method: 'GET' | 'POST', path: string, file = stateFile()): Promise<unknown> {
  const state = readState(file);
  if (!state || !processAlive(state.pid)) {
    throw new DemoError(DemoErrorCodes.NOT_RUNNING, `no demo is running (no live launcher in ${file}); start one with \`npm run demo\``);
  }
  let res: Response;
  try {
    res = await fetch(`${state.control}${path}`, { method, headers: { authorization: `Bearer ${state.token}` }, signal: AbortSignal.timeout(30_000) });
  } catch (cause) {
    throw new DemoError(DemoErrorCodes.NOT_RUNNING, `the launcher (pid ${state.pid}) does not answer on ${state.control}: ${(cause as Error).message}`, { cause });
  }
  const body = (await res.json()) as { error?: string; code?: string };
  if (!res.ok) {
    const code = body.code === DemoErrorCodes.UNKNOWN_NODE ? DemoErrorCodes.UNKNOWN_NODE : DemoErrorCodes.BAD_STATE;
    throw new DemoError(code, body.error ?? `HTTP ${res.status}`);
  }
  return body;
}
