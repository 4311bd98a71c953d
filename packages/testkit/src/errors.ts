import { errorTable } from '@webtier/errors';

const table = errorTable('TestkitError', {
  NO_MEMCACHED: 'TESTKIT_ERR_NO_MEMCACHED',
  START_FAILED: 'TESTKIT_ERR_START_FAILED',
  BAD_STATE: 'TESTKIT_ERR_BAD_STATE',
});

/** Stable error codes of @webtier/testkit. */
export const TestkitErrorCodes = table.codes;

export type TestkitErrorCode = (typeof TestkitErrorCodes)[keyof typeof TestkitErrorCodes];

/** Every error of the table; callers match on `err.code`. */
export class TestkitError extends table.Error {}
