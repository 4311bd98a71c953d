/**
 * The stored value: a header, then the session as JSON (plain) or sealed with AES-256-GCM.
 *
 *   0  magic 0xA7     1  format 2     2  kind (1 session, 2 tombstone)     3  flags (bit 0: sealed)
 *   4  HLC ms (uint48)     10 HLC counter (uint16)     12 writer id (uint32)
 *   16 expiresAt (uint48): when the cookie expires; `touch` rewrites it, so repair and re-sync
 *      give a copy the TTL of the newest touch, not of the last full write
 *   22 key id length n (uint8, 0 when plain)     23 key id (n ASCII bytes)
 *   23+n  plain: JSON.   sealed: IV (12) | ciphertext | GCM tag (16); the header bytes 0..23+n are the
 *         additional authenticated data, so no field of the header can be altered without the key.
 *
 * The version is a hybrid logical clock, so that versions from many web nodes order like the writes
 * did even when their clocks drift: newest wins, ties are broken by writer id. A merge of concurrent
 * writes (issue 12) needs nothing more in the header: it compares the version a request read with the
 * stored one; the 7 free flag bits are there for what a later format needs.
 *
 * Format 1 (the 20-byte header of the first release, expiry in seconds, never sealed) is still read,
 * so that upgrading web nodes one by one loses no session; it is never written.
 */
export const HEADER_BYTES = 23;
const MAGIC = 0xa7;
const FORMAT = 2;
const FORMAT_1_HEADER_BYTES = 20;
const FLAG_SEALED = 0x01;
/** Largest value a uint48 header field holds (ms: year 10889). */
export const MAX_UINT48 = 2 ** 48 - 1;
/** Key ids travel in the header: short, printable ASCII. */
export const MAX_KEY_ID_BYTES = 32;

export type ValueKind = 'session' | 'tombstone';

export interface Version {
  readonly ms: number;
  readonly counter: number;
  readonly writer: number;
}

export interface StoredValue {
  readonly kind: ValueKind;
  readonly version: Version;
  /** Epoch ms (not seconds, unlike format 1) at which the session or tombstone expires; updated by `touch`. */
  readonly expiresAt: number;
  /** The parsed session; undefined for a tombstone. */
  readonly session: Record<string, unknown> | undefined;
  /** The session as the JSON text it was parsed from (set by the store's reads, for merging). */
  readonly json?: string;
}

/** Negative if a is older than b, 0 if equal, positive if newer. */
export function compareVersions(a: Version, b: Version): number {
  return a.ms - b.ms || a.counter - b.counter || a.writer - b.writer;
}

/** A hybrid logical clock owned by one writer. */
export class HybridClock {
  readonly writer: number;
  #ms = 0;
  #counter = 0;
  readonly #now: () => number;
  readonly #maxSkewMs: number;

  /** `maxSkewMs`: how far ahead of the local clock an observed version may move this clock. */
  constructor(writer: number, now: () => number = Date.now, maxSkewMs = 60_000) {
    this.writer = writer >>> 0;
    this.#now = now;
    this.#maxSkewMs = maxSkewMs;
  }

