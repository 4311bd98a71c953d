import { errorTable } from '@webtier/errors';

const table = errorTable('ActiveSyncError', {
  BAD_OPTION: 'EAS_ERR_BAD_OPTION',
  BAD_QUERY: 'EAS_ERR_BAD_QUERY',
  BAD_BODY: 'EAS_ERR_BAD_BODY',
});

/** Stable error codes of the ActiveSync app. Callers match on `err.code`. */
export const ActiveSyncErrorCodes = table.codes;

export type ActiveSyncErrorCode = (typeof ActiveSyncErrorCodes)[keyof typeof ActiveSyncErrorCodes];

/** Every error of the table; callers match on `err.code`. */
export class ActiveSyncError extends table.Error {}
