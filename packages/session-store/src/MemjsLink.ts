import type { Socket } from 'node:net';
import memjs from 'memjs';

/**
 * The only module that touches memjs internals (issue 15 item 4). memjs connects, authenticates
 * (SASL PLAIN) and reconnects; this module sends requests and dispatches replies itself, because
 * memjs's public API has no CAS (`gets`/`cas`), which read-repair and merged writes need, and because
 * its per-request path cost more than the store's own logic (one socket write per request, a copy of
 * every received chunk, callbacks in objects keyed by sequence number, an idle-socket timer that
 * never fires on a busy socket).
 *
 * The memjs release below is pinned exactly in package.json; `test/memjsLink.integration.test.ts` checks the
 * installed version and every shape used here, and names what changed:
 *  - `new memjs.Server(host, port, username, password, options)` with `conntimeout` (seconds);
 *  - `server.sock(sasl, go)`: opens or reuses `server._socket`, authenticates, then calls `go(socket)`
 *    (later, from its connect callbacks, while connecting);
 *  - `server._socket`, `server.connected`, `server.timeoutSet`;
 *  - `server.responseHandler(chunk)`: memjs's reader, called from the socket's 'data' listener;
 *  - `server.error(err)`: destroys the socket and drops memjs's callbacks;
 *  - the 'close' listener memjs puts on each socket (replaced, see #adopt).
 */
export const MEMJS_VERSION = '1.3.2';

interface MemjsServer {
  _socket?: Socket | undefined;
  connected: boolean;
  timeoutSet: boolean;
  sock(sasl: boolean, go: (s: Socket) => void): void;
  responseHandler(chunk: Buffer): void;
  error(err: unknown): void;
}

/** One reply packet: status, CAS (a copy: a tracked read may keep it for an hour) and value (a view). */
export interface Reply {
  readonly status: number;
  readonly cas: Buffer;
  readonly value: Buffer;
}

/** Called once per request: with the reply, or with the error that ended it (timeout, socket error). */
export type ReplyCallback = (err: Error | null, reply: Reply | null) => void;

/** Called for every packet of a multi-packet reply (`stats`), with its key: false while more packets follow. */
type PacketSink = (reply: Reply, key: Buffer) => boolean;

class Pending {
  done = false;
  constructor(
    readonly seq: number,
    readonly deadline: number,
    readonly op: string,
    public cb: ReplyCallback | undefined,
    readonly sink: PacketSink | undefined,
  ) {}
}

/** A FIFO with O(1) shift (Array#shift copies once the array is large). */
class Fifo<T> {
  #items: Array<T | undefined> = [];
  #head = 0;
  get size(): number {
    return this.#items.length - this.#head;
  }
  push(x: T): void {
    this.#items.push(x);
  }
  peek(): T | undefined {
    return this.#items[this.#head];
  }
  shift(): T | undefined {
    const x = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return x;
  }
  drain(): T[] {
    const out = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return out;
  }
}

/** A socket memjs opened, with the requests written on it (memcached answers them in order). */
class Conn {
  readonly inflight = new Fifo<Pending>();
  rest: Buffer | undefined;
  constructor(readonly socket: Socket) {}
}

export interface MemjsLinkOptions {
  connectTimeoutMs: number;
  /** Bound of every request, from the call (not from the write: a request waiting for a connect counts). */
  opTimeoutMs: number;
  username: string | undefined;
  password: string | undefined;
  /** The error a request that did not answer in time fails with. */
  timeoutError(op: string): Error;
  /** The error a request fails with after close(). */
  closedError(): Error;
}

const HEADER = 24;
const SASL_LIST = 0x20;
const SASL_AUTH = 0x21;

/**
 * One memcached node: requests are written in batches (every request of one event-loop turn leaves in
 * one socket write: with 2 replicas and many requests in flight, a syscall per request cost more CPU
 * than the store's own logic), replies are parsed in place and matched in order, and every request is
 * bounded by one timer per node.
 */
export class MemjsLink {
  readonly #server: MemjsServer;
  readonly #o: MemjsLinkOptions;
  readonly #conns = new Map<Socket, Conn>();
  readonly #deadlines = new Fifo<Pending>();
  #timer: NodeJS.Timeout | undefined;
  // Set between the timer and the sweep (see #sweepSoon); #timer stays set meanwhile so none is doubled.
  #immediate: NodeJS.Immediate | undefined;
  #batch: Buffer[] = [];
  #batchPending: Pending[] = [];
  #seq = 0;
  #closed = false;
  readonly #flush = (): void => this.#write();

