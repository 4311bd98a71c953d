// One Node child process of a benchmark topology (a webmail node, a proxy, an upstream): testkit's
// SupervisedProcess (it dies with the benchmark, even on SIGKILL; tracked, so SIGKILLed if the
// benchmark or test worker exits), ready once its health URL answers 200. Its stdout and stderr go
// straight to a log file (not through a pipe: the benchmark process, which also runs autocannon,
// must not spend CPU on a proxy's access log). TypeScript scripts run through tsx's loader.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { httpReady, nodeArgs, SupervisedProcess } from '@webtier/testkit';

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface ChildNodeOptions {
  name: string;
  /** A .js/.mjs script, or a .ts script (run with tsx's loader). */
  script: string;
  args: string[];
  /** Polled until it answers 200 (start). */
  healthUrl: string;
  /** Where stdout and stderr go (appended). */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** Extra node flags, e.g. ['--cpu-prof']. @default [] */
  nodeArgs?: string[];
}

export class ChildNode extends SupervisedProcess {
  constructor(o: ChildNodeOptions) {
    super({
      name: o.name,
      command: process.execPath,
      args: nodeArgs(o.script, o.args, { flags: o.nodeArgs ?? [], ...(o.script.endsWith('.ts') ? { loader: TSX } : {}) }),
      ready: httpReady(o.healthUrl),
      readyTimeoutMs: 30_000,
      logFile: o.logFile,
      ...(o.env ? { env: o.env } : {}),
      stopTimeoutMs: 3000,
    });
  }
}
