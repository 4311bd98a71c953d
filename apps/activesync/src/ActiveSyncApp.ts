import type { Store } from 'express-session';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { DemoUsers, Mailbox, loadDemoMessages, type MailMessage } from '@webtier/demo-mail';
import { autodiscoverResponse, requestedEmail } from './autodiscover.js';
import { BasicAuth } from './BasicAuth.js';
import { folderSync } from './commands/folderSync.js';
import { ping, type PingLimits } from './commands/ping.js';
import { sync } from './commands/sync.js';
import type { CommandContext } from './commands/context.js';
import { DeviceStates } from './DeviceState.js';
import { ActiveSyncError, ActiveSyncErrorCodes } from './errors.js';
import { parseActiveSyncQuery, type ActiveSyncQuery } from './query.js';

/** Protocol versions advertised by OPTIONS (MS-ASProtocolVersions). */
export const PROTOCOL_VERSIONS = '2.5,12.0,12.1,14.0,14.1';
/** Commands this server implements (MS-ASProtocolCommands). */
export const PROTOCOL_COMMANDS = 'FolderSync,Sync,Ping';

export interface ActiveSyncAppOptions {
  /** Device state and delivered mail live here: a ReplicatedMemcachedStore in the demo. Required. */
  store: Store;
  /** Node name for X-Served-By and /healthz. @default 'activesync' */
  node?: string;
  /** @default DemoUsers.load() (@webtier/demo-mail's data/users.json) */
  users?: DemoUsers;
  /** @default loadDemoMessages() */
  messages?: MailMessage[];
  /** Smallest Ping HeartbeatInterval accepted, seconds. @default 60 (MS-ASCMD) */
  minHeartbeatSeconds?: number;
  /** Largest Ping HeartbeatInterval accepted, seconds. @default 3540 (MS-ASCMD) */
  maxHeartbeatSeconds?: number;
  /** How often a waiting Ping checks for new mail. @default 1000 */
  pingPollMs?: number;
  /** fastify's logger option. @default false */
  logger?: boolean;
}

export const DEFAULT_ACTIVESYNC_APP_OPTIONS = {
  node: 'activesync',
  minHeartbeatSeconds: 60,
  maxHeartbeatSeconds: 3540,
  pingPollMs: 1000,
  logger: false,
} as const;

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ActiveSyncError(ActiveSyncErrorCodes.BAD_OPTION, `${name}: ${JSON.stringify(value)} must be an integer >= 1`);
  return value;
}

/**
 * The ActiveSync surface a device talks to, on fastify: OPTIONS and POST /Microsoft-Server-ActiveSync
 * (both query forms, Basic auth, FolderSync/Sync/Ping with JSON bodies) and autodiscover.
 */
