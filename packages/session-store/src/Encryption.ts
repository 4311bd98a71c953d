import { createCipheriv, createDecipheriv, createSecretKey, randomFillSync, type KeyObject } from 'node:crypto';
import { SessionStoreError, SessionStoreErrorCodes } from './errors.js';
import { CorruptValueError, MAX_KEY_ID_BYTES } from './Versioned.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;
// IVs are taken from a pool of random bytes refilled 340 IVs at a time: one randomBytes call per set
// cost about as much as the cipher itself (measured: seal 8.4 -> see commit message).
const IV_POOL_BYTES = IV_BYTES * 340;

/** One key of `encryption.keys`. */
export interface EncryptionKeyInput {
  /** Travels in every value's header; 1-32 characters of [A-Za-z0-9._-]. */
  id: string;
  /** 32 bytes: a Buffer/Uint8Array, or its base64 form. */
  key: Buffer | Uint8Array | string;
}

/** The `encryption` option: the first key seals every write, every listed key opens reads. */
export interface EncryptionOptions {
  keys: readonly EncryptionKeyInput[];
}

/**
 * AES-256-GCM with key ids (the iron-session / Rails MessageEncryptor way to rotate): the header is
 * the additional authenticated data, so a value can be neither read nor altered, nor its header
 * (version, kind, expiry, key id) changed, without a listed key.
 */
export class Sealer {
  /** Id of the key that seals writes (the first listed). */
  readonly primaryId: string;
  readonly #keys: ReadonlyMap<string, KeyObject>;
  readonly #primary: KeyObject;
  #ivPool = Buffer.alloc(0);
  #ivOffset = 0;

  constructor(keys: ReadonlyMap<string, Buffer>, primaryId: string) {
    this.#keys = new Map([...keys].map(([id, k]) => [id, createSecretKey(k)]));
    this.#primary = this.#keys.get(primaryId)!;
    this.primaryId = primaryId;
  }

  #iv(): Buffer {
    if (this.#ivOffset + IV_BYTES > this.#ivPool.length) {
      // A fresh pool each time: IVs already handed out stay referenced by their values' buffers.
      this.#ivPool = randomFillSync(Buffer.allocUnsafe(IV_POOL_BYTES));
      this.#ivOffset = 0;
    }
    const iv = this.#ivPool.subarray(this.#ivOffset, this.#ivOffset + IV_BYTES);
    this.#ivOffset += IV_BYTES;
    return iv;
  }

  /** Ids of every key that opens values, primary first. */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** IV | ciphertext | tag of `plaintext` under the primary key, authenticating `header`. */
  seal(header: Buffer, plaintext: Buffer): Buffer {
    const iv = this.#iv();
    const cipher = createCipheriv('aes-256-gcm', this.#primary, iv);
    cipher.setAAD(header);
    // GCM is a stream mode: update() returns every byte and final() none, so the value is assembled
    // in one allocation.
    const out = Buffer.allocUnsafe(header.length + IV_BYTES + plaintext.length + TAG_BYTES);
    header.copy(out, 0);
    iv.copy(out, header.length);
    cipher.update(plaintext).copy(out, header.length + IV_BYTES);
    cipher.final();
    cipher.getAuthTag().copy(out, out.length - TAG_BYTES);
    return out;
  }

  /** The plaintext of a sealed value whose header ends at `bodyOffset`; CorruptValueError when it does not authenticate. */
  open(value: Buffer, keyId: string, bodyOffset: number): Buffer {
    const key = this.#keys.get(keyId);
    if (!key) throw new CorruptValueError('unknown-key', `value is sealed with key "${keyId}", which is not in encryption.keys (${this.keyIds.join(', ')})`);
    if (value.length < bodyOffset + IV_BYTES + TAG_BYTES) throw new CorruptValueError('format', `sealed value of ${value.length} bytes is too short for IV and tag`);
    const decipher = createDecipheriv('aes-256-gcm', key, value.subarray(bodyOffset, bodyOffset + IV_BYTES));
    decipher.setAAD(value.subarray(0, bodyOffset));
    decipher.setAuthTag(value.subarray(value.length - TAG_BYTES));
    try {
      const head = decipher.update(value.subarray(bodyOffset + IV_BYTES, value.length - TAG_BYTES));
      const tail = decipher.final();
      return tail.length === 0 ? head : Buffer.concat([head, tail]);
    } catch {
      throw new CorruptValueError('auth', `value sealed with key "${keyId}" fails authentication (altered, forged, or sealed with another key of that id)`);
    }
  }
}

function badKey(message: string): SessionStoreError {
  return new SessionStoreError(SessionStoreErrorCodes.BAD_OPTION, message);
}

/** Validates the `encryption` option eagerly; undefined when encryption is off. */
export function resolveEncryption(input: unknown): Sealer | undefined {
  if (input === undefined) return undefined;
  if (input === null || typeof input !== 'object' || !Array.isArray((input as { keys?: unknown }).keys) || (input as { keys: unknown[] }).keys.length === 0) {
    throw badKey('encryption: expected { keys: [{ id: "k1", key: <32 bytes, Buffer or base64> }, ...] } with at least one key');
  }
  const keys = new Map<string, Buffer>();
  (input as { keys: unknown[] }).keys.forEach((k, i) => {
    const where = `encryption.keys[${i}]`;
    if (k === null || typeof k !== 'object') throw badKey(`${where}: expected { id, key }`);
    const { id, key } = k as { id?: unknown; key?: unknown };
    if (typeof id !== 'string' || !/^[A-Za-z0-9._-]+$/.test(id) || id.length > MAX_KEY_ID_BYTES) {
      throw badKey(`${where}.id: ${JSON.stringify(id)} must be 1-${MAX_KEY_ID_BYTES} characters of A-Z a-z 0-9 . _ -`);
    }
    if (keys.has(id)) throw badKey(`${where}.id: "${id}" is listed twice`);
    let bytes: Buffer;
    if (typeof key === 'string') bytes = Buffer.from(key, 'base64');
    else if (key instanceof Uint8Array) bytes = Buffer.from(key);
    else throw badKey(`${where}.key: expected 32 bytes as a Buffer or a base64 string`);
    if (bytes.length !== 32) {
      throw badKey(`${where}.key: ${bytes.length} bytes; AES-256 needs exactly 32 (e.g. crypto.randomBytes(32).toString('base64'))`);
    }
    keys.set(id, bytes);
  });
  return new Sealer(keys, keys.keys().next().value as string);
}
