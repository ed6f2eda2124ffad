import { describe, it, expect } from 'vitest';
import { LagMonitor, SystemdNotifier, isAlive } from '../../src/observe/watchdog.js';
import type { ProcessRunner } from '../../src/util/process.js';

describe('watchdog', () => {
  it('measures the lag of a frozen event loop', async () => {
    const lag = new LagMonitor(20);
    lag.start();
    await new Promise((r) => setTimeout(r, 50));
    const until = Date.now() + 300;
    while (Date.now() < until) {
      /* freeze the loop, as a check that never yields would */
    }
    await new Promise((r) => setTimeout(r, 30));
    lag.stop();
    expect(lag.maxLagMs).toBeGreaterThanOrEqual(200);
  });

  it('withholds WATCHDOG=1 while the daemon is not alive, sends it when it is', async () => {
    const calls: string[][] = [];
    const runner: ProcessRunner = async (file, args) => {
      calls.push([file, ...args]);
      return { exitCode: 0, signal: null, timedOut: false, durationMs: 0, stdout: '', stderr: '' };
    };
    const n = new SystemdNotifier({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '200000' }, runner);
    expect(n.periodMs()).toBe(100);
    await n.ready();
    expect(calls[0]).toContain('READY=1');
    let alive = false;
    n.start(() => alive);
    await new Promise((r) => setTimeout(r, 250));
    expect(n.counters.withheld).toBeGreaterThanOrEqual(1);
    expect(calls.some((c) => c.includes('WATCHDOG=1'))).toBe(false);
    alive = true;
    await new Promise((r) => setTimeout(r, 250));
    n.stop();
    expect(calls.some((c) => c.includes('WATCHDOG=1'))).toBe(true);
  });

  it('does nothing outside systemd', async () => {
    const n = new SystemdNotifier({}, async () => {
      throw new Error('must not run');
    });
    expect(n.enabled).toBe(false);
    expect(n.periodMs()).toBeUndefined();
    await n.ready();
  });

  it('judges liveness from lag and cycle progress', () => {
    expect(isAlive({ lagMs: 10, lastCycleAt: 1000, cycleDeadlineMs: 5000 }, 4000, 1000, 0)).toBe(true);
    expect(isAlive({ lagMs: 5000, lastCycleAt: 1000, cycleDeadlineMs: 5000 }, 4000, 1000, 0)).toBe(false);
    expect(isAlive({ lagMs: 10, lastCycleAt: 1000, cycleDeadlineMs: 5000 }, 7000, 1000, 0)).toBe(false);
    expect(isAlive({ lagMs: 10, cycleDeadlineMs: 5000 }, 4000, 1000, 0)).toBe(true);
  });
});
