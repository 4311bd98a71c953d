/** Stable error codes of @webtier/hash-ring. Match on `err.code`, not on `instanceof`. */
export const RingErrorCodes = {
  EMPTY: 'RING_ERR_EMPTY',
  BAD_NODE: 'RING_ERR_BAD_NODE',
  BAD_PORT: 'RING_ERR_BAD_PORT',
  BAD_WEIGHT: 'RING_ERR_BAD_WEIGHT',
  DUPLICATE_NODE: 'RING_ERR_DUPLICATE_NODE',
  BAD_COUNT: 'RING_ERR_BAD_COUNT',
  BAD_KEY: 'RING_ERR_BAD_KEY',
} as const;

export type RingErrorCode = (typeof RingErrorCodes)[keyof typeof RingErrorCodes];

/** Thrown for bad input to the ring; `message` names the bad value and what to do. */
export class RingError extends Error {
  readonly code: RingErrorCode;
  constructor(code: RingErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RingError';
    this.code = code;
  }
}
