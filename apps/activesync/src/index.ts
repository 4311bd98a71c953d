export { createActiveSyncApp, DEFAULT_ACTIVESYNC_APP_OPTIONS, PROTOCOL_COMMANDS, PROTOCOL_VERSIONS } from './ActiveSyncApp.js';
export type { ActiveSyncAppOptions } from './ActiveSyncApp.js';
export { parseActiveSyncQuery, decodeBase64Query, encodeBase64Query, COMMAND_CODES } from './query.js';
export type { ActiveSyncQuery } from './query.js';
export { DeviceStates } from './DeviceState.js';
export type { DeviceState } from './DeviceState.js';
export { BasicAuth } from './BasicAuth.js';
export { ActiveSyncError, ActiveSyncErrorCodes } from './errors.js';
export type { ActiveSyncErrorCode } from './errors.js';