export function createActiveSyncApp(options: ActiveSyncAppOptions): FastifyInstance {
  if (!options?.store || typeof options.store.get !== 'function') {
    throw new ActiveSyncError(ActiveSyncErrorCodes.BAD_OPTION, 'store: an express-session Store is required (e.g. new ReplicatedMemcachedStore({ servers }))');
  }
  const o = { ...DEFAULT_ACTIVESYNC_APP_OPTIONS, ...options };
  const limits: PingLimits = {
    minHeartbeatSeconds: positiveInt('minHeartbeatSeconds', o.minHeartbeatSeconds),
    maxHeartbeatSeconds: positiveInt('maxHeartbeatSeconds', o.maxHeartbeatSeconds),
    pollMs: positiveInt('pingPollMs', o.pingPollMs),
  };
  if (limits.minHeartbeatSeconds > limits.maxHeartbeatSeconds) {
    throw new ActiveSyncError(ActiveSyncErrorCodes.BAD_OPTION, `minHeartbeatSeconds (${limits.minHeartbeatSeconds}) is above maxHeartbeatSeconds (${limits.maxHeartbeatSeconds})`);
  }
  const users = o.users ?? DemoUsers.load();
  const auth = new BasicAuth(users);
  const mailbox = new Mailbox(o.store, o.messages ?? loadDemoMessages());
  const devices = new DeviceStates(o.store);
  // Long polls end early (as "expired") when the server closes, so a drain does not wait an hour.
  let closing: () => void = () => {};
  const closed = new Promise<void>((resolve) => (closing = resolve));

  // Server limits for thousands of held Pings: no request or connection timeout (a Ping waits up to
  // maxHeartbeatSeconds), idle keep-alive above the longest heartbeat (a device re-Pings on the same
  // connection), at most one request per Ping connection in flight and no cap on requests per socket.
  const app = Fastify({
    logger: o.logger,
    routerOptions: { caseSensitive: false },
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: (limits.maxHeartbeatSeconds + 120) * 1000,
    maxRequestsPerSocket: 0,
    bodyLimit: 20 * 1024 * 1024,
  });
  app.addHook('onClose', async () => closing());
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-served-by', o.node);
    return payload;
  });
  // An empty body is a valid FolderSync; only JSON is understood (documented instead of WBXML).
  app.addContentTypeParser(['application/json', 'application/vnd.ms-sync.json'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? {} : JSON.parse(body as string));
    } catch (err) {
      done(new ActiveSyncError(ActiveSyncErrorCodes.BAD_BODY, `body is not JSON: ${(err as Error).message}`), undefined);
    }
  });
  app.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/vnd.ms-sync.wbxml', (_req, _payload, done) =>
    done(Object.assign(new ActiveSyncError(ActiveSyncErrorCodes.BAD_BODY, 'WBXML is not supported by this demo server: send JSON (see apps/activesync/README.md)'), { statusCode: 415 }), undefined),
  );

  app.get('/healthz', async () => ({ status: 'ok', name: o.node }));

  async function authenticate(req: FastifyRequest, reply: FastifyReply) {
    const user = await auth.authenticate(req.headers.authorization);
    if (!user) {
      void reply.code(401).header('www-authenticate', 'Basic realm="ActiveSync"').send({ error: 'authentication required' });
      return undefined;
    }
    return user;
  }

  app.options('/Microsoft-Server-ActiveSync', async (req, reply) => {
    if (!(await authenticate(req, reply))) return reply;
    return reply
      .headers({ 'ms-server-activesync': '14.1', 'ms-asprotocolversions': PROTOCOL_VERSIONS, 'ms-asprotocolcommands': PROTOCOL_COMMANDS, allow: 'OPTIONS,POST', public: 'OPTIONS,POST' })
      .send();
  });

  app.post('/Microsoft-Server-ActiveSync', async (req, reply) => {
    const user = await authenticate(req, reply);
    if (!user) return reply;
    let query: ActiveSyncQuery;
    try {
      query = parseActiveSyncQuery(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');
    } catch (err) {
      return reply.code(400).send({ error: (err as Error).message, code: (err as ActiveSyncError).code });
    }
    if (!BasicAuth.matches(user, query.user)) return reply.code(403).send({ error: `User=${query.user} is not the authenticated user ${user.user}` });
    const device = await devices.load(user.user, query.deviceId, query.deviceType);
    device.lastSeen = new Date().toISOString();
    device.lastNode = o.node;
    const aborted = new Promise<void>((resolve) => {
      req.raw.once('close', () => resolve());
      reply.raw.once('close', () => resolve());
      void closed.then(resolve);
    });
    const c: CommandContext = { node: o.node, user, device, devices, mailbox, body: (req.body ?? {}) as Record<string, unknown>, aborted };
    reply.header('ms-server-activesync', '14.1');
    switch (query.cmd.toLowerCase()) {
      case 'foldersync':
        return folderSync(c);
      case 'sync':
        return sync(c);
      case 'ping':
        return ping(c, limits);
      default:
        return reply.code(501).send({ error: `Cmd=${query.cmd} is not implemented; this server implements ${PROTOCOL_COMMANDS}` });
    }
  });

  const autodiscover = async (req: FastifyRequest, reply: FastifyReply) => {
    const email = requestedEmail(typeof req.body === 'string' ? req.body : '') ?? '';
    const proto = String(req.headers['x-forwarded-proto'] ?? 'http').split(',')[0]!.trim();
    const host = String(req.headers['x-forwarded-host'] ?? req.headers.host ?? 'localhost').split(',')[0]!.trim();
    return reply.type('text/xml; charset=utf-8').send(autodiscoverResponse(email, `${proto}://${host}`));
  };
  app.post('/autodiscover/autodiscover.xml', autodiscover);
  app.get('/autodiscover/autodiscover.xml', autodiscover);

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : String(err.code ?? '').startsWith('EAS_ERR_BAD') ? 400 : String(err.code ?? '').startsWith('SESS_ERR') ? 503 : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    void reply.code(status).send({ error: status >= 500 && status !== 503 ? 'internal error' : err.message, code: err.code });
  });
  return app;
}
