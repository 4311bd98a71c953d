import type { NextFunction, Request, Response } from 'express';
import type { Store } from 'express-session';
import type { DemoUsers, Mailbox } from '@webtier/demo-mail';
import { describeStore, type NodeLabels } from './SessionPlacement.js';
import type { PageContext } from './views/layout.js';
import type { Folder } from './views/pages.js';

/** What every route needs: this node's identity, the store, the users and the mail. */
export interface WebmailContext {
  node: string;
  store: Store;
  users: DemoUsers;
  mailbox: Mailbox;
  labels: NodeLabels;
  assetVersion: string;
}

export function pageContext(ctx: WebmailContext, req: Request): PageContext {
  const s = req.session;
  return {
    node: ctx.node,
    assetVersion: ctx.assetVersion,
    store: describeStore(ctx.store, s?.user ? req.sessionID : undefined, ctx.labels),
    user: s?.user,
    csrf: s?.csrf,
    theme: s?.settings?.theme ?? 'light',
  };
}

export async function folderCounts(ctx: WebmailContext, req: Request): Promise<Record<Folder, number>> {
  const s = req.session;
  const inbox = s.user ? await ctx.mailbox.inbox(s.user.user) : [];
  const d = s.draft;
  return { INBOX: inbox.filter((m) => m.unread).length, Drafts: d && (d.to || d.subject || d.body) ? 1 : 0, Sent: s.sent?.length ?? 0 };
}

function wantsJson(req: Request): boolean {
  return req.path.startsWith('/api/') || req.accepts(['html', 'json']) === 'json';
}

/**
 * A logged-out or session-less request answers "login required": 302 to /login for a browser,
 * 401 {"error":"login required"} for the API (the failover benchmark counts those as lost sessions).
 */
export function requireLogin(req: Request, res: Response, next: NextFunction): void {
  if (req.session?.user) return next();
  if (wantsJson(req)) {
    res.status(401).json({ error: 'login required' });
    return;
  }
  res.redirect(302, '/login?_err=session');
}

/**
 * Stores the session, then redirects. express-session writes the response head (and all but the last
 * byte of the body) before its end-of-request save has finished, because Node's header write cannot
 * wait for a store (expressjs/session#360, #704). A browser follows a 302 as soon as it has the head,
 * so the next page could read the session as it was before this request's change (a saved draft shown
 * empty until the next reload). Every redirect that follows a session change goes through here.
 * A store failure rejects (the error handler answers 503); nothing is redirected then.
 */
export async function redirectAfterSave(req: Request, res: Response, url: string): Promise<void> {
  await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err as Error) : resolve())));
  res.redirect(302, url);
}

export { wantsJson };
