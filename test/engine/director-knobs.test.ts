// The tuning directives in the director (ours, issue 20), on the injected clock (ManualClock: no real-time
// waits decide anything): maxconcurrentchecks (a cap on checks in flight, late starts logged once per
// burst, timeouts counted from each check's start), checkspread (each real at its own offset, the first
// time too; a hung check holds up nobody) and slowstart stepped once per cycle.
import { describe, expect, it } from 'vitest';
import { createDirector } from '../../src/engine/director.js';
import { systemHost } from '../../src/daemon/host.js';
import { SimDriver } from '../../src/ipvs-sim/sim-driver.js';
import { nextSlot, spreadOffset } from '../../src/checks/pacing.js';
import { realIdString } from '../../src/checks/target.js';
import type { CheckJob, CheckResult } from '../../src/checks/types.js';
import type { Config } from '../../src/model/config.js';
import { ManualClock } from '../../src/util/clock.js';
import { cfg, UP, DOWN } from './helpers.js';

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Lets the director's promise chains run (no time passes on the ManualClock). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

interface Pending {
  readonly ip: string;
  readonly signal: AbortSignal;
  resolve(r: CheckResult): void;
}

/** A check runner whose checks end when the test says; counts how many run at once. */
function heldChecks() {
  const pending: Pending[] = [];
  const started: string[] = [];
  let running = 0;
  let most = 0;
  const runCheck = (job: CheckJob, signal: AbortSignal): Promise<CheckResult> => {
    started.push(job.real.ip);
    running++;
    most = Math.max(most, running);
    return new Promise<CheckResult>((resolve) => {
      const p: Pending = {
        ip: job.real.ip,
        signal,
        resolve: (r) => {
          running--;
          resolve(r);
        },
      };
      pending.push(p);
      signal.addEventListener('abort', () => p.resolve({ ok: false, status: 'l4-timeout', message: 'cancelled', durationMs: 0 }), { once: true });
    });
  };
  return {
    runCheck,
    pending,
    started,
    get running() {
      return running;
    },
    get most() {
      return most;
    },
    /** Ends the oldest check still running with `r`. */
    finishOne(r: CheckResult = UP): void {
      const p = pending.shift();
      if (!p) throw new Error('no check running');
      p.resolve(r);
    },
  };
}

const six = (extra: string) => `
checkinterval=5
${extra}
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	real=10.0.0.2:80 masq
	real=10.0.0.3:80 masq
	real=10.0.0.4:80 masq
	real=10.0.0.5:80 masq
	real=10.0.0.6:80 masq
	checktype=connect
`;

describe('director: maxconcurrentchecks', () => {
  it('without it, the start-up pass runs every check at once (the original: one pass)', async () => {
    const h = heldChecks();
    const d = createDirector({ host: systemHost, driver: new SimDriver(), clock: new ManualClock(0), hostname: 'lb1', runCheck: h.runCheck });
    const started = d.start(await cfg(six('')));
    await until(() => h.running === 6, 'six checks in flight');
    while (h.pending.length) h.finishOne();
    await started;
    expect(h.most).toBe(6);
    await d.stop();
  });

  it('maxconcurrentchecks=2: never more than 2 in flight, the others start in order as slots free; none is skipped', async () => {
    const h = heldChecks();
    const sim = new SimDriver();
    const logs: string[] = [];
    const d = createDirector({ host: systemHost, driver: sim, clock: new ManualClock(0), hostname: 'lb1', runCheck: h.runCheck, log: (_l, m) => logs.push(m) });
    const started = d.start(await cfg(six('maxconcurrentchecks=2')));
    await until(() => h.running === 2, 'two checks in flight');
    await settle();
    expect(h.started).toEqual(['10.0.0.1', '10.0.0.2']);
    for (let n = 3; n <= 6; n++) {
      h.finishOne();
      await until(() => h.started.length === n, `check ${n} started`);
      await settle();
      expect(h.running).toBe(2);
    }
    while (h.pending.length) h.finishOne();
    await started;
    expect(h.most).toBe(2);
    expect(h.started).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    expect(sim.save().split('\n').filter((l) => l.startsWith('-a')).length).toBe(6);
    expect(logs.filter((l) => l.includes('maxconcurrentchecks'))).toEqual([]); // nobody waited an interval
    await d.stop();
  });

  it('a wait longer than checkinterval is logged once per burst; the wait is not a failure (the timeout starts with the check)', async () => {
    const h = heldChecks();
    const clock = new ManualClock(0);
    const sim = new SimDriver();
    const logs: string[] = [];
    const d = createDirector({ host: systemHost, driver: sim, clock, hostname: 'lb1', runCheck: h.runCheck, log: (l, m) => logs.push(`${l}: ${m}`) });
    const started = d.start(await cfg(six('maxconcurrentchecks=1\nfailurecount=1')));
    await until(() => h.running === 1, 'one check in flight');
    // The first check hangs for 12 s of the injected clock (less than no timeout here: the test decides),
    // longer than checkinterval=5: the five others wait.
    clock.advance(12_000);
    h.finishOne();
    await until(() => h.started.length === 2, 'the second check started');
    await settle();
    const late = logs.filter((l) => l.includes('maxconcurrentchecks'));
    expect(late).toHaveLength(1);
    expect(late[0]).toMatch(/^warn: Checks wait longer than their checkinterval for one of maxconcurrentchecks=1 slots: 10\.0\.0\.2:80 \(tcp:192\.168\.6\.1:80\) started 12\.0 s late, 4 more waiting$/);
    // The others start late too: no more warnings in this burst.
    for (let n = 3; n <= 6; n++) {
      h.finishOne();
      await until(() => h.started.length === n, `check ${n} started`);
    }
    h.finishOne();
    await started;
    await settle();
    expect(logs.filter((l) => l.includes('maxconcurrentchecks'))).toEqual([
      late[0],
      'info: Check queue caught up: 5 checks started later than their checkinterval (maxconcurrentchecks=1)',
    ]);
    // Every check answered up: waiting cost nothing, all six are in the table.
    expect(sim.save().split('\n').filter((l) => l.startsWith('-a')).length).toBe(6);
    expect(d.snapshot().reals.every((r) => r.state === 'up')).toBe(true);
    // A later burst is logged again.
    clock.advance(5000);
    await until(() => h.running === 1, 'the next cycle');
    clock.advance(20_000);
    h.finishOne();
    await until(() => logs.filter((l) => l.startsWith('warn: Checks wait')).length === 2, 'a second burst logged');
    await d.stop();
  });
});

