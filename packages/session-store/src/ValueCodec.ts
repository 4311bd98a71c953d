import type { Sealer } from './Encryption.js';
import { sessionProblem } from './SessionShape.js';
import { CorruptValueError, decodeHeader, encodeHeader, parseSessionJson, type HybridClock, type StoredValue, type ValueHeader, type ValueKind, type Version } from './Versioned.js';

const EMPTY = Buffer.alloc(0);

/**
 * Turns sessions into stored values and back, trusting nothing it reads: the header must be in
 * range (no version further ahead than `maxClockSkewMs`), the value sealed when encryption is on,
 * the body authentic, parseable and of an acceptable shape. Anything else is a CorruptValueError.
 */
export class ValueCodec {
  readonly #sealer: Sealer | undefined;
  readonly #clock: HybridClock;
  readonly #maxValueBytes: number;

  /** `maxValueBytes`: larger values are corrupt (this store never writes them: itemSizeLimitBytes). */
  constructor(sealer: Sealer | undefined, clock: HybridClock, maxValueBytes = Number.MAX_SAFE_INTEGER) {
    this.#sealer = sealer;
    this.#clock = clock;
    this.#maxValueBytes = maxValueBytes;
  }

  /** Key id new values are sealed with; undefined when encryption is off. */
  get primaryKeyId(): string | undefined {
    return this.#sealer?.primaryId;
  }

  /** A stored value; `json` is the session, undefined for a tombstone. */
  encode(kind: ValueKind, version: Version, expiresAt: number, json?: string): Buffer {
    const header = encodeHeader(kind, version, expiresAt, this.#sealer?.primaryId);
    const body = json === undefined ? EMPTY : Buffer.from(json, 'utf8');
    if (this.#sealer) return this.#sealer.seal(header, body);
    return body.length === 0 ? header : Buffer.concat([header, body]);
  }

  /** The header, checked against this store's policy (cheap: no decryption, no JSON). */
  header(buf: Buffer): ValueHeader {
    if (buf.length > this.#maxValueBytes) throw new CorruptValueError('format', `value of ${buf.length} bytes is larger than itemSizeLimitBytes (${this.#maxValueBytes}); this store never writes one`);
    const h = decodeHeader(buf);
    if (this.#sealer && h.keyId === undefined) throw new CorruptValueError('plain', 'value is not sealed, but encryption is on (forged, or written before encryption was enabled)');
    if (!this.#sealer && h.keyId !== undefined) throw new CorruptValueError('unknown-key', `value is sealed with key "${h.keyId}", but this store has no encryption option`);
    if (!this.#clock.acceptable(h.version)) {
      throw new CorruptValueError('clock-skew', `version ${new Date(Math.min(h.version.ms, 8.64e15)).toISOString()} is further ahead of this clock than maxClockSkewMs`);
    }
    return h;
  }

  /** Header and body: decrypted, parsed and shape-checked. */
  open(buf: Buffer, h: ValueHeader): StoredValue {
    const body = this.#body(buf, h);
    if (h.kind === 'tombstone') {
      if (body.length !== 0) throw new CorruptValueError('format', 'tombstone has a body');
      return { kind: h.kind, version: h.version, expiresAt: h.expiresAt, session: undefined };
    }
    const json = body.toString('utf8');
    const session = parseSessionJson(json);
    const problem = sessionProblem(session);
    if (problem) throw new CorruptValueError('shape', problem);
    return { kind: h.kind, version: h.version, expiresAt: h.expiresAt, session, json };
  }

  /** The same value (same version and body) with a new expiry, sealed with the primary key. */
  rewrite(buf: Buffer, h: ValueHeader, expiresAt: number): Buffer {
    const body = this.#body(buf, h);
    const header = encodeHeader(h.kind, h.version, expiresAt, this.#sealer?.primaryId);
    return this.#sealer ? this.#sealer.seal(header, body) : Buffer.concat([header, body]);
  }

  #body(buf: Buffer, h: ValueHeader): Buffer {
    if (h.keyId === undefined) return buf.subarray(h.bodyOffset);
    return this.#sealer!.open(buf, h.keyId, h.bodyOffset);
  }
}
