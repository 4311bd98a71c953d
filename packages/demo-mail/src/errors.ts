import { errorCodes, errorTable } from '@webtier/errors';

const table = errorTable('WebmailError', errorCodes('WEBMAIL_ERR', ['BAD_OPTION', 'BAD_USERS_FILE', 'BAD_MESSAGES_FILE']));

/**
 * Stable error codes of the demo's mail nodes (webmail and ActiveSync): a bad flag, users file or
 * messages file. Callers match on `err.code`; the codes kept the WEBMAIL_ prefix they were published with.
 */
export const WebmailErrorCodes = table.codes;

export type WebmailErrorCode = (typeof WebmailErrorCodes)[keyof typeof WebmailErrorCodes];

/** Every error of the table; callers match on `err.code`. */
export class WebmailError extends table.Error {}
