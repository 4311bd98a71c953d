export { DemoUsers, DEMO_LOGINS, DEMO_USERS_FILE, hashPassword } from './DemoUsers.js';
export type { DemoUser } from './DemoUsers.js';
export { Mailbox, loadDemoMessages, DEMO_MESSAGES_FILE } from './Mailbox.js';
export type { MailMessage } from './Mailbox.js';
export { parseWebmailArgs, storeFor, WEBMAIL_USAGE } from './options.js';
export type { StoreBackend, WebmailCliOptions } from './options.js';
export { WebmailError, WebmailErrorCodes } from './errors.js';
export type { WebmailErrorCode } from './errors.js';
