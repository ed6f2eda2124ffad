// checkspread's offsets and slots, and maxconcurrentchecks' limiter (src/checks/pacing.ts).
import { describe, expect, it } from 'vitest';
import { CheckLimiter, nextSlot, spreadOffset } from '../../src/checks/pacing.js';

describe('spreadOffset and nextSlot', () => {
  it('an offset is fixed for a virtual and real, within [0, interval), and differs between reals', () => {
    const a = spreadOffset('tcp:10.0.0.1:80', 'connect:tcp:10.0.0.2:80', 10_000);
    expect(spreadOffset('tcp:10.0.0.1:80', 'connect:tcp:10.0.0.2:80', 10_000)).toBe(a);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThan(10_000);
    const offsets = new Set<number>();
    for (let i = 1; i <= 200; i++) offsets.add(spreadOffset('tcp:10.0.0.1:80', `connect:tcp:10.0.1.${i}:80`, 10_000));
    expect(offsets.size).toBeGreaterThan(190);
    // spread over the interval: every tenth of it holds some
    const tenths = new Set([...offsets].map((o) => Math.floor(o / 1000)));
    expect(tenths.size).toBe(10);
    // the same real in another virtual gets its own offset
    expect(spreadOffset('tcp:10.0.0.9:80', 'connect:tcp:10.0.0.2:80', 10_000)).not.toBe(a);
  });

  it('nextSlot: the first time at or after `after` with that offset', () => {
    expect(nextSlot(1_000_000, 250, 10_000)).toBe(1_000_250);
    expect(nextSlot(1_000_250, 250, 10_000)).toBe(1_000_250);
    expect(nextSlot(1_000_251, 250, 10_000)).toBe(1_010_250);
    expect(nextSlot(1_009_999, 9_999, 10_000)).toBe(1_009_999);
  });
});

describe('CheckLimiter', () => {
  it('at most max holders; waiters served first come, first served', async () => {
    const l = new CheckLimiter(2);
    const order: number[] = [];
    const releases: (() => void)[] = [];
    const take = (n: number) =>
      l.acquire().then((r) => {
        order.push(n);
        releases.push(r);
      });
    const all = [1, 2, 3, 4, 5].map(take);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([1, 2]);
    expect(l.active).toBe(2);
    expect(l.waiting).toBe(3);
    releases[0]();
    releases[0](); // twice is once
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([1, 2, 3]);
    expect(l.active).toBe(2);
    releases[1]();
    releases[2]();
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([1, 2, 3, 4, 5]);
    await Promise.all(all);
    releases[3]();
    releases[4]();
    expect(l.active).toBe(0);
  });

  it('an aborted waiter leaves the queue without taking a slot', async () => {
    const l = new CheckLimiter(1);
    const first = await l.acquire();
    const ac = new AbortController();
    const cancelled = l.acquire(ac.signal);
    const next = l.acquire();
    ac.abort(new Error('stop'));
    await expect(cancelled).rejects.toThrow('stop');
    expect(l.waiting).toBe(1);
    first();
    const r = await next;
    expect(l.active).toBe(1);
    r();
    await expect(l.acquire(ac.signal)).rejects.toThrow('stop');
    expect(() => new CheckLimiter(0)).toThrow(RangeError);
  });
});