describe('director: checkspread', () => {
  const spread = (extra = '') => `
checkinterval=10
checkspread=yes
${extra}
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	real=10.0.0.2:80 masq
	real=10.0.0.3:80 masq
	real=10.0.0.4:80 masq
	checktype=connect
`;
  /** Each real's first slot after `from`, from the same hash the director uses. */
  function slots(c: Config, from: number): Map<string, number> {
    const v = c.virtuals[0];
    return new Map(v.reals.map((r) => [r.ip, nextSlot(from, spreadOffset(v.vid, realIdString(v, r), 10_000), 10_000)]));
  }

  it('the first check of each real is at its own offset (not in the start), later ones every checkinterval at the same offset', async () => {
    const clock = new ManualClock(1_000_000);
    const checked: { ip: string; at: number }[] = [];
    const d = createDirector({
      host: systemHost,
      driver: new SimDriver(),
      clock,
      hostname: 'lb1',
      runCheck: async (job) => {
        checked.push({ ip: job.real.ip, at: clock.now() });
        return UP;
      },
    });
    const c = await cfg(spread());
    await d.start(c);
    expect(checked).toEqual([]); // the start did not check them all at once
    const want = slots(c, 1_000_000);
    const offsets = [...want.values()].map((t) => t - 1_000_000);
    expect(new Set(offsets).size).toBe(4); // four different offsets within the interval
    for (const o of offsets) expect(o >= 0 && o < 10_000).toBe(true);
    // Walk the injected clock through two intervals in 50 ms steps.
    for (let t = 0; t < 20_000; t += 50) {
      clock.advance(50);
      await settle();
    }
    await d.stop();
    const byReal = new Map<string, number[]>();
    for (const x of checked) byReal.set(x.ip, [...(byReal.get(x.ip) ?? []), x.at]);
    for (const [ip, first] of want) {
      const at = byReal.get(ip) ?? [];
      expect(at.length, ip).toBe(2);
      // at its slot, within one clock step (plus the loop's gathering quantum)
      expect(at[0] - first, ip).toBeGreaterThanOrEqual(0);
      expect(at[0] - first, ip).toBeLessThan(50 + 20 + 1);
      expect(at[1] - (first + 10_000), ip).toBeGreaterThanOrEqual(0);
      expect(at[1] - (first + 10_000), ip).toBeLessThan(50 + 20 + 1);
    }
    // the order of the first checks is the order of the offsets
    const order = [...want.entries()].sort((a, b) => a[1] - b[1]).map(([ip]) => ip);
    expect(checked.slice(0, 4).map((x) => x.ip)).toEqual(order);
  });

  it('a check that hangs holds up nobody: the others go on at their slots', async () => {
    const clock = new ManualClock(0);
    const checked: string[] = [];
    const d = createDirector({
      host: systemHost,
      driver: new SimDriver(),
      clock,
      hostname: 'lb1',
      runCheck: (job, signal) => {
        checked.push(job.real.ip);
        if (job.real.ip !== '10.0.0.1') return Promise.resolve(UP);
        return new Promise<CheckResult>((resolve) => signal.addEventListener('abort', () => resolve(DOWN), { once: true }));
      },
    });
    await d.start(await cfg(spread()));
    for (let t = 0; t < 30_000; t += 100) {
      clock.advance(100);
      await settle();
    }
    await d.stop();
    const count = (ip: string) => checked.filter((x) => x === ip).length;
    expect(count('10.0.0.1')).toBe(1); // still in its first check
    for (const ip of ['10.0.0.2', '10.0.0.3', '10.0.0.4']) expect(count(ip), ip).toBe(3);
  });

  it('a real a reload adds gets its slot (not a burst at the reload); kept reals keep theirs', async () => {
    const clock = new ManualClock(0);
    const checked: { ip: string; at: number }[] = [];
    const d = createDirector({
      host: systemHost,
      driver: new SimDriver(),
      clock,
      hostname: 'lb1',
      runCheck: async (job) => {
        checked.push({ ip: job.real.ip, at: clock.now() });
        return UP;
      },
    });
    await d.start(await cfg(spread()));
    for (let t = 0; t < 10_000; t += 50) {
      clock.advance(50);
      await settle();
    }
    expect(checked).toHaveLength(4);
    const c2 = await cfg(spread().replace('\tchecktype=connect', '\treal=10.0.0.5:80 masq\n\tchecktype=connect'));
    await d.reload(c2);
    expect(checked).toHaveLength(4); // the reload checked nobody at once
    const fifth = slots(c2, clock.now()).get('10.0.0.5')!;
    for (let t = 0; t < 10_000; t += 50) {
      clock.advance(50);
      await settle();
    }
    await d.stop();
    const at5 = checked.filter((x) => x.ip === '10.0.0.5').map((x) => x.at);
    expect(at5).toHaveLength(1);
    expect(at5[0] - fifth).toBeGreaterThanOrEqual(0);
    expect(at5[0] - fifth).toBeLessThan(50 + 20 + 1);
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']) expect(checked.filter((x) => x.ip === ip), ip).toHaveLength(2);
  });

  it('checkspread=no in a virtual keeps the original pass for it (checked in the start), the other is spread', async () => {
    const clock = new ManualClock(0);
    const checked: string[] = [];
    const d = createDirector({
      host: systemHost,
      driver: new SimDriver(),
      clock,
      hostname: 'lb1',
      runCheck: async (job) => {
        checked.push(job.real.ip);
        return UP;
      },
    });
    await d.start(await cfg(spread() + 'virtual=192.168.6.2:80\n\treal=10.0.1.1:80 masq\n\treal=10.0.1.2:80 masq\n\tcheckspread=no\n\tchecktype=connect\n'));
    expect(checked).toEqual(['10.0.1.1', '10.0.1.2']);
    await d.stop();
  });
});

