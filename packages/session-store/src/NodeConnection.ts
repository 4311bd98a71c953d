import type { Socket } from 'node:net';
import memjs from 'memjs';
import { SessionStoreError, SessionStoreErrorCodes } from './errors.js';

// Binary protocol opcodes and statuses (memcached protocol_binary.h).
const OP = { GET: 0x00, SET: 0x01, ADD: 0x02, DELETE: 0x04, TOUCH: 0x1c } as const;
const STATUS = { OK: 0, NOT_FOUND: 1, EXISTS: 2, TOO_LARGE: 3, NOT_STORED: 5 } as const;

/** A value read from one node, with the CAS token that makes a later repair write conditional. */
export interface NodeHit {
  readonly value: Buffer;
  readonly cas: Buffer;
}

export type SetOutcome = 'stored' | 'exists' | 'not_found';

interface MemjsResponse {
  header: { status: number; cas: Buffer; totalBodyLength: number };
  val: Buffer;
  key: Buffer;
}

interface MemjsServer {
  host: string;
  port: number;
  _socket?: Socket | undefined;
  connected: boolean;
  timeoutSet: boolean;
  sock(sasl: boolean, go: (s: Socket) => void): void;
  error(err: unknown): void;
  onResponse(seq: number, fn: (r: MemjsResponse) => void): void;
  onError(seq: number, fn: (e: Error) => void): void;
  write(blob: Buffer): void;
}

interface MemjsClient {
  seq: number;
  servers: MemjsServer[];
  incrSeq(): void;
  perform(key: string, request: Buffer, seq: number, cb: (err: Error | null, r: MemjsResponse | null) => void, retries?: number): void;
  stats(cb: (err: Error | null, server: string, stats: Record<string, string> | null) => void): void;
}

export interface NodeConnectionOptions {
  opTimeoutMs: number;
  connectTimeoutMs: number;
  username: string | undefined;
  password: string | undefined;
}

const silentLogger = { log() {} };

/**
 * One memcached node through memjs (one client, one server, memjs retries and failover off).
 * Every operation is bounded by the store's own timer: memjs's socket timeouts are idle timeouts
 * that never fire while other requests keep the socket busy, so they cannot bound a frozen node.
 */
export class NodeConnection {
  readonly address: string;
  readonly #client: MemjsClient;
  readonly #server: MemjsServer;
  readonly #opts: NodeConnectionOptions;
  // Every socket memjs ever opened for this node and that is not closed yet, so close() can end them all.
  readonly #sockets = new Set<Socket>();
  #closed = false;

  constructor(address: string, host: string, port: number, opts: NodeConnectionOptions) {
    this.address = address;
    this.#opts = opts;
    const serverOptions = {
      // memjs's own timeout only cleans up behind ours (see class comment).
      timeout: (opts.opTimeoutMs * 4) / 1000,
      conntimeout: opts.connectTimeoutMs / 1000,
      keepAlive: true,
      keepAliveDelay: 30,
      ...(opts.username !== undefined ? { username: opts.username, password: opts.password } : {}),
    };
    const server = new memjs.Server(host, port, opts.username, opts.password, serverOptions) as unknown as MemjsServer;
    this.#server = server;
    this.#patchServer(server);
    this.#client = new memjs.Client([server as never], { retries: 0, failover: false, logger: silentLogger } as never) as unknown as MemjsClient;
  }

  // memjs's socket 'close' handler clears `server._socket` unconditionally: when an old socket closes
  // after a new one was opened, the new one is orphaned and never closed (a leaked handle). Replace it
  // with one that only forgets its own socket, and remember every socket for close().
  #patchServer(server: MemjsServer): void {
    // Requests issued in the same tick leave in one socket write: with 2 replicas and many requests
    // in flight, one syscall per request (memjs's way) costs more CPU than everything else together.
    const write = server.write.bind(server);
    let batch: Buffer[] = [];
    const flush = () => {
      const blobs = batch;
      batch = [];
      if (blobs.length === 0 || this.#closed) return;
      write(blobs.length === 1 ? blobs[0]! : Buffer.concat(blobs));
      // memjs keeps one deadline per write and drops one per response; keep them paired.
      const deadlines = (server as unknown as { requestTimeouts: number[] }).requestTimeouts;
      const last = deadlines[deadlines.length - 1];
      if (last !== undefined) for (let i = 1; i < blobs.length; i++) deadlines.push(last);
    };
    server.write = (blob: Buffer) => {
      if (batch.push(blob) === 1) process.nextTick(flush);
    };
    const original = server.sock.bind(server);
    const sockets = this.#sockets;
    server.sock = (sasl, go) => {
      if (this.#closed) throw new SessionStoreError(SessionStoreErrorCodes.CLOSED, `the store is closed; ${this.address} takes no more requests`);
      const before = server._socket;
      original(sasl, go);
      const s = server._socket;
      if (s && s !== before) {
        sockets.add(s);
        s.removeAllListeners('close');
        s.on('close', () => {
          sockets.delete(s);
          if (server._socket === s) {
            server.connected = false;
            server.timeoutSet = false;
            server._socket = undefined;
          }
        });
      }
    };
  }

  #request(opcode: number, key: string, extras: Buffer | null, value: Buffer | null, cas: Buffer | null, seq: number): Buffer {
    const keyBytes = Buffer.byteLength(key);
    const extrasLength = extras ? extras.length : 0;
    const valueLength = value ? value.length : 0;
    const buf = Buffer.alloc(24 + extrasLength + keyBytes + valueLength);
    buf[0] = 0x80;
    buf[1] = opcode;
    buf.writeUInt16BE(keyBytes, 2);
    buf[4] = extrasLength;
    buf.writeUInt32BE(extrasLength + keyBytes + valueLength, 8);
    buf.writeUInt32BE(seq >>> 0, 12);
    if (cas) cas.copy(buf, 16);
    if (extras) extras.copy(buf, 24);
    buf.write(key, 24 + extrasLength, 'utf8');
    if (value) value.copy(buf, 24 + extrasLength + keyBytes);
    return buf;
  }

