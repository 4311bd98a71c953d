import { MemjsLink, type Reply, type ReplyCallback } from './MemjsLink.js';
import { SessionStoreError, SessionStoreErrorCodes } from './errors.js';

// Binary protocol opcodes and statuses (memcached protocol_binary.h).
const OP = { GET: 0x00, SET: 0x01, ADD: 0x02, DELETE: 0x04, STAT: 0x10, TOUCH: 0x1c } as const;
const STATUS = { OK: 0, NOT_FOUND: 1, EXISTS: 2, TOO_LARGE: 3, NOT_STORED: 5 } as const;

/** A value read from one node, with the CAS token that makes a later repair write conditional. */
export interface NodeHit {
  readonly value: Buffer;
  readonly cas: Buffer;
}

export type SetOutcome = 'stored' | 'exists' | 'not_found';

export interface NodeConnectionOptions {
  opTimeoutMs: number;
  connectTimeoutMs: number;
  username: string | undefined;
  password: string | undefined;
}

/**
 * One memcached node: the binary protocol's get/set/add/touch/delete/stats, over a connection that
 * memjs opens (see MemjsLink, the one module that knows memjs's internals). Every operation is
 * bounded by `opTimeoutMs` from its call, memjs's own socket timeouts being idle timeouts that never
 * fire while other requests keep the socket busy.
 */
export class NodeConnection {
  readonly address: string;
  readonly #link: MemjsLink;

