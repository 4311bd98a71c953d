import { errorTable, type CodedErrorOptions } from '@webtier/errors';

const table = errorTable('SessionStoreError', {
  /** An option is missing, of the wrong type or out of range (thrown by the constructor). */
  BAD_OPTION: 'SESS_ERR_BAD_OPTION',
  /** The serialized session does not fit in a memcached item; nothing was written. */
  TOO_LARGE: 'SESS_ERR_TOO_LARGE',
  /** No replica accepted a write (set/destroy/touch); the message names every node and its cause. */
  NO_REPLICA: 'SESS_ERR_NO_REPLICA',
  /** No replica could be read (every node of the key failed or is ejected). */
  UNAVAILABLE: 'SESS_ERR_UNAVAILABLE',
  /** One memcached operation did not answer within `opTimeoutMs`. */
  TIMEOUT: 'SESS_ERR_TIMEOUT',
  /** The node is ejected after consecutive failures; it is not asked until a probe succeeds. */
  NODE_EJECTED: 'SESS_ERR_NODE_EJECTED',
  /** memcached answered with an error status. */
  SERVER: 'SESS_ERR_SERVER',
  /** The session could not be serialized (e.g. a circular structure). */
  SERIALIZE: 'SESS_ERR_SERIALIZE',
  /**
   * A session the store would refuse to read back: nested deeper than 64 levels, a `__proto__`,
   * `constructor` or `prototype` key at any depth, or a missing or malformed `cookie`. The message
   * names the path of the bad value; nothing was written.
   */
  BAD_SESSION: 'SESS_ERR_BAD_SESSION',
  /**
   * A session id that cannot be a memcached key (empty, over 250 bytes with the prefix, with spaces or
   * control characters, or not well-formed UTF-16: a lone surrogate would be stored as U+FFFD and
   * collide with another id).
   */
  BAD_ID: 'SESS_ERR_BAD_ID',
  /**
   * A merged write (concurrentWrites: 'merge') kept meeting newer writes of the same session and gave
   * up after `mergeMaxAttempts` rather than overwrite them; nothing of this write may have been kept.
   */
  CONFLICT: 'SESS_ERR_CONFLICT',
  /** `store.resync(node)` named a node that is not in `servers`/`pairs`. */
  UNKNOWN_NODE: 'SESS_ERR_UNKNOWN_NODE',
  /** The store was closed; create a new one. */
  CLOSED: 'SESS_ERR_CLOSED',
  /** `all`/`length`/`clear`/`ids`/`resync` could not list keys (`lru_crawler metadump` failed). */
  METADUMP: 'SESS_ERR_METADUMP',
});

/** Stable error codes of @webtier/session-store. Match on `err.code`, not on `instanceof`. */
export const SessionStoreErrorCodes = table.codes;

export type SessionStoreErrorCode = (typeof SessionStoreErrorCodes)[keyof typeof SessionStoreErrorCodes];

/** Every error the store produces; `message` names the bad value or failing node and what to do. */
export class SessionStoreError extends table.Error {
  /** Extra machine-readable facts, e.g. `{ sizeBytes, limitBytes }` for SESS_ERR_TOO_LARGE. */
  readonly details: Readonly<Record<string, unknown>>;
  constructor(code: SessionStoreErrorCode, message: string, options?: CodedErrorOptions & { details?: Record<string, unknown> }) {
    super(code, message, options);
    this.details = Object.freeze({ ...(options?.details ?? {}) });
  }
}
