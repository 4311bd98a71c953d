import { errorTable } from '@webtier/errors';

const table = errorTable('LabError', {
  NOT_ROOT: 'LAB_ERR_NOT_ROOT',
  MISSING_TOOL: 'LAB_ERR_MISSING_TOOL',
  BAD_ARGS: 'LAB_ERR_BAD_ARGS',
  UNKNOWN_HOST: 'LAB_ERR_UNKNOWN_HOST',
  ALREADY_UP: 'LAB_ERR_ALREADY_UP',
  NOT_UP: 'LAB_ERR_NOT_UP',
  COMMAND_FAILED: 'LAB_ERR_COMMAND_FAILED',
  START_FAILED: 'LAB_ERR_START_FAILED',
  BAD_STATE: 'LAB_ERR_BAD_STATE',
  NOT_BUILT: 'LAB_ERR_NOT_BUILT',
});

/** Stable error codes of the lab. Callers match on `err.code`. */
export const LabErrorCodes = table.codes;

export type LabErrorCode = (typeof LabErrorCodes)[keyof typeof LabErrorCodes];

/** Every error of the table; callers match on `err.code`. */
export class LabError extends table.Error {}
