import { errorCodes, errorTable } from '@webtier/errors';

const table = errorTable('AssetsError', errorCodes('ASSETS_ERR', ['BAD_OPTION', 'NO_ROOT']));

/** Stable error codes of the asset server. Callers match on `err.code`. */
export const AssetsErrorCodes = table.codes;

export type AssetsErrorCode = (typeof AssetsErrorCodes)[keyof typeof AssetsErrorCodes];

/** Every error of the table; callers match on `err.code`. */
export class AssetsError extends table.Error {}
