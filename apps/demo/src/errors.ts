import { errorTable } from '@webtier/errors';

const table = errorTable('DemoError', {
  BAD_TOPOLOGY: 'DEMO_ERR_BAD_TOPOLOGY',
  BAD_ARGS: 'DEMO_ERR_BAD_ARGS',
  NO_MEMCACHED: 'DEMO_ERR_NO_MEMCACHED',
  NO_OPENSSL: 'DEMO_ERR_NO_OPENSSL',
  NOT_BUILT: 'DEMO_ERR_NOT_BUILT',
  START_FAILED: 'DEMO_ERR_START_FAILED',
  PORT_TAKEN: 'DEMO_ERR_PORT_TAKEN',
  UNKNOWN_NODE: 'DEMO_ERR_UNKNOWN_NODE',
  BAD_STATE: 'DEMO_ERR_BAD_STATE',
  NOT_RUNNING: 'DEMO_ERR_NOT_RUNNING',
  ALREADY_RUNNING: 'DEMO_ERR_ALREADY_RUNNING',
});

/** Stable error codes of the demo launcher. Callers match on `err.code`. */
export const DemoErrorCodes = table.codes;

export type DemoErrorCode = (typeof DemoErrorCodes)[keyof typeof DemoErrorCodes];

/** Every error of the table; callers match on `err.code`. */
export class DemoError extends table.Error {}
