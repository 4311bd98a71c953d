#!/usr/bin/env node
// webtier-ring: prints which memcached node(s) keys map to, exactly as libmemcached (php-memcached
// with OPT_LIBKETAMA_COMPATIBLE) places them. ESM only (reads its version through import.meta).
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { HashRing } from './HashRing.js';
import { RingError } from './errors.js';
import { parseNode } from './node.js';
import type { ParsedNode } from './node.js';

const USAGE = `Usage: webtier-ring --servers <list> [--replicas N] [--json] [key ...]

Prints the memcached node each key maps to, as libmemcached's weighted ketama places it
(php-memcached with Memcached::OPT_LIBKETAMA_COMPATIBLE = true).

Options:
  -s, --servers <list>  comma-separated servers: host, host:port or host:port:weight
                        (port defaults to 11211, weight to 1; IPv6 as [::1]:11211:2)
  -r, --replicas <N>    print the first N distinct nodes of each key's preference list,
                        primary first (default 1)
      --json            one JSON object per key and line: {"key":"...","nodes":["host:port",...]}
  -h, --help            show this help
  -v, --version         show the version

Keys come from the arguments or, when there are none and stdin is not a terminal, one per line
from stdin. Output: the key, a tab, and its node(s) separated by tabs.

Examples:
  webtier-ring --servers 10.0.0.1:11211,10.0.0.2:11211 sess:abc
  webtier-ring --servers a:11211:1,b:11211:3 --replicas 2 --json sess:abc sess:def
  cut -f1 keys.tsv | webtier-ring --servers a,b,c

Exit codes: 0 done, 2 bad arguments or servers.
`;

/** A usage error: printed with a hint to --help, exit code 2. */
class UsageError extends Error {}

/** Parses one --servers entry: "host", "host:port", "host:port:weight", "[v6]:port:weight". */
function parseServer(entry: string, where: string): ParsedNode {
  const text = entry.trim();
  // A third field is the weight; IPv6 hosts must be in brackets, so the last ":" after "]" is it.
  const hostEnd = text.startsWith('[') ? text.indexOf(']') + 1 : 0;
  const fields = text.slice(hostEnd).split(':');
  if (fields.length === 3 && fields[1] !== '' && (hostEnd > 0 || fields[0] !== '')) {
    const weightText = fields.pop()!;
    const hostPort = text.slice(0, hostEnd) + fields.join(':');
    if (!/^\d+$/.test(weightText) || Number(weightText) < 1) {
      throw new UsageError(`${where}: weight "${weightText}" in "${entry}" is not a positive integer`);
    }
    const node = parseNode(hostPort, where);
    return parseNode({ host: node.host, port: node.port, weight: Number(weightText) }, where);
  }
  return parseNode(text, where);
}

function parseServers(list: string): ParsedNode[] {
  const entries = list.split(',');
  if (entries.every((e) => e.trim() === '')) throw new UsageError('--servers is empty: give e.g. --servers 127.0.0.1:11211,127.0.0.1:11212');
  return entries.map((entry, i) => {
    if (entry.trim() === '') throw new UsageError(`--servers[${i}]: empty entry in "${list}" (a stray comma?)`);
    return parseServer(entry, `--servers[${i}]`);
  });
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function* stdinKeys(): AsyncGenerator<string> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line !== '') yield line;
  }
}

/** Writes with backpressure, so a large stdin does not pile up in memory. */
function write(text: string): Promise<void> | undefined {
  if (process.stdout.write(text)) return undefined;
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        servers: { type: 'string', short: 's' },
        replicas: { type: 'string', short: 'r' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (values.servers === undefined) throw new UsageError('--servers is required, e.g. --servers 127.0.0.1:11211,127.0.0.1:11212');
  let replicas = 1;
  if (values.replicas !== undefined) {
    if (!/^\d+$/.test(values.replicas) || Number(values.replicas) < 1) {
      throw new UsageError(`--replicas "${values.replicas}" is not an integer >= 1`);
    }
    replicas = Number(values.replicas);
  }
  let ring: HashRing;
  try {
    ring = new HashRing(parseServers(values.servers));
  } catch (err) {
    // The ring numbers nodes as nodes[i]; here they are the --servers entries.
    if (err instanceof RingError) throw new UsageError(err.message.replaceAll('nodes[', '--servers['));
    throw err;
  }

  let keys: Iterable<string> | AsyncIterable<string> = positionals;
  if (positionals.length === 0) {
    if (process.stdin.isTTY) throw new UsageError('no keys: give keys as arguments, or one per line on stdin');
    keys = stdinKeys();
  }
  const json = values.json === true;
  let pending: string[] = [];
  for await (const key of keys) {
    const nodes = replicas === 1 ? [ring.get(key)] : ring.nodesFor(key, replicas);
    pending.push(json ? JSON.stringify({ key, nodes }) : `${key}\t${nodes.join('\t')}`);
    if (pending.length >= 512) {
      await write(`${pending.join('\n')}\n`);
      pending = [];
    }
  }
  if (pending.length > 0) await write(`${pending.join('\n')}\n`);
  return 0;
}

// A closed pipe (e.g. `| head`) ends the output, not with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof RingError) {
      process.stderr.write(`webtier-ring: ${err.message}\nRun "webtier-ring --help" for usage.\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`webtier-ring: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
