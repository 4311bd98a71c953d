import { errorTable } from '@webtier/errors';

const table = errorTable('RingError', {
  /** The node list is empty. */
  EMPTY: 'RING_ERR_EMPTY',
  /** A node is not a "host:port" string or { host, port, weight } object, or its host is unusable. */
  BAD_NODE: 'RING_ERR_BAD_NODE',
  /** A port is not an integer from 1 to 65535. */
  BAD_PORT: 'RING_ERR_BAD_PORT',
  /** A weight is not an integer from 1 to 2^32-1. */
  BAD_WEIGHT: 'RING_ERR_BAD_WEIGHT',
  /** The same host:port is listed twice. */
  DUPLICATE_NODE: 'RING_ERR_DUPLICATE_NODE',
  /** `nodesFor`'s n is not an integer >= 1. */
  BAD_COUNT: 'RING_ERR_BAD_COUNT',
  /** A key is not a string. */
  BAD_KEY: 'RING_ERR_BAD_KEY',
  /** An option has the wrong type (e.g. `skip` is not a function). */
  BAD_OPTION: 'RING_ERR_BAD_OPTION',
});

/** Stable error codes of @webtier/hash-ring. Match on `err.code`, not on `instanceof`. */
export const RingErrorCodes = table.codes;

export type RingErrorCode = (typeof RingErrorCodes)[keyof typeof RingErrorCodes];

/** Thrown for bad input to the ring; `message` names the bad value and what to do. */
export class RingError extends table.Error {}