describe('director: slowstart', () => {
  it('the weight steps once per cycle, in the cycle\'s table write', async () => {
    const clock = new ManualClock(0);
    const sim = new SimDriver();
    const health: Record<string, CheckResult> = { '10.0.0.1': UP, '10.0.0.2': UP };
    let cycles = 0;
    const d = createDirector({
      host: systemHost,
      driver: sim,
      clock,
      hostname: 'lb1',
      runCheck: async (job) => health[job.real.ip],
    });
    const weight = () => Number(/-r 10\.0\.0\.1:80 -m -w (\d+)/.exec(sim.save())?.[1] ?? NaN);
    await d.start(await cfg(`
checkinterval=2
slowstart=8
quiescent=no
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq 8
	real=10.0.0.2:80 masq 8
	checktype=connect
`));
    expect(weight()).toBe(8); // the start: full weight at once
    const cycle = async () => {
      cycles = d.cycleCount();
      clock.advance(2000);
      await until(() => d.cycleCount() > cycles, 'a cycle');
      await settle();
    };
    health['10.0.0.1'] = DOWN;
    await cycle();
    expect(weight()).toBeNaN();
    health['10.0.0.1'] = UP;
    await cycle();
    expect(weight()).toBe(1);
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) {
      await cycle();
      seen.push(weight());
    }
    expect(seen).toEqual([2, 4, 6, 8]);
    await d.stop();
  });
});
