import express, { type Request, type Response, type Router } from 'express';
import { requireLogin, type WebmailContext } from '../context.js';
import { describeStore } from '../SessionPlacement.js';

export function apiRoutes(ctx: WebmailContext, router: Router): void {
  // For the failover benchmark: one read and one write of the session per request.
  const touch = (req: Request, res: Response) => {
    const s = req.session;
    s.touches = (s.touches ?? 0) + 1;
    res.json({ user: s.user!.user, touches: s.touches, node: ctx.node, sessionNodes: describeStore(ctx.store, req.sessionID, ctx.labels).sessionNodes.map((n) => n.name) });
  };
  router.get('/api/session-touch', requireLogin, touch);
  router.post('/api/session-touch', express.json(), requireLogin, touch);

  // What the session holds, for tests and curious people: user, CSRF token, draft, settings, placement.
  router.get('/api/session', requireLogin, (req, res) => {
    const s = req.session;
    const view = describeStore(ctx.store, req.sessionID, ctx.labels);
    res.json({ user: s.user, node: ctx.node, loginNode: s.loginNode, csrf: s.csrf, draft: s.draft, settings: s.settings, sent: s.sent?.length ?? 0, touches: s.touches ?? 0, sessionNodes: view.sessionNodes, nodes: view.nodes });
  });
}
