/**
 * enterDeadline (src/util/timer.ts): checks started at the same moment with the same timeout and signal
 * share one patientTimeout and one abort listener; each still expires once, unless it left before.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEADLINE_GROUP_MS, enterDeadline, HELD_UP_MS } from '../../src/util/timer.js';

/** Joins a member that calls `onExpire`; returns the way for it to leave (as the connect check leaves its group). */
function joinDeadline(signal: AbortSignal, ms: number, onExpire: () => void): () => void {
  const member = { expire: onExpire };
  const group = enterDeadline(signal, ms, member);
  return () => group.leave(member);
}

/** Counts the timers set and cleared from now on (patientTimeout uses the global setTimeout and clearTimeout). */
function countTimers(): { set: () => number; cleared: () => number } {
  const set = vi.spyOn(globalThis, 'setTimeout');
  const cleared = vi.spyOn(globalThis, 'clearTimeout');
  return { set: () => set.mock.calls.length, cleared: () => cleared.mock.calls.length };
}
afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * Stops performance.now() at its present value until vi.restoreAllMocks(), so that joins made one after
 * the other count as one moment even when the machine preempts this process between them (a busy CI
 * machine did, once: two groups where one was expected). Returns the way to move it on.
 */
function freezeNow(): (ms: number) => void {
  let now = performance.now();
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  return (ms) => {
    now += ms;
  };
}
const never = new AbortController().signal;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Holds the event loop for `ms` (a synchronous piece of work). */
function hold(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* busy */
  }
}

describe('enterDeadline', () => {
  it('members joined at once share one timer; each expires once, those that left do not', async () => {
    const t = countTimers();
    freezeNow();
    const called: number[] = [];
    const leave = [0, 1, 2, 3].map((i) => joinDeadline(never, 40, () => called.push(i)));
    expect(t.set()).toBe(1);
    leave[1]!();
    leave[1]!(); // again: nothing
    vi.restoreAllMocks();
    await sleep(150);
    expect(called.sort()).toEqual([0, 2, 3]);
    leave[0]!(); // after the expiry: nothing
  });

  it('the last member leaving cancels the timer: nothing expires, no timer is left', async () => {
    const t = countTimers();
    freezeNow();
    const called: string[] = [];
    const leave = ['a', 'b'].map((k) => joinDeadline(never, 30, () => called.push(k)));
    leave[0]!();
    expect(t.cleared()).toBe(0);
    leave[1]!();
    expect([t.set(), t.cleared()]).toEqual([1, 1]);
    vi.restoreAllMocks();
    // a member joining now starts a group of its own, with its own full delay
    const t0 = performance.now();
    const at = await new Promise<number>((resolve) => joinDeadline(never, 30, () => resolve(performance.now() - t0)));
    expect(at).toBeGreaterThanOrEqual(29);
    await sleep(50);
    expect(called).toEqual([]);
  });

  it('an abort expires every member at once; on a signal already aborted only the delay expires it', async () => {
    const ac = new AbortController();
    const called: number[] = [];
    for (const i of [1, 2, 3]) joinDeadline(ac.signal, 60_000, () => called.push(i));
    ac.abort();
    expect(called).toEqual([1, 2, 3]);
    const late: number[] = [];
    joinDeadline(ac.signal, 20, () => late.push(1));
    expect(late).toEqual([]);
    await sleep(80);
    expect(late).toEqual([1]);
  });

  it('another delay, another signal, or a start later than DEADLINE_GROUP_MS makes another group', async () => {
    const t = countTimers();
    const advance = freezeNow();
    const ac = new AbortController();
    const leave = [joinDeadline(never, 1000, () => {}), joinDeadline(never, 2000, () => {}), joinDeadline(ac.signal, 2000, () => {})];
    expect(t.set()).toBe(3);
    advance(DEADLINE_GROUP_MS); // still within the group's window
    leave.push(joinDeadline(ac.signal, 2000, () => {}));
    expect(t.set()).toBe(3); // the same as the third
    advance(1);
    leave.push(joinDeadline(ac.signal, 2000, () => {}));
    expect(t.set()).toBe(4);
    leave.forEach((l) => l());
    expect(t.cleared()).toBe(4);
  });

  it('a member that throws does not keep the others from expiring (its error is uncaught, as a timer\'s)', async () => {
    const errors: unknown[] = [];
    const onErr = (e: unknown) => errors.push(e);
    // vitest's own handler would fail the run: take the uncaught error here for this case
    const saved = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onErr);
    try {
      const called: number[] = [];
      joinDeadline(never, 10, () => called.push(1));
      joinDeadline(never, 10, () => {
        throw new Error('boom');
      });
      joinDeadline(never, 10, () => called.push(3));
      await sleep(80);
      expect(called).toEqual([1, 3]);
      expect(errors.map((e) => (e as Error).message)).toEqual(['boom']);
    } finally {
      process.removeListener('uncaughtException', onErr);
      for (const l of saved) process.on('uncaughtException', l);
    }
  });

  it('a member object is told on itself (its expire method sees its own fields), once, and may leave the group it was given', () => {
    class Check {
      expired = 0;
      expire(): void {
        this.expired++;
      }
    }
    freezeNow(); // the two joins count as one moment even if the machine preempts the process between them
    const ac = new AbortController();
    const a = new Check();
    const b = new Check();
    const group = enterDeadline(ac.signal, 60_000, a);
    expect(enterDeadline(ac.signal, 60_000, b)).toBe(group);
    group.leave(b);
    ac.abort();
    ac.abort();
    expect([a.expired, b.expired]).toEqual([1, 0]);
    group.leave(a); // after the expiry: nothing
  });

  it('a loop held up past the delay gives the group its time back once, as patientTimeout does', async () => {
    const t0 = performance.now();
    const at = await new Promise<number>((resolve) => {
      joinDeadline(never, 50, () => resolve(performance.now() - t0));
      hold(HELD_UP_MS * 2);
    });
    expect(at).toBeGreaterThanOrEqual(HELD_UP_MS * 2 + 50);
  });
});
