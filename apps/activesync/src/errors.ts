import { errorCodes, errorTable } from '@webtier/errors';

const table = errorTable('ActiveSyncError', errorCodes('EAS_ERR', ['BAD_OPTION', 'BAD_QUERY', 'BAD_BODY']));

/** Stable error codes of the ActiveSync app. Callers match on `err.code`. */
export const ActiveSyncErrorCodes = table.codes;

export type ActiveSyncErrorCode = (typeof ActiveSyncErrorCodes)[keyof typeof ActiveSyncErrorCodes];

/** Every error of the table; callers match on `err.code`. */
export class ActiveSyncError extends table.Error {}
