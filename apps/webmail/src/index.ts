export { createWebmailApp, DEFAULT_WEBMAIL_APP_OPTIONS, SESSION_COOKIE } from './WebmailApp.js';
export type { WebmailAppOptions } from './WebmailApp.js';
export { describeStore, sessionNodes, storeHealth } from './SessionPlacement.js';
export type { NodeLabels, NodeView, StoreView } from './SessionPlacement.js';
// The flags and the error table live with the demo's mail data (@webtier/demo-mail), shared with ActiveSync.
export { parseWebmailArgs, WEBMAIL_USAGE, WebmailError, WebmailErrorCodes } from '@webtier/demo-mail';
export type { StoreBackend, WebmailCliOptions, WebmailErrorCode } from '@webtier/demo-mail';
export type { Draft, Settings } from './views/pages.js';
