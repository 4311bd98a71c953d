import { SupervisedProcess, httpReady } from '@webtier/testkit';
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
  env?: NodeJS.ProcessEnv;
  /** Where the child's stdout and stderr go. */
  logFile: string;
  /** How long stop() waits after SIGTERM before SIGKILL. @default 5000 */
  stopTimeoutMs?: number;
}

/**
 * One app node of the demo (webmail, activesync, assets or the gateway): testkit's SupervisedProcess
 * running the app's CLI, plus what the launcher shows about it. The child exits with the launcher
 * (stdin pipe), runs in its own process group (a terminal's Ctrl-C reaches the launcher only, which
 * stops the children in order, gateway first), and a crash is reported, never silently respawned.
 */
export class ChildApp {
  readonly name: string;
  readonly kind: ChildAppOptions['kind'];
  readonly port: number;
  readonly url: string;
  readonly process: SupervisedProcess;
  readonly #healthUrl: string;

  constructor(o: ChildAppOptions) {
    this.name = o.name;
    this.kind = o.kind;
    this.port = o.port;
    this.url = o.url ?? `http://127.0.0.1:${o.port}`;
    this.#healthUrl = o.healthUrl ?? `${this.url}/healthz`;
    this.process = new SupervisedProcess({
      name: o.name,
      command: process.execPath,
      args: [o.script, ...o.args],
      ...(o.env ? { env: o.env } : {}),
      logFile: o.logFile,
      ready: httpReady(this.#healthUrl),
      detached: true,
      stopTimeoutMs: o.stopTimeoutMs ?? 5000,
    });
  }

  get state(): NodeState {
    return this.process.state;
  }
  info(): NodeInfo {
    const s = this.state;
    return { name: this.name, kind: this.kind, state: s, pid: s === 'running' || s === 'starting' ? this.process.pid : undefined, address: this.url };
  }

  /** Spawns the child and resolves once its health path answers 200. */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.process.alive) throw new DemoError(DemoErrorCodes.BAD_STATE, `${this.name} is already ${this.state}`);
    try {
      await this.process.start({ readyTimeoutMs: timeoutMs });
    } catch (cause) {
      throw new DemoError(DemoErrorCodes.START_FAILED, `${(cause as Error).message} (health URL ${this.#healthUrl})`, { cause });
    }
  }

  /** SIGKILL, the chaos way: no goodbye, connections reset. */
  kill(): Promise<void> {
    return this.process.kill();
  }

  /** Starts again on the same port (after a kill or a crash). */
  async restart(): Promise<void> {
    if (this.process.alive) await this.kill();
    await this.start();
  }

  /** SIGTERM, then SIGKILL after stopTimeoutMs. */
  stop(): Promise<void> {
    return this.process.stop();
  }
}
