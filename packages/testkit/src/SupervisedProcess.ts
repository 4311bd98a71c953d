import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { TestkitError, TestkitErrorCodes } from './errors.js';
import { exitWithParentPreload, unwatchPid, watchPid } from './exitWithParent.js';
import { track } from './registry.js';

export type SupervisedState = 'stopped' | 'starting' | 'running' | 'frozen' | 'killed' | 'crashed';

/** One readiness probe: true when the process serves. Polled until it is, or until the start times out. */
export type ReadyCheck = (process: SupervisedProcess) => boolean | Promise<boolean>;

export interface SupervisedProcessOptions {
  /** For messages: 'memcached-2', 'webmail-1', 'gateway'. */
  name: string;
  /** The executable; `process.execPath` for a Node script (see `nodeArgs`). */
  command: string;
  /** @default [] */
  args?: readonly string[];
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Polled every `readyIntervalMs` after the spawn; start() resolves once it passes. @default passes at once */
  ready?: ReadyCheck;
  /** @default 20000 */
  readyTimeoutMs?: number;
  /** @default 100 */
  readyIntervalMs?: number;
  /**
   * Where stdout and stderr go (appended), written by the kernel straight to the file: no CPU spent
   * here on a child's access log. Without it, the output is piped and kept in memory (`output()`).
   */
  logFile?: string;
  /**
   * End the process when this one dies, even by SIGKILL (see exitWithParent.ts): a Node child
   * (`command` is `process.execPath`) watches its stdin pipe, any other binary is reaped by a watchdog.
   * @default true
   */
  exitWithParent?: boolean;
  /** Its own process group: a terminal's Ctrl-C reaches the parent only, which stops children in order. @default false */
  detached?: boolean;
  /** What `stop()` sends first. @default 'SIGTERM' */
  stopSignal?: NodeJS.Signals;
  /** How long `stop()` waits after `stopSignal` before SIGKILL. @default 5000 */
  stopTimeoutMs?: number;
}

/** How an exit nobody asked for looked: reported by the 'crash' event, never silently respawned. */
export interface CrashReport {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines of output. */
  tail: string;
}

/** Output kept in memory when there is no log file (the newest part, at most this many characters). */
const OUTPUT_LIMIT = 1 << 20;

/**
 * The one child-process supervisor of the repo's tests, demo and benchmarks: spawn, wait until ready,
 * kill (SIGKILL), freeze/thaw (SIGSTOP/SIGCONT), stop (SIGTERM, then SIGKILL), restart, exit with the
 * parent, output to a log file or to memory. Every process is tracked (testkit's registry), so an
 * exiting parent SIGKILLs what it started. An exit that was not asked for sets the state 'crashed' and
 * emits 'crash'; a kill stays visible.
 */
export class SupervisedProcess extends EventEmitter<{ crash: [CrashReport] }> {
  readonly name: string;
  readonly #o: SupervisedProcessOptions;
  #child: ChildProcess | undefined;
  #state: SupervisedState = 'stopped';
  #expectExit = false;
  #output = '';
  #exited: Promise<CrashReport> = Promise.resolve({ code: null, signal: null, tail: '' });

  constructor(options: SupervisedProcessOptions) {
    super();
    this.#o = options;
    this.name = options.name;
  }

