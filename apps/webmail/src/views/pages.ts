import { html, type SafeHtml } from '../html.js';
import type { MailMessage } from '@webtier/demo-mail';
import { layout, type PageContext } from './layout.js';

export interface Draft {
  to: string;
  cc: string;
  subject: string;
  body: string;
  /** ISO time and node of the last save. */
  savedAt?: string;
  savedBy?: string;
}

export interface Settings {
  displayName: string;
  pageSize: number;
  theme: 'light' | 'dark';
  signature: string;
}

export type Folder = 'INBOX' | 'Drafts' | 'Sent';

function notice(kind: 'ok' | 'error', text: string | undefined): SafeHtml | string {
  return text ? html`<div class="notice ${kind}" id="notice">${text}</div>` : '';
}

export function folderList(current: Folder, counts: Record<Folder, number>): SafeHtml {
  const folder = (name: Folder, label: string) =>
    html`<a href="/mail?_mbox=${name}" class="${current === name ? 'selected' : ''}" id="folder-${name.toLowerCase()}">${label}<span class="count">${counts[name] || ''}</span></a>`;
  return html`${folder('INBOX', 'Inbox')}${folder('Drafts', 'Drafts')}${folder('Sent', 'Sent')}`;
}

export function loginPage(ctx: PageContext, message?: { kind: 'ok' | 'error'; text: string }, user = ''): SafeHtml {
  return layout(
    { ...ctx, task: 'login' },
    'Login',
    html`<form class="loginbox" method="post" action="/login" id="login-form">
  <img src="/skins/elastic/images/logo.svg?v=${encodeURIComponent(ctx.assetVersion)}" alt="">
  <h1>webtier webmail</h1>
  ${message ? notice(message.kind, message.text) : ''}
  <label for="rcmloginuser">Username</label>
  <input id="rcmloginuser" name="_user" autocomplete="username" value="${user}" required autofocus>
  <label for="rcmloginpwd">Password</label>
  <input id="rcmloginpwd" name="_pass" type="password" autocomplete="current-password" required>
  <button type="submit" id="rcmloginsubmit">Login</button>
  <p class="hint">Demo logins: alice / wonderland, bob / builder</p>
</form>`,
  );
}

export function mailboxPage(ctx: PageContext, folder: Folder, messages: MailMessage[], counts: Record<Folder, number>, info?: string): SafeHtml {
  const title = folder === 'INBOX' ? 'Inbox' : folder;
  const rows = messages.map(
    (m) => html`<tr class="${m.unread ? 'unread' : ''}"><td class="from">${folder === 'INBOX' ? m.from : (m.to ?? '')}</td><td class="subject"><a href="${folder === 'Drafts' ? '/compose' : `/mail/${encodeURIComponent(m.uid)}?_mbox=${folder}`}">${m.subject || '(no subject)'}</a></td><td class="date">${new Date(m.date).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' })}</td></tr>`,
  );
  return layout(
    { ...ctx, task: 'mail' },
    title,
    html`${notice('ok', info)}<h1>${title}</h1>
<table class="messagelist" id="messagelist"><tbody>${rows.length ? rows : html`<tr><td>This folder is empty.</td></tr>`}</tbody></table>`,
    folderList(folder, counts),
  );
}

export function messagePage(ctx: PageContext, folder: Folder, m: MailMessage, counts: Record<Folder, number>): SafeHtml {
  return layout(
    { ...ctx, task: 'mail' },
    m.subject,
    html`<div class="message" id="message"><div class="headers"><h1>${m.subject}</h1>
<div>From: ${m.from}</div>${m.to ? html`<div>To: ${m.to}</div>` : ''}<div>Date: ${m.date}</div></div>
<pre>${m.body}</pre></div>`,
    folderList(folder, counts),
  );
}

export function composePage(ctx: PageContext, draft: Draft, counts: Record<Folder, number>, message?: { kind: 'ok' | 'error'; text: string }): SafeHtml {
  return layout(
    { ...ctx, task: 'compose' },
    'Compose',
    html`${message ? notice(message.kind, message.text) : ''}<h1>Compose</h1>
<form class="box" method="post" action="/compose" id="compose">
  <input type="hidden" name="_token" value="${ctx.csrf ?? ''}">
  <label for="compose-to">To</label><input type="text" id="compose-to" name="_to" value="${draft.to}">
  <label for="compose-cc">Cc</label><input type="text" id="compose-cc" name="_cc" value="${draft.cc}">
  <label for="compose-subject">Subject</label><input type="text" id="compose-subject" name="_subject" value="${draft.subject}">
  <label for="compose-body">Message</label><textarea id="compose-body" name="_body">${draft.body}</textarea>
  <div class="buttons">
    <button type="submit" name="_action" value="send" id="compose-send">Send</button>
    <button type="submit" name="_action" value="save" class="secondary" id="compose-save">Save draft</button>
    <span class="autosave" id="draft-status">${draft.savedAt ? `Draft saved by ${draft.savedBy ?? '?'} at ${draft.savedAt}` : ''}</span>
  </div>
</form>`,
    folderList('Drafts', counts),
  );
}

export function settingsPage(ctx: PageContext, settings: Settings, counts: Record<Folder, number>, info?: string): SafeHtml {
  const option = (value: string | number, current: string | number, label: string) =>
    html`<option value="${value}"${value === current ? html` selected` : ''}>${label}</option>`;
  return layout(
    { ...ctx, task: 'settings' },
    'Settings',
    html`${notice('ok', info)}<h1>Settings</h1>
<form class="box" method="post" action="/settings" id="settings">
  <input type="hidden" name="_token" value="${ctx.csrf ?? ''}">
  <label for="settings-name">Display name</label><input type="text" id="settings-name" name="displayName" value="${settings.displayName}">
  <label for="settings-pagesize">Messages per page</label>
  <select id="settings-pagesize" name="pageSize">${[10, 25, 50].map((n) => option(n, settings.pageSize, String(n)))}</select>
  <label for="settings-theme">Theme</label>
  <select id="settings-theme" name="theme">${option('light', settings.theme, 'Light')}${option('dark', settings.theme, 'Dark')}</select>
  <label for="settings-signature">Signature</label><textarea id="settings-signature" name="signature">${settings.signature}</textarea>
  <div class="buttons"><button type="submit" id="settings-save">Save</button></div>
</form>`,
    folderList('INBOX', counts),
  );
}

export function errorPage(ctx: PageContext, status: number, title: string, text: string): SafeHtml {
  return layout({ ...ctx, task: 'login' }, title, html`<div class="loginbox"><h1>${status} ${title}</h1>${notice('error', text)}<p><a href="/mail">Back to the mailbox</a></p></div>`);
}
