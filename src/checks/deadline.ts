/**
 * withDeadline: the check toolkit's one deadline. It runs `work` with a signal of its own, aborted at
 * `timeoutMs` or when the caller's signal aborts, and settles with the work's result, or with
 * `expired(cause)` once the work has not answered `graceMs` after that abort (none: at once), even when the
 * work ignores its signal. A throw of the work becomes `failed(err)`. One timer and one listener on the
 * caller's signal per run (this path runs for every real of every cycle); both are gone once settled.
 */

import { onAbort } from '../util/abort.js';
import { patientTimeout, type CancelTimeout } from '../util/timer.js';

/** Why a deadline expired: its own timeout, or the caller's signal. */
export type DeadlineCause = 'timeout' | 'aborted';

export interface DeadlineOptions<T> {
  /** When the work's signal is aborted (ms from the start). */
  readonly timeoutMs: number;
  /** The caller's signal: aborting it aborts the work's signal too (and restarts the grace). */
  readonly signal: AbortSignal;
  /** How long the work may still answer after its signal is aborted (a timer, even for 0); absent: the deadline settles at once. */
  readonly graceMs?: number;
  /** The reason given to the work's signal when the deadline aborts it. */
  readonly abortReason: (cause: DeadlineCause) => unknown;
  /** The result when the work has not answered in time. */
  readonly expired: (cause: DeadlineCause) => T;
  /** The result when the work throws (or rejects) before the deadline has settled. */
  readonly failed: (err: unknown) => T;
  /** When set, the work's signal is aborted with this reason once the deadline has settled (tears down what the work left open). */
  readonly doneReason?: unknown;
}

export function withDeadline<T>(work: (signal: AbortSignal) => Promise<T>, o: DeadlineOptions<T>): Promise<T> {
  const ac = new AbortController();
  return new Promise<T>((resolve) => {
    let settled = false;
    let cancelTimer: CancelTimeout | undefined;
    const settle = (r: T): void => {
      if (settled) return;
      settled = true;
      cancelTimer?.();
      offOuter();
      if (o.doneReason !== undefined && !ac.signal.aborted) ac.abort(o.doneReason);
      resolve(r);
    };
    const expire = (cause: DeadlineCause): void => {
      if (settled) return;
      cancelTimer?.();
      if (!ac.signal.aborted) ac.abort(o.abortReason(cause));
      if (o.graceMs === undefined) settle(o.expired(cause));
      else cancelTimer = patientTimeout(() => settle(o.expired(cause)), o.graceMs);
    };
    // The outer signal is the cycle's, with a listener per check in flight: onAbort costs the same for any number.
    let offOuter = (): void => {};
    if (o.signal.aborted) expire('aborted');
    else {
      offOuter = onAbort(o.signal, () => expire('aborted'));
      cancelTimer = patientTimeout(() => expire('timeout'), o.timeoutMs);
    }
    let run: Promise<T>;
    try {
      run = work(ac.signal);
    } catch (err) {
      run = Promise.reject(err);
    }
    run.then(settle, (err: unknown) => {
      if (!settled) settle(o.failed(err));
    });
  });
}