  constructor(host: string, port: number, o: MemjsLinkOptions) {
    this.#o = o;
    const serverOptions = {
      conntimeout: o.connectTimeoutMs / 1000,
      keepAlive: true,
      keepAliveDelay: 30,
      ...(o.username !== undefined ? { username: o.username, password: o.password } : {}),
    };
    const server = new memjs.Server(host, port, o.username, o.password, serverOptions) as unknown as MemjsServer;
    this.#server = server;
    const sock = server.sock.bind(server);
    server.sock = (sasl, go) => {
      const before = server._socket;
      sock(sasl, go);
      const s = server._socket;
      if (s && s !== before && !this.#conns.has(s)) this.#adopt(s);
    };
    // memjs's reader only sees the SASL exchange; once connected, replies go through #onData.
    const read = server.responseHandler.bind(server);
    server.responseHandler = (chunk) => {
      if (!server.connected) read(chunk);
    };
    const error = server.error.bind(server);
    server.error = (err) => {
      error(err);
      this.#failAll(asError(err, 'memcached connection failed'));
    };
  }

  // memjs's socket 'close' handler clears `server._socket` unconditionally: when an old socket closes
  // after a new one was opened, the new one is orphaned and never closed (a leaked handle). Replace it
  // with one that only forgets its own socket and fails the requests written on it.
  #adopt(s: Socket): void {
    const conn = new Conn(s);
    this.#conns.set(s, conn);
    const server = this.#server;
    s.removeAllListeners('close');
    s.on('close', () => {
      this.#conns.delete(s);
      if (server._socket === s) {
        server.connected = false;
        server.timeoutSet = false;
        server._socket = undefined;
      }
      const lost = conn.inflight.drain();
      if (lost.length > 0) {
        const err = new Error('memcached closed the connection');
        for (const p of lost) this.#finish(p, err, null);
      }
    });
    // Added before memjs's own 'data' listener (set on connect), so replies are dispatched here first.
    s.on('data', (chunk: Buffer) => {
      if (server.connected) this.#onData(conn, chunk);
    });
  }

