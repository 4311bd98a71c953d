import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import session, { type Store } from 'express-session';
import { SessionStoreError, SessionStoreErrorCodes } from '@webtier/session-store';
import type { Registry } from 'prom-client';
import { pageContext, wantsJson, type WebmailContext } from './context.js';
import { DemoUsers, Mailbox, loadDemoMessages, WebmailError, WebmailErrorCodes, type MailMessage } from '@webtier/demo-mail';
import { apiRoutes } from './routes/api.js';
import { authRoutes } from './routes/auth.js';
import { composeRoutes } from './routes/compose.js';
import { mailRoutes } from './routes/mail.js';
import { settingsRoutes } from './routes/settings.js';
import type { NodeLabels } from './SessionPlacement.js';
import { errorPage } from './views/pages.js';
import './session.js';

/** The session cookie, named like Roundcube's. */
export const SESSION_COOKIE = 'roundcube_sessid';

export interface WebmailAppOptions {
  /** The session store: a ReplicatedMemcachedStore in the demo. Required. */
  store: Store;
  /** This node's name, shown on every page and in /healthz. @default 'webmail' */
  node?: string;
  /** Secret(s) signing the session cookie; every webmail node of a cluster needs the same. Required. */
  sessionSecret: string | string[];
  /** The demo accounts. @default DemoUsers.load() (@webtier/demo-mail's data/users.json) */
  users?: DemoUsers;
  /** The demo inbox. @default loadDemoMessages() (data/messages.json) */
  messages?: MailMessage[];
  /** Names for memcached addresses, e.g. { '127.0.0.1:40001': 'memcached-1' }. @default {} */
  labels?: NodeLabels;
  /** Session lifetime (cookie maxAge, and so the TTL in memcached). @default 86400000 (a day) */
  sessionMaxAgeMs?: number;
  /** ?v= of asset URLs. @default this package's version */
  assetVersion?: string;
  /**
   * A prom-client registry served on `/metrics` (the CLI fills it with the session store's metrics
   * through `collectStoreMetrics`). @default none: no /metrics route
   */
  metrics?: Registry;
}

export const DEFAULT_WEBMAIL_APP_OPTIONS = {
  node: 'webmail',
  sessionMaxAgeMs: 24 * 3600 * 1000,
  labels: {},
} as const;

function packageVersion(): string {
  return (JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@webtier/app-webmail/package.json'), 'utf8')) as { version: string }).version;
}

/** The Roundcube-style webmail as an express 5 app; sessions live in `options.store`. */
export function createWebmailApp(options: WebmailAppOptions): Express {
  if (!options?.store || typeof options.store.get !== 'function') {
    throw new WebmailError(WebmailErrorCodes.BAD_OPTION, 'store: an express-session Store is required (e.g. new ReplicatedMemcachedStore({ servers }))');
  }
  const secrets = Array.isArray(options.sessionSecret) ? options.sessionSecret : [options.sessionSecret];
  if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s.length < 8)) {
    throw new WebmailError(WebmailErrorCodes.BAD_OPTION, 'sessionSecret: give one or more strings of at least 8 characters (the same on every webmail node)');
  }
  const maxAge = options.sessionMaxAgeMs ?? DEFAULT_WEBMAIL_APP_OPTIONS.sessionMaxAgeMs;
  if (!Number.isInteger(maxAge) || maxAge < 1000) {
    throw new WebmailError(WebmailErrorCodes.BAD_OPTION, `sessionMaxAgeMs: ${JSON.stringify(maxAge)} must be an integer >= 1000`);
  }
  const ctx: WebmailContext = {
    node: options.node ?? DEFAULT_WEBMAIL_APP_OPTIONS.node,
    store: options.store,
    users: options.users ?? DemoUsers.load(),
    mailbox: new Mailbox(options.store, options.messages ?? loadDemoMessages()),
    labels: options.labels ?? DEFAULT_WEBMAIL_APP_OPTIONS.labels,
    assetVersion: options.assetVersion ?? packageVersion(),
  };

  const app = express();
  app.disable('x-powered-by');
  // Behind the gateway on loopback: trust its X-Forwarded-* for req.ip / req.protocol.
  app.set('trust proxy', 'loopback');
  app.use((_req, res, next) => {
    res.set('x-served-by', ctx.node);
    next();
  });
  // Answered before any session work: the gateway's health checks must not touch memcached.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', name: ctx.node });
  });
  const metrics = options.metrics;
  if (metrics) {
    // Before the session middleware too: a scrape must not create or touch a session.
    app.get('/metrics', (_req, res, next) => {
      metrics.metrics().then((text) => res.type(metrics.contentType).send(text), next);
    });
  }
  app.use(
    session({
      store: options.store,
      secret: secrets,
      name: SESSION_COOKIE,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', maxAge, path: '/' },
    }),
  );
  // While every memcached node is out of reach the store has emitted 'disconnect', and express-session
  // then hands requests on with no session at all: every user would look logged out (302 to /login,
  // 401). The sessions are not gone, the store is unreachable: answer 503 and let the user retry.
  app.use((req, _res, next) => {
    if (req.session) return next();
    next(new SessionStoreError(SessionStoreErrorCodes.UNAVAILABLE, 'no session store node is reachable (express-session runs without sessions while its store is disconnected); nothing was changed'));
  });
  app.use(express.urlencoded({ extended: false, limit: '1mb' }));
  app.use((_req, res, next) => {
    res.set('cache-control', 'no-store');
    next();
  });
  const router = express.Router();
  apiRoutes(ctx, router);
  authRoutes(ctx, router);
  mailRoutes(ctx, router);
  composeRoutes(ctx, router);
  settingsRoutes(ctx, router);
  app.use(router);
  app.use((req: Request, res: Response) => {
    if (wantsJson(req)) res.status(404).json({ error: 'not found' });
    else res.status(404).type('html').send(errorPage(pageContext(ctx, req), 404, 'Not found', `Nothing at ${req.path}.`).value);
  });
  app.use((err: Error & { code?: string; status?: number }, req: Request, res: Response, _next: NextFunction) => {
    // A store failure (no replica reachable) is a 503 the user can retry, not a crash.
    const status = err.status && err.status < 500 ? err.status : String(err.code ?? '').startsWith('SESS_ERR') ? 503 : 500;
    if (status >= 500) console.error(`[${ctx.node}] ${req.method} ${req.originalUrl}: ${err.code ? `[${err.code}] ` : ''}${err.message}`);
    const text = status === 503 ? 'The session store is unavailable. Please retry in a moment.' : status >= 500 ? 'Internal error.' : err.message;
    if (res.headersSent) return;
    if (wantsJson(req)) res.status(status).json({ error: text, code: err.code });
    else res.status(status).type('html').send(errorPage({ ...pageContext(ctx, req), user: undefined }, status, status === 503 ? 'Service unavailable' : 'Error', text).value);
  });
  return app;
}