  get state(): SupervisedState {
    return this.#state;
  }
  get pid(): number | undefined {
    return this.#child?.pid;
  }
  /** The current child process (undefined before the first start). */
  get child(): ChildProcess | undefined {
    return this.#child;
  }
  /** Resolves when the current child exits (at once when none runs). */
  get exited(): Promise<CrashReport> {
    return this.#exited;
  }
  /** Whether the current child has not exited yet. */
  get alive(): boolean {
    const c = this.#child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Everything printed so far (piped output), or the log file's content. */
  output(): string {
    if (this.#o.logFile === undefined) return this.#output;
    try {
      return readFileSync(this.#o.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** The last `lines` lines of output, for error messages. */
  tail(lines = 20): string {
    return this.output().split('\n').filter(Boolean).slice(-lines).join('\n');
  }

  /** Spawns the process and resolves once `ready` passes; throws (TESTKIT_ERR_START_FAILED) with the output's tail when it exits first or times out. */
  async start(overrides: { readyTimeoutMs?: number } = {}): Promise<this> {
    if (this.alive) throw new TestkitError(TestkitErrorCodes.BAD_STATE, `${this.name} is already ${this.#state}`);
    const o = this.#o;
    this.#state = 'starting';
    this.#expectExit = false;
    this.#output = '';
    const node = o.command === process.execPath;
    const exitWithParent = o.exitWithParent ?? true;
    const args = [...(exitWithParent && node ? ['--import', exitWithParentPreload()] : []), ...(o.args ?? [])];
    const fd = o.logFile === undefined ? undefined : openSync(o.logFile, 'a');
    const stdin = exitWithParent && node ? 'pipe' : 'ignore';
    let child: ChildProcess;
    try {
      child = spawn(o.command, args, {
        stdio: [stdin, fd ?? 'pipe', fd ?? 'pipe'],
        env: { ...process.env, ...o.env },
        detached: o.detached ?? false,
        ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
      });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    this.#child = child;
    // A spawn that failed (ENOENT, EACCES) has no pid and reports its error on the next tick.
    const spawnError = new Promise<Error>((resolve) => child.on('error', resolve));
    child.stdin?.on('error', () => {}); // EPIPE when the child dies first
    const keep = (chunk: Buffer) => {
      this.#output += chunk.toString('utf8');
      if (this.#output.length > OUTPUT_LIMIT) this.#output = this.#output.slice(-OUTPUT_LIMIT / 2);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    if (child.pid !== undefined) {
      track(child);
      if (exitWithParent && !node) watchPid(child.pid, o.command);
    }
    this.#exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (child.pid !== undefined) unwatchPid(child.pid);
        const report = { code, signal, tail: this.tail() };
        if (this.#child === child && !this.#expectExit) {
          this.#state = 'crashed';
          this.emit('crash', report);
        }
        resolve(report);
      }),
    );

    const timeoutMs = overrides.readyTimeoutMs ?? o.readyTimeoutMs ?? 20_000;
    const deadline = Date.now() + timeoutMs;
    const failed = (why: string, cause?: unknown) =>
      new TestkitError(TestkitErrorCodes.START_FAILED, `${this.name} (${o.command} ${(o.args ?? []).join(' ')}) ${why}; its output${o.logFile ? ` (${o.logFile})` : ''}:\n${this.tail()}`, cause === undefined ? undefined : { cause });
    for (;;) {
      if (child.pid === undefined) {
        this.#state = 'crashed';
        const err = await spawnError;
        throw failed(`could not be spawned: ${err.message}`, err);
      }
      if (!this.alive) {
        this.#state = 'crashed';
        throw failed(`exited during start (exit code ${child.exitCode}, signal ${child.signalCode})`);
      }
      if (!o.ready || (await o.ready(this))) {
        if (this.alive) {
          this.#state = 'running';
          return this;
        }
        continue;
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw failed(`was not ready within ${timeoutMs} ms`);
      }
      await sleep(o.readyIntervalMs ?? 100);
    }
  }

  /** SIGKILL (after SIGCONT, so a frozen process can die), the chaos way: no goodbye, connections reset. */
  async kill(): Promise<void> {
    await this.#terminate('SIGKILL', 0);
    this.#state = 'killed';
  }

  /** `stopSignal` (SIGTERM: the app closes cleanly), SIGKILL after `graceMs`; resolves once it is gone. */
  async stop(graceMs = this.#o.stopTimeoutMs ?? 5000): Promise<void> {
    await this.#terminate(this.#o.stopSignal ?? 'SIGTERM', graceMs);
    this.#state = 'stopped';
  }

  /** SIGSTOP: the kernel still accepts connections, nothing answers. */
  freeze(): void {
    this.#signal('SIGSTOP', 'freeze', ['running']);
    this.#state = 'frozen';
  }

  /** SIGCONT after `freeze()`: it answers again, with the state it had. */
  thaw(): void {
    this.#signal('SIGCONT', 'thaw', ['frozen']);
    this.#state = 'running';
  }

  /** Kills the process if it runs and starts it again with the same command. */
  async restart(): Promise<this> {
    if (this.alive) await this.kill();
    return this.start();
  }

  #signal(signal: NodeJS.Signals, op: string, allowed: SupervisedState[]): void {
    if (!allowed.includes(this.#state) || !this.alive) throw new TestkitError(TestkitErrorCodes.BAD_STATE, `${this.name} cannot ${op} while ${this.#state}`);
    process.kill(this.#child!.pid!, signal);
  }

  async #terminate(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    this.#expectExit = true;
    const child = this.#child;
    if (!child || !this.alive) return;
    const gone = this.#exited;
    try {
      process.kill(child.pid!, 'SIGCONT'); // a frozen process must be able to die
    } catch {
      // already gone
    }
    child.kill(signal);
    const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}

/**
 * Node flags and a script for `command: process.execPath`: `nodeArgs('app.js', ['--port', '1'], { loader })`.
 * `loader` is a module preloaded with --import (e.g. tsx's, for a .ts script).
 */
export function nodeArgs(script: string, args: readonly string[] = [], o: { flags?: readonly string[]; loader?: string } = {}): string[] {
  return [...(o.flags ?? []), ...(o.loader ? ['--import', o.loader] : []), script, ...args];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
