/** Stable error codes of @webtier/testkit. */
export const TestkitErrorCodes = {
  NO_MEMCACHED: 'TESTKIT_ERR_NO_MEMCACHED',
  START_FAILED: 'TESTKIT_ERR_START_FAILED',
  BAD_STATE: 'TESTKIT_ERR_BAD_STATE',
} as const;

export type TestkitErrorCode = (typeof TestkitErrorCodes)[keyof typeof TestkitErrorCodes];

export class TestkitError extends Error {
  readonly code: TestkitErrorCode;
  constructor(code: TestkitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TestkitError';
    this.code = code;
  }
}
