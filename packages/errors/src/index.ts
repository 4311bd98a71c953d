export { errorCodes, errorTable } from './errorTable.js';
export type { CodedError, CodedErrorClass, CodedErrorOptions, ErrorCodeOf, ErrorCodes, ErrorTable, ErrorTableOf } from './errorTable.js';