  constructor(address: string, host: string, port: number, opts: NodeConnectionOptions) {
    this.address = address;
    this.#link = new MemjsLink(host, port, {
      connectTimeoutMs: opts.connectTimeoutMs,
      opTimeoutMs: opts.opTimeoutMs,
      username: opts.username,
      password: opts.password,
      timeoutError: (op) => new SessionStoreError(SessionStoreErrorCodes.TIMEOUT, `${op} on ${address} did not answer within ${opts.opTimeoutMs} ms`, { details: { node: address } }),
      closedError: () => new SessionStoreError(SessionStoreErrorCodes.CLOSED, `the store is closed; ${address} takes no more requests`),
    });
  }

  #request(opcode: number, key: string, extras: Buffer | null, value: Buffer | null, cas: Buffer | null, seq: number): Buffer {
    const keyBytes = Buffer.byteLength(key);
    const extrasLength = extras ? extras.length : 0;
    const valueLength = value ? value.length : 0;
    const buf = Buffer.allocUnsafe(24 + extrasLength + keyBytes + valueLength);
    buf[0] = 0x80;
    buf[1] = opcode;
    buf.writeUInt16BE(keyBytes, 2);
    buf[4] = extrasLength;
    buf[5] = 0;
    buf.writeUInt16BE(0, 6);
    buf.writeUInt32BE(extrasLength + keyBytes + valueLength, 8);
    buf.writeUInt32BE(seq, 12);
    if (cas) cas.copy(buf, 16);
    else buf.fill(0, 16, 24);
    if (extras) extras.copy(buf, 24);
    buf.write(key, 24 + extrasLength, 'utf8');
    if (value) value.copy(buf, 24 + extrasLength + keyBytes);
    return buf;
  }

  /** Sends one request; `cb` gets memcached's reply or the error that ended the request. */
  #send(op: string, opcode: number, key: string, extras: Buffer | null, value: Buffer | null, cas: Buffer | null, cb: ReplyCallback): void {
    const seq = this.#link.nextSeq();
    this.#link.send(op, this.#request(opcode, key, extras, value, cas, seq), seq, cb);
  }

  #perform(op: string, opcode: number, key: string, extras: Buffer | null, value: Buffer | null, cas: Buffer | null): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.#send(op, opcode, key, extras, value, cas, (err, reply) => {
        if (err || !reply) reject(asError(err, `${op} on ${this.address} failed`));
        else resolve(reply);
      });
    });
  }

  /**
   * The value and CAS of `key`, or null when the node does not hold it, as a callback (the read path
   * of every `get`: one closure, no promise).
   */
  getCb(key: string, cb: (err: Error | null, hit: NodeHit | null) => void): void {
    this.#send('get', OP.GET, key, null, null, null, (err, r) => {
      if (err || !r) cb(asError(err, `get on ${this.address} failed`), null);
      else if (r.status === STATUS.OK) cb(null, r);
      else if (r.status === STATUS.NOT_FOUND) cb(null, null);
      else cb(this.#statusError('get', r.status), null);
    });
  }

  #statusError(op: string, status: number): SessionStoreError {
    if (status === STATUS.TOO_LARGE) {
      return new SessionStoreError(SessionStoreErrorCodes.TOO_LARGE, `${op} on ${this.address}: memcached says the value is too large for its item size limit (-I)`, { details: { node: this.address } });
    }
    return new SessionStoreError(SessionStoreErrorCodes.SERVER, `${op} on ${this.address}: memcached answered status 0x${status.toString(16)}`, { details: { node: this.address, status } });
  }

  /** The value and CAS of `key`, or null when the node does not hold it. */
  get(key: string): Promise<NodeHit | null> {
    return new Promise((resolve, reject) => this.getCb(key, (err, hit) => (err ? reject(err) : resolve(hit))));
  }

  /** Stores `value`; with `cas`, only if the item is unchanged since it was read. */
  set(key: string, value: Buffer, expiration: number, cas?: Buffer): Promise<SetOutcome> {
    return new Promise((resolve, reject) => this.setCb(key, value, expiration, cas, (err, outcome) => (err ? reject(err) : resolve(outcome!))));
  }

  /** set() as a callback (the write path of every `set`). */
  setCb(key: string, value: Buffer, expiration: number, cas: Buffer | undefined, cb: (err: Error | null, outcome: SetOutcome | null) => void): void {
    this.#send('set', OP.SET, key, expirationExtras(expiration, true), value, cas ?? null, (err, r) => {
      if (err || !r) return cb(asError(err, `set on ${this.address} failed`), null);
      const s = r.status;
      if (s === STATUS.OK) cb(null, 'stored');
      else if (s === STATUS.EXISTS) cb(null, 'exists');
      else if (s === STATUS.NOT_FOUND) cb(null, 'not_found');
      else cb(this.#statusError('set', s), null);
    });
  }

  /** Stores `value` only if the node does not hold `key`; false when it does. */
  async add(key: string, value: Buffer, expiration: number): Promise<boolean> {
    const r = await this.#perform('add', OP.ADD, key, expirationExtras(expiration, true), value, null);
    const s = r.status;
    if (s === STATUS.OK) return true;
    if (s === STATUS.EXISTS || s === STATUS.NOT_STORED) return false;
    throw this.#statusError('add', s);
  }

  /** Resets the TTL of `key`; false when the node does not hold it. */
  async touch(key: string, expiration: number): Promise<boolean> {
    const r = await this.#perform('touch', OP.TOUCH, key, expirationExtras(expiration, false), null, null);
    if (r.status === STATUS.OK) return true;
    if (r.status === STATUS.NOT_FOUND) return false;
    throw this.#statusError('touch', r.status);
  }

  /** Deletes `key`; false when the node did not hold it. */
  async delete(key: string): Promise<boolean> {
    const r = await this.#perform('delete', OP.DELETE, key, null, null, null);
    if (r.status === STATUS.OK) return true;
    if (r.status === STATUS.NOT_FOUND) return false;
    throw this.#statusError('delete', r.status);
  }

  /** The node's `stats` (pid, uptime, ...) over the binary protocol (works with SASL). */
  stats(): Promise<Record<string, string>> {
    return new Promise((resolve, reject) => {
      const stats: Record<string, string> = {};
      const seq = this.#link.nextSeq();
      const collect = (r: Reply, key: Buffer): boolean => {
        if (key.length === 0) return true; // the empty packet that ends the list
        stats[key.toString()] = r.value.toString();
        return false;
      };
      this.#link.send('stats', this.#request(OP.STAT, '', null, null, null, seq), seq, (err, r) => {
        if (err || !r) reject(asError(err, `stats on ${this.address} failed`));
        else if (r.status !== STATUS.OK) reject(this.#statusError('stats', r.status));
        else resolve(stats);
      }, collect);
    });
  }

  /**
   * Drops the connection and fails every request still waiting on it. Used when the node is ejected,
   * so that replies a frozen node sends after it thaws land on a dead socket, not on a new request.
   */
  reset(reason: string): void {
    this.#link.reset(new Error(reason));
  }

  /** Destroys every socket; later calls fail with SESS_ERR_CLOSED. */
  close(): void {
    this.#link.close();
  }
}

function expirationExtras(expiration: number, withFlags: boolean): Buffer {
  const buf = Buffer.alloc(withFlags ? 8 : 4);
  buf.writeUInt32BE(expiration >>> 0, withFlags ? 4 : 0);
  return buf;
}

function asError(err: unknown, message: string): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === 'string' ? `${message}: ${err}` : message);
}
