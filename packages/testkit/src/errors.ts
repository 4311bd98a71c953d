import { errorCodes, errorTable } from '@webtier/errors';

const table = errorTable('TestkitError', errorCodes('TESTKIT_ERR', ['NO_MEMCACHED', 'START_FAILED', 'BAD_STATE']));

/** Stable error codes of @webtier/testkit. */
export const TestkitErrorCodes = table.codes;

export type TestkitErrorCode = (typeof TestkitErrorCodes)[keyof typeof TestkitErrorCodes];

/** Every error of the table; callers match on `err.code`. */
export class TestkitError extends table.Error {}
