import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError, LabErrorCodes } from './errors.js';
import type { LabTopology } from './LabTopology.js';

/** One process the lab started inside a host's namespace (enough to kill it, and to start it again). */
export interface LabProcess {
  host: string;
  /** e.g. 'memcached', 'webmail', 'gateway', 'keepalived'. */
  name: string;
  argv: string[];
  env: Record<string, string>;
  logFile: string;
  pid: number | null;
  state: 'running' | 'frozen' | 'killed' | 'stopped';
  /** The URL (or host:port) polled for readiness. */
  probe?: { kind: 'http' | 'memcached'; target: string };
}

/** One fault in force, with what undoes it. */
export interface ActiveFault {
  id: number;
  kind: string;
  hosts: string[];
  startedAt: string;
  /** iptables rules added: `ip netns exec ns iptables -D <chain> <spec...>` removes each. */
  rules: Array<{ ns: string; chain: string; spec: string[] }>;
  /** Root-side veths set down. */
  links: string[];
  /** pids SIGSTOPped / processes (host/name) SIGKILLed. */
  frozen: number[];
  killed: Array<{ host: string; name: string }>;
}

/** Everything the lab created, written before each thing is created, so `down` can undo it after any crash. */
export interface LabStateData {
  version: 1;
  topology: LabTopology;
  /** pid of the process that owns the lab (a test or benchmark): when it is gone, the lab is stale. null: `npm run lab -- up`, kept until `down`. */
  owner: number | null;
  createdAt: string;
  /** The blackhole route for the lab range was added by us (and is removed last by down). */
  route: boolean;
  bridges: string[];
  veths: string[];
  namespaces: string[];
  processes: LabProcess[];
  faults: ActiveFault[];
  nextFaultId: number;
  gatewayUrls: string[];
  adminUrls: string[];
}

/** The lab's directory: state.json, faults.log, logs/. One lab per machine (namespace names are global). */
export function labDir(): string {
  return process.env['WEBTIER_LAB_DIR'] || '/run/webtier-lab';
}

export class LabState {
  readonly dir: string;
  data: LabStateData;

  private constructor(dir: string, data: LabStateData) {
    this.dir = dir;
    this.data = data;
  }

  static file(dir = labDir()): string {
    return join(dir, 'state.json');
  }

  /** The recorded state, or undefined when no lab is recorded. A corrupt file is an error naming it. */
  static read(dir = labDir()): LabState | undefined {
    const file = LabState.file(dir);
    if (!existsSync(file)) return undefined;
    let data: LabStateData;
    try {
      data = JSON.parse(readFileSync(file, 'utf8')) as LabStateData;
    } catch (cause) {
      throw new LabError(LabErrorCodes.BAD_STATE, `${file} is not valid JSON (${(cause as Error).message}); \`npm run lab -- down\` removes every wtlab-* object by name and then the file`, { cause });
    }
    if (data?.version !== 1 || !Array.isArray(data.namespaces)) throw new LabError(LabErrorCodes.BAD_STATE, `${file} is not a lab state file (version ${String(data?.version)})`);
    return new LabState(dir, data);
  }

  /** Creates the state file; fails with LAB_ERR_ALREADY_UP when one exists (the lock: one lab at a time). */
  static create(topology: LabTopology, owner: number | null, dir = labDir()): LabState {
    mkdirSync(dir, { recursive: true });
    const data: LabStateData = { version: 1, topology, owner, createdAt: new Date().toISOString(), route: false, bridges: [], veths: [], namespaces: [], processes: [], faults: [], nextFaultId: 1, gatewayUrls: [], adminUrls: [] };
    try {
      writeFileSync(LabState.file(dir), JSON.stringify(data, null, 2), { flag: 'wx' });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') throw new LabError(LabErrorCodes.ALREADY_UP, `a lab is already up (${LabState.file(dir)}); \`npm run lab -- down\` removes it`, { cause });
      throw cause;
    }
    // Logs are per lab: an earlier lab's lines would otherwise be read as this one's.
    rmSync(join(dir, 'logs'), { recursive: true, force: true });
    mkdirSync(join(dir, 'logs'), { recursive: true });
    return new LabState(dir, data);
  }

  /** Writes the state atomically (tmp + rename). */
  save(): void {
    const file = LabState.file(this.dir);
    writeFileSync(`${file}.tmp`, JSON.stringify(this.data, null, 2));
    renameSync(`${file}.tmp`, file);
  }

  remove(): void {
    rmSync(LabState.file(this.dir), { force: true });
  }

  get logDir(): string {
    return join(this.dir, 'logs');
  }

  /** Appends one line to faults.log (start and end of every fault). */
  logFault(line: string): void {
    appendFileSync(join(this.dir, 'faults.log'), `${new Date().toISOString()} ${line}\n`);
  }
}
