import { parseArgs } from 'node:util';
import { formatNodeId, parseHostPort } from '@webtier/hash-ring';
import { WebmailError, WebmailErrorCodes } from './errors.js';
import session, { type Store } from 'express-session';
import { ReplicatedMemcachedStore } from '@webtier/session-store';

export type StoreBackend =
  | { kind: 'servers'; servers: string[] }
  | { kind: 'pairs'; pairs: Array<[string, string]> }
  /** express-session's MemoryStore: development only, one node, no failover. */
  | { kind: 'memory' };

export interface WebmailCliOptions {
  port: number;
  host: string;
  name: string;
  secret: string;
  backend: StoreBackend;
  /** A name for each memcached address ("memcached-2"), from --labels. */
  labels: Readonly<Record<string, string>>;
  usersFile?: string;
}

export const WEBMAIL_USAGE = `webtier-webmail: Roundcube-style webmail with sessions in replicated memcached

  --port <n>          port (env PORT; default 8000)
  --host <addr>       address (env HOST; default 127.0.0.1)
  --name <name>       node name shown on every page (env WEBTIER_NODE_NAME; default webmail)
  --memcached <list>  memcached servers, "host:port,host:port,..." (env WEBTIER_MEMCACHED)
  --pairs <list>      memcached pairs, "a:1+b:2,c:3+d:4" (env WEBTIER_MEMCACHED_PAIRS)
  --labels <list>     names for the servers in the order given, "memcached-1,..." (env WEBTIER_MEMCACHED_LABELS)
  --secret <s>        session cookie secret, the same on every node (env WEBTIER_SESSION_SECRET)
  --store memory      use express-session's MemoryStore (development only: no replication)
  --users <file>      demo users file (default: data/users.json)
`;

// One host:port parser for all of webtier: @webtier/hash-ring's (IPv6 as "[::1]:11211", bare "::1" refused).
function addressList(text: string, where: string): string[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new WebmailError(WebmailErrorCodes.BAD_OPTION, `${where}: empty list; give "host:port,host:port"`);
  return list.map((a, i) => {
    try {
      const { host, port } = parseHostPort(a, '', { quoteInput: false });
      return formatNodeId(host, port);
    } catch (err) {
      throw new WebmailError(WebmailErrorCodes.BAD_OPTION, `${where}[${i}]: "${a}" is not "host:port" (${(err as Error).message.replace(/^: /, '')})`, { cause: err });
    }
  });
}

/** Parses the webmail's flags, falling back to environment variables, and validates them all. */
export function parseWebmailArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): WebmailCliOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' }, host: { type: 'string' }, name: { type: 'string' }, memcached: { type: 'string' }, pairs: { type: 'string' },
      labels: { type: 'string' }, secret: { type: 'string' }, store: { type: 'string' }, users: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const portText = values.port ?? env['PORT'] ?? '8000';
  if (!/^\d+$/.test(portText) || Number(portText) > 65535) throw new WebmailError(WebmailErrorCodes.BAD_OPTION, `--port: "${portText}" is not a port number (0-65535)`);
  const memcached = values.memcached ?? env['WEBTIER_MEMCACHED'];
  const pairsText = values.pairs ?? env['WEBTIER_MEMCACHED_PAIRS'];
  let backend: StoreBackend;
  if (values.store !== undefined && values.store !== 'memory') {
    throw new WebmailError(WebmailErrorCodes.BAD_OPTION, `--store: "${values.store}" is not supported; the only alternative store is "memory" (development)`);
  }
  if (values.store === 'memory') backend = { kind: 'memory' };
  else if (memcached && pairsText) throw new WebmailError(WebmailErrorCodes.BAD_OPTION, 'give either --memcached or --pairs, not both');
  else if (memcached) backend = { kind: 'servers', servers: addressList(memcached, '--memcached') };
  else if (pairsText) {
    const pairs = pairsText.split(',').map((p, i) => {
      const members = addressList(p.replace(/\+/g, ','), `--pairs[${i}]`);
      if (members.length !== 2) throw new WebmailError(WebmailErrorCodes.BAD_OPTION, `--pairs[${i}]: "${p}" must be two servers joined by "+", e.g. "127.0.0.1:11211+127.0.0.1:11212"`);
      return members as [string, string];
    });
    backend = { kind: 'pairs', pairs };
  } else {
    throw new WebmailError(WebmailErrorCodes.BAD_OPTION, 'no session store: give --memcached "host:port,..." or --pairs "a:1+b:2,c:3+d:4" (or --store memory for development)');
  }
  const addresses = backend.kind === 'servers' ? backend.servers : backend.kind === 'pairs' ? backend.pairs.flat() : [];
  const labelsText = values.labels ?? env['WEBTIER_MEMCACHED_LABELS'];
  const labels: Record<string, string> = {};
  if (labelsText) {
    const names = labelsText.split(',').map((s) => s.trim());
    if (names.length !== addresses.length) {
      throw new WebmailError(WebmailErrorCodes.BAD_OPTION, `--labels: ${names.length} names for ${addresses.length} memcached servers; give one name per server, in the same order`);
    }
    addresses.forEach((a, i) => (labels[a] = names[i]!));
  }
  const secret = values.secret ?? env['WEBTIER_SESSION_SECRET'];
  if (!secret || secret.length < 8) {
    throw new WebmailError(WebmailErrorCodes.BAD_OPTION, '--secret: a session secret of at least 8 characters is required, the same on every webmail node (or set WEBTIER_SESSION_SECRET)');
  }
  const usersFile = values.users ?? env['WEBTIER_USERS_FILE'];
  return {
    port: Number(portText),
    host: values.host ?? env['HOST'] ?? '127.0.0.1',
    name: values.name ?? env['WEBTIER_NODE_NAME'] ?? 'webmail',
    secret,
    backend,
    labels,
    ...(usersFile ? { usersFile } : {}),
  };
}

/** The session store a mail node's flags ask for: the replicated memcached store, or MemoryStore for development. */
export function storeFor(backend: StoreBackend): Store {
  if (backend.kind === 'memory') return new session.MemoryStore();
  return backend.kind === 'pairs' ? new ReplicatedMemcachedStore({ pairs: backend.pairs }) : new ReplicatedMemcachedStore({ servers: backend.servers });
}