  /** A version newer than every version this clock issued or observed. */
  next(): Version {
    const now = this.#now();
    if (now > this.#ms) {
      this.#ms = now;
      this.#counter = 0;
    } else if (this.#counter >= 0xffff) {
      this.#ms += 1; // counter exhausted within one ms: borrow the next ms
      this.#counter = 0;
    } else {
      this.#counter += 1;
    }
    return { ms: this.#ms, counter: this.#counter, writer: this.writer };
  }

  /**
   * Moves the clock past a version read from another writer (HLC receive). A version further ahead
   * than `maxSkewMs` is ignored: callers treat it as corrupt, and one forged value must never push the
   * clock past what the header can encode (that made every later write throw).
   */
  observe(v: Version): boolean {
    if (!this.acceptable(v)) return false;
    if (v.ms > this.#ms || (v.ms === this.#ms && v.counter > this.#counter)) {
      this.#ms = v.ms;
      this.#counter = v.counter;
    }
    return true;
  }

  /** Whether a version read from memcached is within `maxSkewMs` of this process's clock. */
  acceptable(v: Version): boolean {
    return v.ms <= this.#now() + this.#maxSkewMs && v.ms <= MAX_UINT48 - 1;
  }
}

/** Why a stored value was rejected; `code` is the metric label of the `corrupt` event. */
export type CorruptCode = 'format' | 'json' | 'shape' | 'auth' | 'unknown-key' | 'plain' | 'clock-skew' | 'expires';

/** A stored value that is rejected: never returned, never copied, overwritten from a good replica. */
export class CorruptValueError extends Error {
  override readonly name = 'CorruptValueError';
  readonly code: CorruptCode;
  constructor(code: CorruptCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** The header of a stored value, without the session body. */
export interface ValueHeader {
  readonly kind: ValueKind;
  readonly version: Version;
  readonly expiresAt: number;
  /** Key id the body is sealed with; undefined for a plain value. */
  readonly keyId: string | undefined;
  /** Offset of the body (plain JSON, or IV | ciphertext | tag); also the length of the authenticated header. */
  readonly bodyOffset: number;
}

const clampUint48 = (n: number): number => Math.max(0, Math.min(MAX_UINT48, Math.floor(n)));

/** The header bytes of a value (format 2); `keyId` set means the body will be sealed with that key. */
export function encodeHeader(kind: ValueKind, version: Version, expiresAt: number, keyId: string | undefined): Buffer {
  const idBytes = keyId === undefined ? 0 : Buffer.byteLength(keyId, 'latin1');
  const buf = Buffer.allocUnsafe(HEADER_BYTES + idBytes);
  buf[0] = MAGIC;
  buf[1] = FORMAT;
  buf[2] = kind === 'session' ? 1 : 2;
  buf[3] = keyId === undefined ? 0 : FLAG_SEALED;
  buf.writeUIntBE(version.ms, 4, 6);
  buf.writeUInt16BE(version.counter, 10);
  buf.writeUInt32BE(version.writer >>> 0, 12);
  buf.writeUIntBE(clampUint48(expiresAt), 16, 6);
  buf[22] = idBytes;
  if (keyId !== undefined) buf.write(keyId, HEADER_BYTES, 'latin1');
  return buf;
}

/** Header + JSON bytes of a plain (unsealed) value. `json` is the session, or undefined for a tombstone. */
export function encodeValue(kind: ValueKind, version: Version, expiresAt: number, json?: string): Buffer {
  const header = encodeHeader(kind, version, expiresAt, undefined);
  return json === undefined ? header : Buffer.concat([header, Buffer.from(json, 'utf8')]);
}

/** Parses only the header (cheap): enough to pick the newest of several copies. */
export function decodeHeader(buf: Buffer): ValueHeader {
  if (buf.length > 0 && buf[0] !== MAGIC) throw new CorruptValueError('format', `bad magic byte 0x${(buf[0] ?? 0).toString(16)} (not written by @webtier/session-store)`);
  if (buf[1] === 1) return decodeHeaderV1(buf);
  if (buf.length < HEADER_BYTES) throw new CorruptValueError('format', `value of ${buf.length} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  if (buf[1] !== FORMAT) throw new CorruptValueError('format', `unknown format ${buf[1]}`);
  const kindByte = buf[2];
  if (kindByte !== 1 && kindByte !== 2) throw new CorruptValueError('format', `unknown kind ${kindByte}`);
  const flags = buf[3]!;
  if ((flags & ~FLAG_SEALED) !== 0) throw new CorruptValueError('format', `unknown flags 0x${flags.toString(16)}`);
  const idBytes = buf[22]!;
  const sealed = (flags & FLAG_SEALED) !== 0;
  if (sealed !== idBytes > 0 || idBytes > MAX_KEY_ID_BYTES || buf.length < HEADER_BYTES + idBytes) {
    throw new CorruptValueError('format', `key id length ${idBytes} does not fit the value (sealed: ${sealed}, ${buf.length} bytes)`);
  }
  return {
    kind: kindByte === 1 ? 'session' : 'tombstone',
    version: { ms: buf.readUIntBE(4, 6), counter: buf.readUInt16BE(10), writer: buf.readUInt32BE(12) },
    expiresAt: buf.readUIntBE(16, 6),
    keyId: sealed ? buf.toString('latin1', HEADER_BYTES, HEADER_BYTES + idBytes) : undefined,
    bodyOffset: HEADER_BYTES + idBytes,
  };
}

function decodeHeaderV1(buf: Buffer): ValueHeader {
  if (buf.length < FORMAT_1_HEADER_BYTES) throw new CorruptValueError('format', `value of ${buf.length} bytes is shorter than the ${FORMAT_1_HEADER_BYTES}-byte header`);
  const kindByte = buf[2];
  if (kindByte !== 1 && kindByte !== 2) throw new CorruptValueError('format', `unknown kind ${kindByte}`);
  return {
    kind: kindByte === 1 ? 'session' : 'tombstone',
    version: { ms: buf.readUIntBE(4, 6), counter: buf.readUInt16BE(10), writer: buf.readUInt32BE(12) },
    expiresAt: buf.readUInt32BE(16) * 1000,
    keyId: undefined,
    bodyOffset: FORMAT_1_HEADER_BYTES,
  };
}

/** Parses JSON bytes of a session body (no shape check; see SessionShape). */
export function parseSessionJson(text: Buffer | string): Record<string, unknown> {
  let session: unknown;
  try {
    session = JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch (err) {
    throw new CorruptValueError('json', `session JSON does not parse: ${(err as Error).message}`);
  }
  if (session === null || typeof session !== 'object' || Array.isArray(session)) throw new CorruptValueError('json', 'session JSON is not an object');
  return session as Record<string, unknown>;
}

/** Parses a plain stored value (no decryption, no shape check); throws {@link CorruptValueError} naming what is wrong. */
export function decodeValue(buf: Buffer): StoredValue {
  const h = decodeHeader(buf);
  if (h.keyId !== undefined) throw new CorruptValueError('auth', `value is sealed with key "${h.keyId}"; decodeValue reads plain values only`);
  return { kind: h.kind, version: h.version, expiresAt: h.expiresAt, session: h.kind === 'session' ? parseSessionJson(buf.subarray(h.bodyOffset)) : undefined };
}
