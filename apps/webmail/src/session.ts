import type { Draft, Settings } from './views/pages.js';
import type { DemoUser, MailMessage } from '@webtier/demo-mail';

declare module 'express-session' {
  interface SessionData {
    /** The logged-in user; absent means "login required". */
    user: DemoUser;
    /** Per-session CSRF token (Roundcube's request token), checked on every state-changing POST. */
    csrf: string;
    loginAt: string;
    /** Node that handled the login. */
    loginNode: string;
    draft: Draft;
    settings: Settings;
    sent: MailMessage[];
    /** Incremented by /api/session-touch: proves reads and writes both reach the store. */
    touches: number;
  }
}

export const EMPTY_DRAFT: Draft = Object.freeze({ to: '', cc: '', subject: '', body: '' });

export function defaultSettings(user: DemoUser): Settings {
  return { displayName: user.name, pageSize: 25, theme: 'light', signature: `-- \n${user.name}` };
}
