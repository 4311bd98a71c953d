import { errorCodes, errorTable } from '@webtier/errors';

const table = errorTable('DemoError', errorCodes('DEMO_ERR', ['BAD_TOPOLOGY', 'BAD_ARGS', 'NO_MEMCACHED', 'NO_OPENSSL', 'NOT_BUILT', 'START_FAILED', 'PORT_TAKEN', 'UNKNOWN_NODE', 'BAD_STATE', 'NOT_RUNNING', 'ALREADY_RUNNING']));

/** Stable error codes of the demo launcher. Callers match on `err.code`. */
export const DemoErrorCodes = table.codes;

export type DemoErrorCode = (typeof DemoErrorCodes)[keyof typeof DemoErrorCodes];

/** Every error of the table; callers match on `err.code`. */
export class DemoError extends table.Error {}