  /** A fresh request sequence number (the `opaque` a reply is matched by). */
  nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  /** Queues `request` (built with `seq` as its opaque); `cb` gets its reply or its error, once. */
  send(op: string, request: Buffer, seq: number, cb: ReplyCallback, sink?: PacketSink): void {
    if (this.#closed) {
      cb(this.#o.closedError(), null);
      return;
    }
    const p = new Pending(seq, performance.now() + this.#o.opTimeoutMs, op, cb, sink);
    this.#deadlines.push(p);
    if (this.#timer === undefined) this.#timer = setTimeout(this.#sweepSoon, this.#o.opTimeoutMs);
    this.#batchPending.push(p);
    // setImmediate, not nextTick: replies of every socket read in this turn are answered in one write.
    if (this.#batch.push(request) === 1) setImmediate(this.#flush);
  }

  #write(): void {
    const blobs = this.#batch;
    const pending = this.#batchPending;
    this.#batch = [];
    this.#batchPending = [];
    if (blobs.length === 0) return;
    if (this.#closed) {
      for (const p of pending) this.#finish(p, this.#o.closedError(), null);
      return;
    }
    const go = (s: Socket): void => {
      const conn = this.#conns.get(s);
      if (!conn) {
        for (const p of pending) this.#finish(p, new Error('memcached connection was replaced before the request was sent'), null);
        return;
      }
      for (const p of pending) conn.inflight.push(p);
      s.write(blobs.length === 1 ? blobs[0]! : Buffer.concat(blobs));
    };
    try {
      this.#server.sock(false, go);
    } catch (err) {
      for (const p of pending) this.#finish(p, asError(err, 'memcached connection failed'), null);
    }
  }

  #onData(conn: Conn, chunk: Buffer): void {
    let buf = conn.rest === undefined ? chunk : Buffer.concat([conn.rest, chunk]);
    conn.rest = undefined;
    let off = 0;
    while (buf.length - off >= HEADER) {
      const bodyLength = buf.readUInt32BE(off + 8);
      const end = off + HEADER + bodyLength;
      if (end > buf.length) break;
      if (buf[off] !== 0x81) {
        this.#desync(conn, `memcached sent a packet with magic 0x${buf[off]!.toString(16)}; the connection is out of step`);
        return;
      }
      const opcode = buf[off + 1]!;
      if (opcode === SASL_LIST || opcode === SASL_AUTH) {
        off = end; // memjs's exchange, answered before any request of ours
        continue;
      }
      const keyLength = buf.readUInt16BE(off + 2);
      const extrasLength = buf[off + 4]!;
      const seq = buf.readUInt32BE(off + 12);
      const head = conn.inflight.peek();
      if (!head || head.seq !== seq) {
        // memcached answers in order: a reply for another request means bytes were lost or mixed up.
        this.#desync(conn, `memcached answered request ${seq} while ${head ? head.seq : 'none'} was next; the connection is out of step`);
        return;
      }
      const keyStart = off + HEADER + extrasLength;
      const cas = Buffer.allocUnsafe(8);
      buf.copy(cas, 0, off + 16, off + 24);
      const reply: Reply = {
        status: buf.readUInt16BE(off + 6),
        cas,
        value: buf.subarray(keyStart + keyLength, end),
      };
      off = end;
      if (head.sink && !head.done && !head.sink(reply, buf.subarray(keyStart, keyStart + keyLength))) continue;
      conn.inflight.shift();
      this.#finish(head, null, reply);
    }
    if (off < buf.length) conn.rest = off === 0 ? buf : buf.subarray(off);
    // A reply cut off by the chunk boundary: keep only its own bytes, not the chunk it came in.
    if (conn.rest !== undefined && conn.rest.length < 4096 && conn.rest.buffer.byteLength > 4 * conn.rest.length) conn.rest = Buffer.from(conn.rest);
  }

  #desync(conn: Conn, message: string): void {
    if (conn.socket === this.#server._socket) this.reset(new Error(message));
    else conn.socket.destroy(); // an old socket: its requests fail on 'close'
  }

  #finish(p: Pending, err: Error | null, reply: Reply | null): void {
    if (p.done) return;
    p.done = true;
    const cb = p.cb!;
    p.cb = undefined;
    // Most replies come in order: keep the deadline queue short without waiting for the sweep.
    while (this.#deadlines.peek()?.done) this.#deadlines.shift();
    cb(err, reply);
  }

  // After an event-loop stall (GC pause, a process starved of CPU) Node runs due timers before it
  // reads sockets: sweeping from the timer would fail requests whose replies sat in the socket
  // buffer all along, and enough of them mark a healthy node down. setImmediate runs after the poll
  // phase has delivered what arrived.
  readonly #sweepSoon = (): void => {
    this.#immediate = setImmediate(this.#sweepNow);
  };

  readonly #sweepNow = (): void => {
    this.#immediate = undefined;
    this.#sweep();
  };

  #sweep(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (let p = this.#deadlines.peek(); p !== undefined; p = this.#deadlines.peek()) {
      if (!p.done && p.deadline > now) break;
      this.#deadlines.shift();
      // Its late reply is matched and dropped (done), so the connection stays in step.
      if (!p.done) this.#finish(p, this.#o.timeoutError(p.op), null);
    }
    const next = this.#deadlines.peek();
    if (next !== undefined) this.#timer = setTimeout(this.#sweepSoon, Math.max(1, Math.ceil(next.deadline - now)));
  }

  #failAll(err: Error): void {
    const all = [...this.#batchPending, ...this.#deadlines.drain()];
    this.#batch = [];
    this.#batchPending = [];
    for (const conn of this.#conns.values()) conn.inflight.drain();
    for (const p of all) this.#finish(p, err, null);
  }

  /** Drops the connection and fails every request still waiting on it (memjs reconnects on the next request). */
  reset(err: Error): void {
    this.#server.error(err);
  }

  /** Destroys every socket and fails what is pending; later requests fail with `closedError()`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
    this.#server.error(this.#o.closedError());
    for (const s of this.#conns.keys()) s.destroy();
    this.#conns.clear();
  }
}

function asError(err: unknown, message: string): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === 'string' ? `${message}: ${err}` : message);
}
