/** A request waiting for a connection slot. */
interface Waiter {
  grant: (taken: boolean) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The connections one endpoint may use for one kind of request (ordinary requests, long polls): at
 * most `limit` requests in flight. The gateway never lets requests queue inside undici's Pool,
 * where an ordinary request would wait behind hour-long Pings with no deadline; it waits here, in
 * FIFO order, for at most the queue timeout (one timer per waiting request, none once admitted).
 */
export class ConnectionBudget {
  /** Requests holding a slot. */
  active = 0;
  private readonly waiters: Waiter[] = [];
  private head = 0;

  constructor(public limit: number) {}

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.waiters.length - this.head;
  }

  /** Takes a slot if one is free (and nobody waits before us). */
  tryAcquire(): boolean {
    if (this.active >= this.limit || this.waiting > 0) return false;
    this.active++;
    return true;
  }

  /**
   * Takes a slot, waiting up to `timeoutMs` (0 = not at all) for one: true once taken, false when
   * the wait timed out. A slot taken must be given back with release() exactly once.
   */
  acquire(timeoutMs: number): true | Promise<boolean> {
    if (this.tryAcquire()) return true;
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const w: Waiter = { grant: resolve, timer: undefined };
      w.timer = setTimeout(() => {
        w.timer = undefined;
        const i = this.waiters.indexOf(w, this.head);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Gives a slot back; the longest-waiting request takes it. */
  release(): void {
    this.active--;
    while (this.waiting > 0 && this.active < this.limit) {
      const w = this.waiters[this.head]!;
      this.waiters[this.head++] = undefined as unknown as Waiter;
      if (this.head > 1024 && this.head * 2 > this.waiters.length) {
        this.waiters.splice(0, this.head);
        this.head = 0;
      }
      clearTimeout(w.timer);
      this.active++;
      w.grant(true);
    }
    if (this.waiting === 0 && this.head > 0) {
      this.waiters.length = 0;
      this.head = 0;
    }
  }
}
