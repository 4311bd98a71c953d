import { html, type SafeHtml } from '../html.js';
import type { StoreView } from '../SessionPlacement.js';

export interface PageContext {
  /** This webmail node's name. */
  node: string;
  /** Appended to /skins and /program/js URLs as ?v=, so the asset nodes may cache them for a week. */
  assetVersion: string;
  store: StoreView;
  user?: { user: string; name: string; email: string } | undefined;
  /** Current task, highlighted in the top bar. */
  task?: 'mail' | 'compose' | 'settings' | 'login';
  theme?: string;
  csrf?: string | undefined;
}

function nodeInfo(ctx: PageContext): SafeHtml {
  const holds = new Set(ctx.store.sessionNodes.map((n) => n.address));
  return html`<footer class="nodeinfo" id="nodeinfo" data-node="${ctx.node}" data-session-nodes="${ctx.store.sessionNodes.map((n) => n.address).join(',')}">
  <span>Served by <strong class="served-by">${ctx.node}</strong></span>
  <span>Session on ${ctx.store.sessionNodes.length > 0
    ? ctx.store.sessionNodes.map((n) => html`<strong class="session-node${n.state === 'up' ? '' : ' down'}" title="${n.address} (${n.state})">${n.name}</strong> `)
    : html`<em>no session yet</em>`}</span>
  <span>memcached: ${ctx.store.nodes.map((n) => html`<span class="badge ${n.state}${holds.has(n.address) ? ' holds' : ''}" title="${n.address}">${n.name} ${n.state}</span>`)}</span>
</footer>`;
}

/** The page frame: top bar with tasks, folder list slot, content, and the node-info footer. */
export function layout(ctx: PageContext, title: string, content: SafeHtml, aside?: SafeHtml): SafeHtml {
  const v = encodeURIComponent(ctx.assetVersion);
  const tab = (task: string, href: string, label: string) => html`<a href="${href}" class="${ctx.task === task ? 'selected' : ''}">${label}</a>`;
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} :: webtier webmail</title>
<link rel="icon" href="/skins/elastic/images/favicon.svg?v=${v}">
<link rel="stylesheet" href="/skins/elastic/styles/styles.css?v=${v}">
<script src="/program/js/app.js?v=${v}" defer></script>
</head>
<body class="${ctx.task === 'login' ? 'login' : 'task-' + (ctx.task ?? 'mail')}${ctx.theme === 'dark' ? ' dark' : ''}">
${ctx.task === 'login'
  ? content
  : html`<header class="topbar">
  <a class="logo" href="/mail"><img src="/skins/elastic/images/logo.svg?v=${v}" alt="">webtier webmail</a>
  <nav>${tab('mail', '/mail', 'Mail')}${tab('compose', '/compose', 'Compose')}${tab('settings', '/settings', 'Settings')}</nav>
  <span class="user">${ctx.user?.email}<a href="/logout?_token=${ctx.csrf ?? ''}" id="logout">Log out</a></span>
</header>
<main class="layout">
<aside class="folders">${aside ?? ''}</aside>
<section class="content">${content}</section>
</main>`}
${nodeInfo(ctx)}
</body>
</html>`;
}
