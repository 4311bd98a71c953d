import express, { type Request, type Response, type Router } from 'express';
import { pageContext, wantsJson, type WebmailContext } from '../context.js';
import { hasValidCsrfToken, newCsrfToken } from '../csrf.js';
import type { DemoUser } from '@webtier/demo-mail';
import { defaultSettings, EMPTY_DRAFT } from '../session.js';
import { loginPage } from '../views/pages.js';

/** Starts a fresh session for `user` (a new id: no session fixation) and saves it before answering. */
function startSession(ctx: WebmailContext, req: Request, user: DemoUser): Promise<void> {
  return new Promise((resolve, reject) => {
    req.session.regenerate((err) => {
      if (err) return reject(err);
      Object.assign(req.session, {
        user,
        csrf: newCsrfToken(),
        loginAt: new Date().toISOString(),
        loginNode: ctx.node,
        draft: { ...EMPTY_DRAFT },
        settings: defaultSettings(user),
        sent: [],
        touches: 0,
      });
      req.session.save((e) => (e ? reject(e) : resolve()));
    });
  });
}

function endSession(req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    req.session.destroy((err) => {
      if (err) return reject(err);
      res.clearCookie('roundcube_sessid', { path: '/' });
      resolve();
    });
  });
}

const MESSAGES: Record<string, { kind: 'ok' | 'error'; text: string }> = {
  session: { kind: 'error', text: 'Login required: your session is invalid or has expired.' },
  loggedout: { kind: 'ok', text: 'You have been logged out.' },
};

export function authRoutes(ctx: WebmailContext, router: Router): void {
  router.get('/login', (req, res) => {
    if (req.session.user) return res.redirect(302, '/mail');
    const key = String(req.query['_err'] ?? req.query['_msg'] ?? '');
    res.type('html').send(loginPage(pageContext(ctx, req), MESSAGES[key]).value);
  });

  router.post('/login', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const name = typeof body['_user'] === 'string' ? body['_user'].trim() : '';
    const password = typeof body['_pass'] === 'string' ? body['_pass'] : '';
    const user = name && password ? await ctx.users.verify(name, password) : undefined;
    if (!user) {
      res.status(401).type('html').send(loginPage(pageContext(ctx, req), { kind: 'error', text: 'Login failed: wrong username or password.' }, name).value);
      return;
    }
    await startSession(ctx, req, user);
    res.redirect(302, '/mail');
  });

  router.post('/api/login', express.json(), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body['user'] !== 'string' || typeof body['password'] !== 'string') {
      res.status(400).json({ error: 'expected a JSON body {"user": "...", "password": "..."}' });
      return;
    }
    const user = await ctx.users.verify(body['user'], body['password']);
    if (!user) {
      res.status(401).json({ error: 'invalid credentials' });
      return;
    }
    await startSession(ctx, req, user);
    res.json({ user: user.user, node: ctx.node, csrf: req.session.csrf });
  });

  const logout = async (req: Request, res: Response) => {
    if (!req.session.user) {
      if (wantsJson(req)) res.status(401).json({ error: 'login required' });
      else res.redirect(302, '/login');
      return;
    }
    if (!hasValidCsrfToken(req)) {
      res.status(403).json({ error: 'invalid request token' });
      return;
    }
    await endSession(req, res);
    if (wantsJson(req)) res.json({ loggedOut: true, node: ctx.node });
    else res.redirect(302, '/login?_msg=loggedout');
  };
  router.get('/logout', logout);
  router.post('/logout', logout);
  router.post('/api/logout', express.json(), logout);
}
