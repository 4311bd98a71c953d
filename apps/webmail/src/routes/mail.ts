import type { Router } from 'express';
import { folderCounts, pageContext, requireLogin, type WebmailContext } from '../context.js';
import { errorPage, mailboxPage, messagePage, type Folder } from '../views/pages.js';
import type { MailMessage } from '@webtier/demo-mail';

const FOLDERS: readonly Folder[] = ['INBOX', 'Drafts', 'Sent'];

export function mailRoutes(ctx: WebmailContext, router: Router): void {
  router.get('/', (req, res) => res.redirect(302, req.session.user ? '/mail' : '/login'));

  router.get('/mail', requireLogin, async (req, res) => {
    const s = req.session;
    const folder = (FOLDERS as readonly string[]).includes(String(req.query['_mbox'])) ? (req.query['_mbox'] as Folder) : 'INBOX';
    let messages: MailMessage[];
    if (folder === 'INBOX') messages = await ctx.mailbox.inbox(s.user!.user);
    else if (folder === 'Sent') messages = s.sent ?? [];
    else {
      const d = s.draft;
      messages = d && (d.to || d.subject || d.body) ? [{ uid: 'draft', from: s.user!.email, to: d.to, subject: d.subject, date: d.savedAt ?? new Date().toISOString(), body: d.body }] : [];
    }
    const limit = s.settings?.pageSize ?? 25;
    const info = req.query['_sent'] ? 'Message sent successfully.' : undefined;
    res.type('html').send(mailboxPage(pageContext(ctx, req), folder, messages.slice(0, limit), await folderCounts(ctx, req), info).value);
  });

  router.get('/mail/:uid', requireLogin, async (req, res) => {
    const s = req.session;
    const uid = String(req.params['uid']);
    const folder: Folder = req.query['_mbox'] === 'Sent' ? 'Sent' : 'INBOX';
    const message = folder === 'Sent' ? s.sent?.find((m) => m.uid === uid) : await ctx.mailbox.find(s.user!.user, uid);
    if (!message) {
      res.status(404).type('html').send(errorPage(pageContext(ctx, req), 404, 'Not found', `There is no message ${uid} in ${folder}.`).value);
      return;
    }
    res.type('html').send(messagePage(pageContext(ctx, req), folder, message, await folderCounts(ctx, req)).value);
  });
}
