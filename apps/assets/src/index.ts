export { createAssetServer, PUBLIC_DIR, DEFAULT_ASSET_SERVER_OPTIONS } from './AssetServer.js';
export type { AssetServerOptions } from './AssetServer.js';
export { cacheControlFor, isVersioned, VERSIONED_MAX_AGE_SECONDS } from './cachePolicy.js';
export { AssetsError, AssetsErrorCodes } from './errors.js';
export type { AssetsErrorCode } from './errors.js';
