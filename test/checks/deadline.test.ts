/** withDeadline, the checks' one deadline: driven by fake timers (no real waiting). */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withDeadline, type DeadlineCause } from '../../src/checks/deadline.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/**
 * Moves the fake clock on by `ms`, then by one more millisecond: a check's timer expires in the turn of
 * the loop after the one it came due in (src/util/timer.ts: the poll phase goes first), and the fake
 * clock runs an immediate set up by a timer only 1 ms later.
 */
async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await vi.advanceTimersByTimeAsync(1);
}

interface Seen {
  signal?: AbortSignal;
}

function opts(outer: AbortSignal, graceMs?: number) {
  return {
    timeoutMs: 1000,
    signal: outer,
    graceMs,
    abortReason: (cause: DeadlineCause) => `reason:${cause}`,
    expired: (cause: DeadlineCause) => `expired:${cause}`,
    failed: (err: unknown) => `failed:${String(err)}`,
  };
}

/** A work that never answers by itself; it resolves with `answer` once its signal aborts, if given. */
function stuck(seen: Seen, answer?: string): (signal: AbortSignal) => Promise<string> {
  return (signal) => {
    seen.signal = signal;
    return new Promise((resolve) => {
      if (answer !== undefined) signal.addEventListener('abort', () => resolve(answer));
    });
  };
}

describe('withDeadline', () => {
  it('settles with the work when it answers in time; its signal stays unaborted', async () => {
    const seen: Seen = {};
    const r = await withDeadline(async (signal) => {
      seen.signal = signal;
      return 'answer';
    }, opts(new AbortController().signal));
    expect(r).toBe('answer');
    expect(seen.signal?.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('without grace it settles at the timeout, even for a work that ignores its signal', async () => {
    const seen: Seen = {};
    const p = withDeadline(stuck(seen), opts(new AbortController().signal));
    await advance(999);
    expect(seen.signal?.aborted).toBe(false);
    await advance(1);
    expect(await p).toBe('expired:timeout');
    expect(seen.signal?.reason).toBe('reason:timeout');
  });

  it('with a grace, a work that answers its abort in time still wins; one that does not is abandoned', async () => {
    const listening: Seen = {};
    const p1 = withDeadline(stuck(listening, 'cut short'), opts(new AbortController().signal, 50));
    await advance(1000);
    expect(await p1).toBe('cut short');

    const deaf: Seen = {};
    let settled: string | undefined;
    const p2 = withDeadline(stuck(deaf), opts(new AbortController().signal, 50)).then((r) => (settled = r));
    await advance(1049);
    expect(settled).toBeUndefined();
    await advance(1);
    expect(await p2).toBe('expired:timeout');
  });

  it("the caller's abort aborts the work with the caller's cause; an aborted caller expires at once", async () => {
    const outer = new AbortController();
    const seen: Seen = {};
    const p = withDeadline(stuck(seen), opts(outer.signal));
    outer.abort();
    expect(await p).toBe('expired:aborted');
    expect(seen.signal?.reason).toBe('reason:aborted');

    const again: Seen = {};
    expect(await withDeadline(stuck(again), opts(outer.signal))).toBe('expired:aborted');
    expect(again.signal?.aborted).toBe(true);
  });

  it('a throw, synchronous or not, becomes failed(err)', async () => {
    const outer = new AbortController().signal;
    expect(
      await withDeadline(() => {
        throw new Error('sync');
      }, opts(outer)),
    ).toBe('failed:Error: sync');
    expect(await withDeadline(async () => Promise.reject(new Error('async')), opts(outer))).toBe('failed:Error: async');
  });

  it('doneReason aborts the work signal once settled (what the work left open is torn down)', async () => {
    const seen: Seen = {};
    const r = await withDeadline(
      async (signal) => {
        seen.signal = signal;
        return 'ok';
      },
      { ...opts(new AbortController().signal), doneReason: 'done' },
    );
    expect(r).toBe('ok');
    expect(seen.signal?.reason).toBe('done');
  });
});
