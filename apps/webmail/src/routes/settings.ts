import type { Router } from 'express';
import { folderCounts, pageContext, redirectAfterSave, requireLogin, type WebmailContext } from '../context.js';
import { hasValidCsrfToken } from '../csrf.js';
import { defaultSettings } from '../session.js';
import { errorPage, settingsPage } from '../views/pages.js';

export function settingsRoutes(ctx: WebmailContext, router: Router): void {
  router.get('/settings', requireLogin, async (req, res) => {
    const s = req.session;
    res.type('html').send(settingsPage(pageContext(ctx, req), s.settings ?? defaultSettings(s.user!), await folderCounts(ctx, req), req.query['_saved'] ? 'Settings saved.' : undefined).value);
  });

  router.post('/settings', requireLogin, async (req, res) => {
    if (!hasValidCsrfToken(req)) {
      res.status(403).type('html').send(errorPage(pageContext(ctx, req), 403, 'Forbidden', 'Invalid request token. Reload the page and try again.').value);
      return;
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const current = req.session.settings ?? defaultSettings(req.session.user!);
    const pageSize = Number(body['pageSize']);
    req.session.settings = {
      displayName: typeof body['displayName'] === 'string' ? body['displayName'].slice(0, 200) : current.displayName,
      pageSize: [10, 25, 50].includes(pageSize) ? pageSize : current.pageSize,
      theme: body['theme'] === 'dark' ? 'dark' : 'light',
      signature: typeof body['signature'] === 'string' ? body['signature'].slice(0, 2000) : current.signature,
    };
    await redirectAfterSave(req, res, '/settings?_saved=1');
  });
}
