import { errorCodes, errorTable } from '@webtier/errors';

const table = errorTable('LabError', errorCodes('LAB_ERR', ['NOT_ROOT', 'MISSING_TOOL', 'BAD_ARGS', 'UNKNOWN_HOST', 'ALREADY_UP', 'NOT_UP', 'COMMAND_FAILED', 'START_FAILED', 'BAD_STATE', 'NOT_BUILT']));

/** Stable error codes of the lab. Callers match on `err.code`. */
export const LabErrorCodes = table.codes;

export type LabErrorCode = (typeof LabErrorCodes)[keyof typeof LabErrorCodes];

/** Every error of the table; callers match on `err.code`. */
export class LabError extends table.Error {}