  #perform(op: string, opcode: number, key: string, extras: Buffer | null, value: Buffer | null, cas: Buffer | null): Promise<MemjsResponse> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new SessionStoreError(SessionStoreErrorCodes.CLOSED, `the store is closed; ${this.address} takes no more requests`));
        return;
      }
      const client = this.#client;
      client.incrSeq();
      const seq = client.seq;
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        reject(new SessionStoreError(SessionStoreErrorCodes.TIMEOUT, `${op} on ${this.address} did not answer within ${this.#opts.opTimeoutMs} ms`, { details: { node: this.address } }));
      }, this.#opts.opTimeoutMs);
      try {
        client.perform(key, this.#request(opcode, key, extras, value, cas, seq), seq, (err, response) => {
          if (done) return; // a late reply to a request we already gave up on
          done = true;
          clearTimeout(timer);
          if (err || !response) reject(asError(err, `${op} on ${this.address} failed`));
          else resolve(response);
        });
      } catch (err) {
        done = true;
        clearTimeout(timer);
        reject(asError(err, `${op} on ${this.address} failed`));
      }
    });
  }

  #statusError(op: string, status: number): SessionStoreError {
    if (status === STATUS.TOO_LARGE) {
      return new SessionStoreError(SessionStoreErrorCodes.TOO_LARGE, `${op} on ${this.address}: memcached says the value is too large for its item size limit (-I)`, { details: { node: this.address } });
    }
    return new SessionStoreError(SessionStoreErrorCodes.SERVER, `${op} on ${this.address}: memcached answered status 0x${status.toString(16)}`, { details: { node: this.address, status } });
  }

  /** The value and CAS of `key`, or null when the node does not hold it. */
  async get(key: string): Promise<NodeHit | null> {
    const r = await this.#perform('get', OP.GET, key, null, null, null);
    if (r.header.status === STATUS.OK) return { value: r.val, cas: Buffer.from(r.header.cas) };
    if (r.header.status === STATUS.NOT_FOUND) return null;
    throw this.#statusError('get', r.header.status);
  }

  /** Stores `value`; with `cas`, only if the item is unchanged since it was read. */
  async set(key: string, value: Buffer, expiration: number, cas?: Buffer): Promise<SetOutcome> {
    const r = await this.#perform('set', OP.SET, key, expirationExtras(expiration, true), value, cas ?? null);
    const s = r.header.status;
    if (s === STATUS.OK) return 'stored';
    if (s === STATUS.EXISTS) return 'exists';
    if (s === STATUS.NOT_FOUND) return 'not_found';
    throw this.#statusError('set', s);
  }

  /** Stores `value` only if the node does not hold `key`; false when it does. */
  async add(key: string, value: Buffer, expiration: number): Promise<boolean> {
    const r = await this.#perform('add', OP.ADD, key, expirationExtras(expiration, true), value, null);
    const s = r.header.status;
    if (s === STATUS.OK) return true;
    if (s === STATUS.EXISTS || s === STATUS.NOT_STORED) return false;
    throw this.#statusError('add', s);
  }

  /** Resets the TTL of `key`; false when the node does not hold it. */
  async touch(key: string, expiration: number): Promise<boolean> {
    const r = await this.#perform('touch', OP.TOUCH, key, expirationExtras(expiration, false), null, null);
    if (r.header.status === STATUS.OK) return true;
    if (r.header.status === STATUS.NOT_FOUND) return false;
    throw this.#statusError('touch', r.header.status);
  }

  /** Deletes `key`; false when the node did not hold it. */
  async delete(key: string): Promise<boolean> {
    const r = await this.#perform('delete', OP.DELETE, key, null, null, null);
    if (r.header.status === STATUS.OK) return true;
    if (r.header.status === STATUS.NOT_FOUND) return false;
    throw this.#statusError('delete', r.header.status);
  }

  /** The node's `stats` (pid, uptime, ...) over the binary protocol (works with SASL). */
  stats(): Promise<Record<string, string>> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new SessionStoreError(SessionStoreErrorCodes.CLOSED, `the store is closed`));
        return;
      }
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        reject(new SessionStoreError(SessionStoreErrorCodes.TIMEOUT, `stats on ${this.address} did not answer within ${this.#opts.opTimeoutMs} ms`, { details: { node: this.address } }));
      }, this.#opts.opTimeoutMs);
      try {
        this.#client.stats((err, _server, stats) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          if (err || !stats) reject(asError(err, `stats on ${this.address} failed`));
          else resolve(stats);
        });
      } catch (err) {
        done = true;
        clearTimeout(timer);
        reject(asError(err, `stats on ${this.address} failed`));
      }
    });
  }

  /**
   * Drops the connection and fails every request still waiting on it. Used when the node is ejected,
   * so that replies a frozen node sends after it thaws land on a dead socket, not on a new request.
   */
  reset(reason: string): void {
    this.#server.error(new Error(reason));
  }

  /** Destroys every socket; later calls fail with SESS_ERR_CLOSED. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.error(new SessionStoreError(SessionStoreErrorCodes.CLOSED, 'the store was closed'));
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
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
