/**
 * When checks start (ours, opt-in; the original starts every check of a pass at once):
 * - checkspread: each real's fixed offset within its checkinterval, and the slots that follow from it;
 * - maxconcurrentchecks: a limiter that lets at most N checks of the director run at once, the others
 *   waiting their turn in order.
 * No clock here: callers pass times (ms) from their injected clock.
 */

/** FNV-1a, 32 bits: a small, stable hash (the same offsets on every run, host and Node version). */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** spreadOffset: the real's offset in [0, intervalMs), from a hash of the virtual's id and the real's id. */
export function spreadOffset(vid: string, realKey: string, intervalMs: number): number {
  const span = Math.max(1, Math.floor(intervalMs));
  return fnv1a(`${vid}|${realKey}`) % span;
}

/** nextSlot: the first time >= `after` that lies `offsetMs` past a multiple of `intervalMs` (time 0 = the epoch). */
export function nextSlot(after: number, offsetMs: number, intervalMs: number): number {
  const span = Math.max(1, Math.floor(intervalMs));
  return offsetMs + Math.ceil((after - offsetMs) / span) * span;
}

/**
 * CheckLimiter: at most `max` holders at once; acquire() resolves in the order asked (first come, first
 * served). A waiter whose signal aborts leaves the queue (its acquire rejects with the signal's reason).
 */
export class CheckLimiter {
  private held = 0;
  private readonly queue: { grant: () => void; signal?: AbortSignal; onAbort?: () => void }[] = [];
  private head = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`CheckLimiter: max must be a positive integer, not ${max}`);
  }

  /** Checks holding a slot now. */
  get active(): number {
    return this.held;
  }

  /** Checks waiting for a slot now. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** Resolves with the slot's release function once the caller may start. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.held < this.max && this.waiting === 0) {
      this.held++;
      return Promise.resolve(this.releaser());
    }
    return new Promise<() => void>((resolve, reject) => {
      const w: { grant: () => void; signal?: AbortSignal; onAbort?: () => void } = {
        grant: () => {
          if (w.onAbort) signal?.removeEventListener('abort', w.onAbort);
          resolve(this.releaser());
        },
        signal,
      };
      if (signal) {
        w.onAbort = () => {
          const i = this.queue.indexOf(w, this.head);
          if (i >= 0) this.queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
    });
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.held--;
      this.grantNext();
    };
  }

  private grantNext(): void {
    while (this.held < this.max && this.head < this.queue.length) {
      const w = this.queue[this.head++];
      this.held++;
      w.grant();
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
