import { connect } from 'node:net';
import { findMemcached, memcachedUserArgs } from './binary.js';
import { TestkitError, TestkitErrorCodes } from './errors.js';
import { freePort } from './ports.js';
import { SupervisedProcess } from './SupervisedProcess.js';
import { memcachedStats } from './textProtocol.js';

export interface MemcachedNodeOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** A fixed port; by default a free one is picked. */
  port?: number;
  /** Memory limit in MiB (-m). @default 64 */
  memoryMb?: number;
  /** Worker threads (-t). @default 2 */
  threads?: number;
  /** Item size limit (-I), e.g. '1m'. @default memcached's own (1m) */
  maxItemSize?: string;
  /** Extra command-line arguments. */
  args?: string[];
  /** How long start waits for the node to answer. @default 5000 */
  startTimeoutMs?: number;
  /** A name for messages, e.g. 'memcached-2'. */
  name?: string;
  /**
   * SIGKILL the process when this Node process dies, even by SIGKILL (a watchdog process holds its
   * pid): what the demo launcher wants. Test runs have the pid directory of their global setup.
   * @default false
   */
  exitWithParent?: boolean;
}

export type MemcachedNodeState = 'running' | 'frozen' | 'killed' | 'stopped';

/**
 * One real memcached process on loopback. `kill()` is SIGKILL, `freeze()`/`thaw()` are
 * SIGSTOP/SIGCONT (the socket still accepts, nothing answers), `restart()` brings it back on the
 * same port, empty.
 */
export class MemcachedNode {
  readonly host: string;
  readonly name: string;
  #port: number;
  #process: SupervisedProcess | undefined;
  #state: MemcachedNodeState = 'stopped';
  readonly #options: MemcachedNodeOptions;
  readonly #binary: string;

  constructor(options: MemcachedNodeOptions = {}) {
    this.#options = options;
    this.host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.name = options.name ?? 'memcached';
    this.#binary = findMemcached();
  }

  get port(): number {
    return this.#port;
  }
  /** `"host:port"`, the form the ring and the store use. */
  get address(): string {
    return `${this.host}:${this.#port}`;
  }
  get pid(): number | undefined {
    return this.#process?.pid;
  }
  get state(): MemcachedNodeState {
    return this.#state;
  }

  /** Starts the process and resolves once it answers `version`. */
  async start(): Promise<this> {
    if (this.#state === 'running' || this.#state === 'frozen') {
      throw new TestkitError(TestkitErrorCodes.BAD_STATE, `${this.name} (${this.address}) is already ${this.#state}`);
    }
    const fixedPort = this.#port !== 0;
    let lastError: unknown;
    for (let attempt = 0; attempt < (fixedPort ? 1 : 5); attempt++) {
      if (!fixedPort || this.#port === 0) this.#port = await freePort(this.host);
      try {
        await this.#spawn();
        this.#state = 'running';
        return this;
      } catch (err) {
        lastError = err;
        if (!fixedPort) this.#port = 0;
      }
    }
    throw new TestkitError(TestkitErrorCodes.START_FAILED, `${this.name} could not start on ${this.host}:${this.#port}: ${(lastError as Error)?.message}`, { cause: lastError });
  }

  async #spawn(): Promise<void> {
    const o = this.#options;
    const args = [
      ...memcachedUserArgs(),
      '-l', this.host,
      '-p', String(this.#port),
      '-U', '0',
      '-m', String(o.memoryMb ?? 64),
      '-t', String(o.threads ?? 2),
      ...(o.maxItemSize ? ['-I', o.maxItemSize] : []),
      ...(o.args ?? []),
    ];
    const host = this.host;
    const port = this.#port;
    this.#process = new SupervisedProcess({
      name: `${this.name} (${this.address})`,
      command: this.#binary,
      args,
      ready: () => probe(host, port),
      readyTimeoutMs: o.startTimeoutMs ?? 5000,
      readyIntervalMs: 20,
      exitWithParent: o.exitWithParent ?? false,
    });
    await this.#process.start();
  }

  /** SIGKILL: the port refuses connections until `restart()`. */
  async kill(): Promise<void> {
    await this.#process?.kill();
    this.#state = 'killed';
  }

  /** SIGSTOP: connections are accepted by the kernel but nothing answers. */
  freeze(): void {
    this.#requireState(['running'], 'freeze');
    this.#process!.freeze();
    this.#state = 'frozen';
  }

  /** SIGCONT after `freeze()`; the node answers again, with the data it had. */
  thaw(): void {
    this.#requireState(['frozen'], 'thaw');
    this.#process!.thaw();
    this.#state = 'running';
  }

  /** Kills the process if it runs and starts a new, empty one on the same port. */
  async restart(): Promise<this> {
    if (this.#state === 'running' || this.#state === 'frozen') await this.kill();
    this.#state = 'stopped';
    return this.start();
  }

  /** Stops the process for good (SIGKILL; memcached keeps nothing worth a graceful stop). */
  async stop(): Promise<void> {
    await this.#process?.kill();
    this.#state = 'stopped';
  }

  /** `stats` of this node (pid, uptime, curr_items, ...). */
  stats(timeoutMs?: number): Promise<Record<string, string>> {
    return memcachedStats(this.host, this.#port, timeoutMs);
  }

  #requireState(allowed: MemcachedNodeState[], op: string): void {
    if (!allowed.includes(this.#state) || !this.#process?.alive) {
      throw new TestkitError(TestkitErrorCodes.BAD_STATE, `${this.name} (${this.address}) cannot ${op} while ${this.#state}`);
    }
  }
}

function probe(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('version\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('VERSION')));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { memcachedStats };
