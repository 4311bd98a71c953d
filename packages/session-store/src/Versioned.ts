/**
 * The stored value: a 20-byte header, then the session as JSON.
 *
 *   0  magic 0xA7        1  format 1        2  kind (1 session, 2 tombstone)   3  reserved
 *   4  HLC ms (uint48)   10 HLC counter (uint16)   12 writer id (uint32)   16 expiresAt (unix s, uint32)
 *
 * The version is a hybrid logical clock, so that versions from many web nodes order like the writes
 * did even when their clocks drift: newest wins, ties are broken by writer id.
 */
export const HEADER_BYTES = 20;
const MAGIC = 0xa7;
const FORMAT = 1;

export type ValueKind = 'session' | 'tombstone';

export interface Version {
  readonly ms: number;
  readonly counter: number;
  readonly writer: number;
}

export interface StoredValue {
  readonly kind: ValueKind;
  readonly version: Version;
  /** Unix seconds of the TTL given at the last full write (touch does not update it). */
  readonly expiresAt: number;
  /** The parsed session; undefined for a tombstone. */
  readonly session: Record<string, unknown> | undefined;
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

  constructor(writer: number, now: () => number = Date.now) {
    this.writer = writer >>> 0;
    this.#now = now;
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

  /** Moves the clock past a version read from another writer (HLC receive). */
  observe(v: Version): void {
    if (v.ms > this.#ms || (v.ms === this.#ms && v.counter > this.#counter)) {
      this.#ms = v.ms;
      this.#counter = v.counter;
    }
  }
}

/** Why a stored value was rejected by {@link decodeValue}. */
export class CorruptValueError extends Error {
  override readonly name = 'CorruptValueError';
}

/** Header + JSON bytes of a value. `json` is the serialized session, or undefined for a tombstone. */
export function encodeValue(kind: ValueKind, version: Version, expiresAt: number, json?: string): Buffer {
  const bodyBytes = json === undefined ? 0 : Buffer.byteLength(json);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + bodyBytes);
  buf[0] = MAGIC;
  buf[1] = FORMAT;
  buf[2] = kind === 'session' ? 1 : 2;
  buf[3] = 0;
  buf.writeUIntBE(version.ms, 4, 6);
  buf.writeUInt16BE(version.counter, 10);
  buf.writeUInt32BE(version.writer >>> 0, 12);
  buf.writeUInt32BE(Math.max(0, Math.min(0xffff_ffff, Math.floor(expiresAt))), 16);
  if (json !== undefined) buf.write(json, HEADER_BYTES, 'utf8');
  return buf;
}

/** The header of a stored value, without the session body. */
export interface ValueHeader {
  readonly kind: ValueKind;
  readonly version: Version;
  readonly expiresAt: number;
}

/** Parses only the header (cheap): enough to pick the newest of several copies. */
export function decodeHeader(buf: Buffer): ValueHeader {
  if (buf.length > 0 && buf[0] !== MAGIC) throw new CorruptValueError(`bad magic byte 0x${(buf[0] ?? 0).toString(16)} (not written by @webtier/session-store)`);
  if (buf.length < HEADER_BYTES) throw new CorruptValueError(`value of ${buf.length} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  if (buf[1] !== FORMAT) throw new CorruptValueError(`unknown format ${buf[1]}`);
  const kindByte = buf[2];
  if (kindByte !== 1 && kindByte !== 2) throw new CorruptValueError(`unknown kind ${kindByte}`);
  return {
    kind: kindByte === 1 ? 'session' : 'tombstone',
    version: { ms: buf.readUIntBE(4, 6), counter: buf.readUInt16BE(10), writer: buf.readUInt32BE(12) },
    expiresAt: buf.readUInt32BE(16),
  };
}

/** Parses the session body of a value whose header says `session`. */
export function decodeSession(buf: Buffer): Record<string, unknown> {
  let session: unknown;
  try {
    session = JSON.parse(buf.toString('utf8', HEADER_BYTES));
  } catch (err) {
    throw new CorruptValueError(`session JSON does not parse: ${(err as Error).message}`);
  }
  if (session === null || typeof session !== 'object' || Array.isArray(session)) throw new CorruptValueError('session JSON is not an object');
  return session as Record<string, unknown>;
}

/** Parses a stored value; throws {@link CorruptValueError} naming what is wrong. */
export function decodeValue(buf: Buffer): StoredValue {
  const h = decodeHeader(buf);
  return { ...h, session: h.kind === 'session' ? decodeSession(buf) : undefined };
}
