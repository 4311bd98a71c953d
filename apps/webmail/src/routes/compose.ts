import type { Request, Response, Router } from 'express';
import { folderCounts, pageContext, redirectAfterSave, requireLogin, wantsJson, type WebmailContext } from '../context.js';
import { hasValidCsrfToken } from '../csrf.js';
import { EMPTY_DRAFT } from '../session.js';
import { composePage, errorPage, type Draft } from '../views/pages.js';

function field(body: Record<string, unknown>, name: string, max: number): string {
  const v = body[name];
  return typeof v === 'string' ? v.slice(0, max) : '';
}

function draftFrom(ctx: WebmailContext, body: Record<string, unknown>): Draft {
  return {
    to: field(body, '_to', 1000),
    cc: field(body, '_cc', 1000),
    subject: field(body, '_subject', 500),
    body: field(body, '_body', 100_000),
    savedAt: new Date().toISOString(),
    savedBy: ctx.node,
  };
}

function rejectToken(ctx: WebmailContext, req: Request, res: Response): void {
  if (wantsJson(req)) res.status(403).json({ error: 'invalid request token' });
  else res.status(403).type('html').send(errorPage(pageContext(ctx, req), 403, 'Forbidden', 'Invalid request token: the form was not sent from this session. Reload the page and try again.').value);
}

export function composeRoutes(ctx: WebmailContext, router: Router): void {
  router.get('/compose', requireLogin, async (req, res) => {
    const saved = req.query['_saved'] ? { kind: 'ok' as const, text: `Draft saved by ${req.session.draft?.savedBy ?? ctx.node}.` } : undefined;
    res.type('html').send(composePage(pageContext(ctx, req), req.session.draft ?? EMPTY_DRAFT, await folderCounts(ctx, req), saved).value);
  });

  // The client script's auto-save: the draft goes into the session, the answer is JSON.
  router.post('/compose/draft', requireLogin, (req, res) => {
    if (!hasValidCsrfToken(req)) return rejectToken(ctx, req, res);
    req.session.draft = draftFrom(ctx, (req.body ?? {}) as Record<string, unknown>);
    res.json({ saved: true, node: ctx.node, savedAt: req.session.draft.savedAt });
  });

  router.post('/compose', requireLogin, async (req, res) => {
    if (!hasValidCsrfToken(req)) return rejectToken(ctx, req, res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const draft = draftFrom(ctx, body);
    if (body['_action'] !== 'send') {
      req.session.draft = draft;
      await redirectAfterSave(req, res, '/compose?_saved=1');
      return;
    }
    const recipients = [draft.to, draft.cc].join(',').split(/[,;]/).map((r) => r.trim()).filter(Boolean);
    if (recipients.length === 0) {
      req.session.draft = draft;
      res.status(400).type('html').send(composePage(pageContext(ctx, req), draft, await folderCounts(ctx, req), { kind: 'error', text: 'Add at least one recipient.' }).value);
      return;
    }
    const s = req.session;
    const message = { from: `${s.settings?.displayName ?? s.user!.name} <${s.user!.email}>`, to: recipients.join(', '), subject: draft.subject, date: new Date().toISOString(), body: draft.body };
    // Recipients that are demo users get the message in their inbox (and their ActiveSync Ping wakes up).
    for (const r of recipients) {
      const user = ctx.users.byEmail(r.replace(/^.*<|>.*$/g, ''));
      if (user) await ctx.mailbox.deliver(user.user, message);
    }
    s.sent = [{ ...message, uid: `s${Date.now()}` }, ...(s.sent ?? [])].slice(0, 20);
    s.draft = { ...EMPTY_DRAFT };
    await redirectAfterSave(req, res, '/mail?_mbox=Sent&_sent=1');
  });
}
