/** Stable error codes of the asset server. Callers match on `err.code`. */
export const AssetsErrorCodes = {
  BAD_OPTION: 'ASSETS_ERR_BAD_OPTION',
  NO_ROOT: 'ASSETS_ERR_NO_ROOT',
} as const;

export type AssetsErrorCode = (typeof AssetsErrorCodes)[keyof typeof AssetsErrorCodes];

export class AssetsError extends Error {
  readonly code: AssetsErrorCode;
  constructor(code: AssetsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AssetsError';
    this.code = code;
  }
}
