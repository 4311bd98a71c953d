/** Stable error codes of the webmail app. Callers match on `err.code`. */
export const WebmailErrorCodes = {
  BAD_OPTION: 'WEBMAIL_ERR_BAD_OPTION',
  BAD_USERS_FILE: 'WEBMAIL_ERR_BAD_USERS_FILE',
  BAD_MESSAGES_FILE: 'WEBMAIL_ERR_BAD_MESSAGES_FILE',
} as const;

export type WebmailErrorCode = (typeof WebmailErrorCodes)[keyof typeof WebmailErrorCodes];

export class WebmailError extends Error {
  readonly code: WebmailErrorCode;
  constructor(code: WebmailErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebmailError';
    this.code = code;
  }
}
