import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { track } from '@webtier/testkit';
import { DemoError, DemoErrorCodes } from './errors.js';

export type NodeKind = 'memcached' | 'webmail' | 'activesync' | 'assets' | 'gateway';
export type NodeState = 'starting' | 'running' | 'frozen' | 'killed' | 'crashed' | 'stopped';

/** What the launcher knows about one process of the topology. */
export interface NodeInfo {
  name: string;
  kind: NodeKind;
  state: NodeState;
  pid: number | undefined;
  /** http://127.0.0.1:port for apps, https://127.0.0.1:port for the gateway, host:port for memcached. */
  address: string;
}

export interface ChildAppOptions {
  name: string;
  kind: Exclude<NodeKind, 'memcached'>;
  /** The app's CLI (a built dist/esm/cli.js). */
  script: string;
  args: string[];
  port: number;
  /** The node's public URL (the gateway's is https). @default `http://127.0.0.1:${port}` */
  url?: string;
  /** URL polled for readiness (200). @default `${url}/healthz` */
  healthUrl?: string;
  /** Preloaded with --import: makes the child exit when the launcher's stdin pipe closes. */
  preload?: string;
  env?: NodeJS.ProcessEnv;
  /** Where the child's stdout and stderr go. */
  logFile: string;
  /** How long stop() waits after SIGTERM before SIGKILL. @default 5000 */
  stopTimeoutMs?: number;
}

/**
 * One supervised Node child (webmail, activesync, assets or the gateway). An exit the launcher did
 * not ask for is reported ('crash' event, state 'crashed'), never silently respawned: a kill stays visible.
 */
export class ChildApp extends EventEmitter<{ crash: [ChildApp, { code: number | null; signal: NodeJS.Signals | null; tail: string }] }> {
  readonly name: string;
  readonly kind: ChildAppOptions['kind'];
  readonly port: number;
  readonly #o: ChildAppOptions;
  #child: ChildProcess | undefined;
  #state: NodeState = 'stopped';
  #expectExit = false;
  #log: WriteStream | undefined;
  #tail: string[] = [];

  constructor(options: ChildAppOptions) {
    super();
    this.#o = options;
    this.name = options.name;
    this.kind = options.kind;
    this.port = options.port;
  }

  get #healthUrl(): string {
    return this.#o.healthUrl ?? `${this.url}/healthz`;
  }
  get url(): string {
    return this.#o.url ?? `http://127.0.0.1:${this.port}`;
  }
  get pid(): number | undefined {
    return this.#child?.pid;
  }
  get state(): NodeState {
    return this.#state;
  }
  info(): NodeInfo {
    return { name: this.name, kind: this.kind, state: this.#state, pid: this.#state === 'running' || this.#state === 'starting' ? this.pid : undefined, address: this.url };
  }
  /** The last lines the child printed (for crash reports). */
  tail(): string {
    return this.#tail.join('\n');
  }

  /** Spawns the child and resolves once its health path answers 200. */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.#state === 'running' || this.#state === 'starting') throw new DemoError(DemoErrorCodes.BAD_STATE, `${this.name} is already ${this.#state}`);
    this.#state = 'starting';
    this.#expectExit = false;
    this.#log ??= createWriteStream(this.#o.logFile, { flags: 'a' });
    const execArgs = [...(this.#o.preload ? ['--import', this.#o.preload] : []), this.#o.script, ...this.#o.args];
    // detached: its own process group, so a terminal's Ctrl-C reaches the launcher only and the launcher
    // stops the children in order (gateway first); the stdin pipe still ends the child if the launcher dies.
    const child = spawn(process.execPath, execArgs, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...this.#o.env }, detached: true });
    track(child);
    this.#child = child;
    const onData = (chunk: Buffer) => {
      this.#log?.write(chunk);
      this.#tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (this.#tail.length > 20) this.#tail.splice(0, this.#tail.length - 20);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.stdin!.on('error', () => {}); // EPIPE when the child dies first
    child.once('exit', (code, signal) => {
      if (this.#child !== child) return;
      if (this.#expectExit) return;
      this.#state = 'crashed';
      this.emit('crash', this, { code, signal, tail: this.tail() });
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((this.#state as NodeState) === 'crashed') {
        throw new DemoError(DemoErrorCodes.START_FAILED, `${this.name} exited during start (exit code ${child.exitCode}, signal ${child.signalCode}):\n${this.tail()}`);
      }
      if ((await httpStatus(this.#healthUrl, 1000)) === 200) {
        this.#state = 'running';
        return;
      }
      await sleep(100);
    }
    await this.kill();
    throw new DemoError(DemoErrorCodes.START_FAILED, `${this.name} did not answer ${this.#healthUrl} within ${timeoutMs} ms:\n${this.tail()}`);
  }

  /** SIGKILL, the chaos way: no goodbye, connections reset. */
  async kill(): Promise<void> {
    await this.#terminate('SIGKILL', 0);
    this.#state = 'killed';
  }

  /** Starts again on the same port (after a kill or a crash). */
  async restart(): Promise<void> {
    if (this.#state === 'running' || this.#state === 'starting') await this.kill();
    await this.start();
  }

  /** SIGTERM, then SIGKILL after stopTimeoutMs. */
  async stop(): Promise<void> {
    await this.#terminate('SIGTERM', this.#o.stopTimeoutMs ?? 5000);
    this.#state = 'stopped';
    await new Promise<void>((resolve) => (this.#log ? this.#log.end(resolve) : resolve()));
    this.#log = undefined;
  }

  async #terminate(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const child = this.#child;
    this.#expectExit = true;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(child.pid!, 'SIGCONT');
    } catch {
      // already gone
    }
    child.kill(signal);
    if (signal !== 'SIGKILL') {
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    } else await gone;
  }
}

/** The status code of a GET, or 0 when the connection fails or times out. */
export async function httpStatus(url: string, timeoutMs: number, method = 'GET', ca?: string): Promise<number> {
  return (await httpProbe(url, timeoutMs, method, ca)).status;
}

/**
 * Status and Location of a request (redirects not followed); status 0 when the connection fails or
 * times out. https:// URLs are verified against `ca` (the demo's own certificate) when given.
 */
export function httpProbe(url: string, timeoutMs: number, method = 'GET', ca?: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve) => {
    const options = { method, timeout: timeoutMs, agent: false as const, ...(ca !== undefined ? { ca } : {}) };
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

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
