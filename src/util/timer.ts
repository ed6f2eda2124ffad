/**
 * patientTimeout: a timeout that a held-up event loop cannot turn into a false one.
 *
 * Node runs every timer that has come due before it polls for I/O. When the loop was held up for longer
 * than a timeout (a big reload, a director starved of CPU by other work), the timer would fire first,
 * and the answer that has been waiting in the kernel all along (a connect, a reply, a child's exit)
 * would be seen only afterwards: every check in flight fails at once and the table is quiesced for
 * nothing. So:
 * - the expiry waits one more turn of the loop (setImmediate runs after the poll phase): what completed
 *   in time is delivered first, and its handler cancels the expiry;
 * - a timer that fires late by more than HELD_UP_MS (or a tenth of its delay, if more) tells that the
 *   loop was held up: the time lost is given back once, capped at the delay itself, so that a check with
 *   more than one round trip (a connect, then a request and its answer) can finish what the director,
 *   not the real, kept it from doing. A real that does not answer is still down, at most one delay later.
 * On a loop that is not held up an expiry comes one turn later, far below a millisecond.
 */
import { onAbort } from './abort.js';

/** A timer late by more than this (or by a tenth of its delay, if more) means the loop was held up. */
export const HELD_UP_MS = 200;

/** Cancels a patientTimeout (timer or pending expiry); calling it again does nothing. */
export type CancelTimeout = () => void;

export interface PatientTimeoutOptions {
  /** Neither the timer nor the expiry keeps the process alive. */
  readonly unref?: boolean;
}

export function patientTimeout(onExpire: () => void, ms: number, opts: PatientTimeoutOptions = {}): CancelTimeout {
  const delay = Math.max(0, ms);
  let due = performance.now() + delay;
  let given = false;
  let immediate: NodeJS.Immediate | undefined;
  let timer: NodeJS.Timeout | undefined;
  const arm = (after: number): void => {
    timer = setTimeout(fire, after);
    if (opts.unref) timer.unref();
  };
  function fire(): void {
    timer = undefined;
    const late = performance.now() - due;
    if (!given && late > Math.max(HELD_UP_MS, delay / 10)) {
      given = true;
      const back = Math.min(late, Math.max(delay, 1));
      due += late + back;
      arm(back);
      return;
    }
    immediate = setImmediate(() => {
      immediate = undefined;
      onExpire();
    });
    if (opts.unref) immediate.unref();
  }
  arm(delay);
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    if (immediate !== undefined) clearImmediate(immediate);
    timer = undefined;
    immediate = undefined;
  };
}

/** An AbortSignal aborted (with a TimeoutError, as AbortSignal.timeout's) by a patientTimeout, and the way to cancel it. */
export function patientTimeoutSignal(ms: number): { readonly signal: AbortSignal; readonly cancel: CancelTimeout } {
  const ac = new AbortController();
  const cancel = patientTimeout(() => ac.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), ms, { unref: true });
  return { signal: ac.signal, cancel };
}

/**
 * Checks started within this long of each other, with the same timeout and signal, share one deadline
 * (enterDeadline): the later ones end at most this much before their own time would have come.
 */
export const DEADLINE_GROUP_MS = 1;

/** A member of a deadline group (enterDeadline): told once, by `expire`, that its deadline has come. */
export interface DeadlineMember {
  expire(): void;
}

/** One patientTimeout and one abort listener for the checks of a group (see enterDeadline). */
export class DeadlineGroup {
  private readonly members = new Set<DeadlineMember>();
  closed = false;
  private readonly cancelTimer: CancelTimeout;
  private readonly offAbort: () => void;

  constructor(
    readonly signal: AbortSignal,
    readonly ms: number,
    readonly at: number,
  ) {
    this.cancelTimer = patientTimeout(() => this.expire(), ms);
    this.offAbort = onAbort(signal, () => this.expire());
  }

  add(member: DeadlineMember): void {
    this.members.add(member);
  }

  /** `member` leaves before its deadline (it will not be told); the last one to leave cancels the timer. Again: nothing. */
  leave(member: DeadlineMember): void {
    if (this.members.delete(member) && this.members.size === 0) this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelTimer();
    this.offAbort();
    if (current === this) current = undefined;
  }

  private expire(): void {
    this.close();
    const members = [...this.members];
    this.members.clear();
    for (const m of members) {
      try {
        m.expire();
      } catch (err) {
        // as a timer's or a listener's own error: uncaught, and the other members still expire
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

let current: DeadlineGroup | undefined;

/**
 * enterDeadline tells `member` (its expire method) once `ms` have passed (as patientTimeout counts them)
 * or when `signal` aborts, whichever comes first, unless it left the returned group before. A check cycle
 * starts its checks in bursts (up to the scheduler's bound at once): those started within
 * DEADLINE_GROUP_MS of the group's first, with the same ms and signal, share its timer and its abort
 * listener, instead of a timer and a listener each (a node timer set and cleared per check was, in a
 * paced micro-benchmark of 200 connect checks a second, a quarter of the check's whole CPU). The group's
 * timer is cancelled when its last member leaves. A signal already aborted does not expire it (as
 * onAbort): only the delay does. The member is an object rather than a callback so that a check that is
 * itself an object (the connect check on a bare handle) joins without a closure of its own.
 */
export function enterDeadline(signal: AbortSignal, ms: number, member: DeadlineMember): DeadlineGroup {
  const now = performance.now();
  let g = current;
  if (g === undefined || g.closed || g.signal !== signal || g.ms !== ms || now - g.at > DEADLINE_GROUP_MS) {
    g = new DeadlineGroup(signal, ms, now);
    current = g;
  }
  g.add(member);
  return g;
}
