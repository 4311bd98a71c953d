// One Node child process of a benchmark topology (a webmail node, a proxy, an upstream): spawned
// with a stdin pipe and exitWithParent.mjs preloaded (it dies with the benchmark, even on SIGKILL),
// tracked by testkit (SIGKILLed if the benchmark or test worker exits). Its stdout and stderr go
// straight to a log file (not through a pipe: the benchmark process, which also runs autocannon,
// must not spend CPU on a proxy's access log). TypeScript scripts run through tsx's loader.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { track } from '@webtier/testkit';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const EXIT_WITH_PARENT = pathToFileURL(join(here, 'exitWithParent.mjs')).href;
const TSX = pathToFileURL(require.resolve('tsx')).href;

export interface ChildNodeOptions {
  name: string;
  /** A .js/.mjs script, or a .ts script (run with tsx's loader). */
  script: string;
  args: string[];
  /** Polled until it answers 200 (start) . */
  healthUrl: string;
  /** Where stdout and stderr go (appended). */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** Extra node flags, e.g. ['--cpu-prof']. @default [] */
  nodeArgs?: string[];
}

export type ChildState = 'stopped' | 'running' | 'killed' | 'frozen' | 'crashed';

export class ChildNode {
  readonly name: string;
  readonly #o: ChildNodeOptions;
  #child: ChildProcess | undefined;
  #state: ChildState = 'stopped';
  #expectExit = false;

  constructor(options: ChildNodeOptions) {
    this.#o = options;
    this.name = options.name;
  }

  get state(): ChildState {
    return this.#state;
  }
  get pid(): number | undefined {
    return this.#child?.pid;
  }
  /** The last lines the child printed. */
  tail(lines = 30): string {
    try {
      return readFileSync(this.#o.logFile, 'utf8').split('\n').slice(-lines - 1).join('\n');
    } catch {
      return '';
    }
  }

  /** Spawns the child; resolves once healthUrl answers 200. */
  async start(timeoutMs = 30_000): Promise<void> {
    this.#expectExit = false;
    const fd = openSync(this.#o.logFile, 'a');
    const loader = this.#o.script.endsWith('.ts') ? ['--import', TSX] : [];
    const args = [...(this.#o.nodeArgs ?? []), '--import', EXIT_WITH_PARENT, ...loader, this.#o.script, ...this.#o.args];
    const child = spawn(process.execPath, args, { stdio: ['pipe', fd, fd], env: { ...process.env, ...this.#o.env } });
    closeSync(fd);
    track(child);
    this.#child = child;
    child.stdin!.on('error', () => {});
    child.once('exit', () => {
      if (this.#child === child && !this.#expectExit) this.#state = 'crashed';
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${this.name} exited during start (code ${child.exitCode}, signal ${child.signalCode}); its output:\n${this.tail()}`);
      }
      if ((await httpStatus(this.#o.healthUrl, 1000)) === 200) {
        this.#state = 'running';
        return;
      }
      await sleep(100);
    }
    await this.kill();
    throw new Error(`${this.name} did not answer ${this.#o.healthUrl} with 200 within ${timeoutMs} ms; its output:\n${this.tail()}`);
  }

  /** SIGKILL: no goodbye, connections reset. */
  async kill(): Promise<void> {
    await this.#terminate('SIGKILL', 0);
    this.#state = 'killed';
  }

  /** SIGTERM, SIGKILL after graceMs. */
  async stop(graceMs = 3000): Promise<void> {
    await this.#terminate('SIGTERM', graceMs);
    this.#state = 'stopped';
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
    const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}

/** The status of a GET, or 0 when the connection fails or times out. */
export function httpStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
    req.end();
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
