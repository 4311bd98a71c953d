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

export { wantsJson };
