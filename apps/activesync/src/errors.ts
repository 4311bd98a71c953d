/** Stable error codes of the ActiveSync app. Callers match on `err.code`. */
export const ActiveSyncErrorCodes = {
  BAD_OPTION: 'EAS_ERR_BAD_OPTION',
  BAD_QUERY: 'EAS_ERR_BAD_QUERY',
  BAD_BODY: 'EAS_ERR_BAD_BODY',
} as const;

export type ActiveSyncErrorCode = (typeof ActiveSyncErrorCodes)[keyof typeof ActiveSyncErrorCodes];

export class ActiveSyncError extends Error {
  readonly code: ActiveSyncErrorCode;
  constructor(code: ActiveSyncErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ActiveSyncError';
    this.code = code;
  }
}
