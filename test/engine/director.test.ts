import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createDirector } from '../../src/engine/director.js';
import { maintenanceLookup } from '../../src/engine/maintenance.js';
import { systemHost } from '../../src/daemon/host.js';
import type { RealServer } from '../../src/model/config.js';
import type { EngineEvent } from '../../src/engine/types.js';
import { SimDriver } from '../../src/ipvs-sim/sim-driver.js';
import type { IpvsTable } from '../../src/ipvs/types.js';
import type { CheckJob, CheckResult } from '../../src/checks/types.js';
import { ManualClock } from '../../src/util/clock.js';
import type { ProcessRunner } from '../../src/util/process.js';
import { cfg, UP, DOWN } from './helpers.js';

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Advances the manual clock a second at a time (up to 120 s) until pred holds. */
async function advanceUntil(clock: ManualClock, pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 120 && !pred(); i++) {
    clock.advance(1000);
    await new Promise((r) => setTimeout(r, 5));
  }
  await until(pred, what);
}

describe('director', () => {
  it('reads the table back every verifyMs and repairs an entry an admin removed by hand', async () => {
    const clock = new ManualClock(0);
    const sim = new SimDriver();
    const d = createDirector({ host: systemHost, driver: sim, clock, hostname: 'lb1', verifyMs: 30_000, runCheck: async () => UP });
    await d.start(await cfg(`
checkinterval=10
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	checktype=connect
`));
    expect(sim.save()).toContain('-r 10.0.0.1:80');
    sim.run(['-d', '-t', '192.168.6.1:80', '-r', '10.0.0.1:80']);
    expect(sim.save()).not.toContain('-r 10.0.0.1:80');
    clock.advance(10_000); // a cycle, no change, not yet time to verify
    await new Promise((r) => setTimeout(r, 30));
    expect(sim.save()).not.toContain('-r 10.0.0.1:80');
    for (let i = 0; i < 3; i++) {
      clock.advance(10_000);
      await new Promise((r) => setTimeout(r, 30));
    }
    await until(() => sim.save().includes('-r 10.0.0.1:80'), 'the real put back');
    await d.stop();
  });

  it('without readbackinterval (the default, as the original) the table is not read while nothing changes; with it, every that many seconds', async () => {
    const config = (extra: string) =>
      cfg(`${extra}checkinterval=10
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	checktype=connect
`);
    for (const [extra, repaired] of [
      ['', false],
      ['readbackinterval=0\n', false],
      ['readbackinterval=20\n', true],
    ] as const) {
      const clock = new ManualClock(0);
      const sim = new SimDriver();
      let reads = 0;
      const driver = {
        read: () => {
          reads++;
          return sim.read();
        },
        apply: sim.apply.bind(sim),
      };
      const d = createDirector({ host: systemHost, driver, clock, hostname: 'lb1', runCheck: async () => UP, log: () => {} });
      await d.start(await config(extra));
      expect(sim.save(), extra).toContain('-r 10.0.0.1:80');
      sim.run(['-d', '-t', '192.168.6.1:80', '-r', '10.0.0.1:80']);
      const before = reads;
      for (let i = 0; i < 3; i++) {
        clock.advance(10_000); // three cycles, 30 s: every check up, no change
        await new Promise((r) => setTimeout(r, 30));
      }
      if (repaired) {
        await until(() => sim.save().includes('-r 10.0.0.1:80'), 'the real put back');
        expect(reads, extra).toBeGreaterThan(before);
      } else {
        await new Promise((r) => setTimeout(r, 50));
        expect(sim.save(), extra).not.toContain('-r 10.0.0.1:80');
        expect(reads, extra).toBe(before);
      }
      await d.stop();
    }
  });

  it('starts over an unreadable table (as the original does), logs it and syncs once ipvsadm works', async () => {
    const clock = new ManualClock(0);
    const sim = new SimDriver();
    let broken = 3; // start's read and both syncs of the start fail (no IPVS module yet)
    const driver = {
      read: async () => {
        if (broken > 0) {
          broken--;
          throw new Error("ipvsadm -L -n: Can't initialize ipvs: Protocol not available");
        }
        return sim.read();
      },
      apply: (cmds: Parameters<SimDriver['apply']>[0]) => sim.apply(cmds),
    };
    const logs: string[] = [];
    const d = createDirector({ host: systemHost, driver, clock, hostname: 'lb1', runCheck: async () => UP, log: (_l, m) => logs.push(m) });
    d.onEvent((e) => {
      if (e.type === 'log') logs.push(e.message);
    });
    await d.start(await cfg(`
checkinterval=5
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	checktype=connect
`));
    expect(logs.some((l) => l.startsWith("Can not read the IPVS table (will retry): ipvsadm -L -n: Can't initialize ipvs"))).toBe(true);
    expect(logs).toContain('Added virtual server: 192.168.6.1:80');
    expect(sim.save()).toBe('');
    expect(d.snapshot().ipvsadm.failures).toBe(3);
    clock.advance(5000); // the next cycle retries the sync, which now works
    await until(() => sim.save().includes('-r 10.0.0.1:80'), 'the table written after ipvsadm recovered');
    expect(sim.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 1\n');
    await d.stop();
  });

  it('start and reload plan their first write against the table they just read (no second read); later syncs read again', async () => {
    const clock = new ManualClock(0);
    const sim = new SimDriver();
    const ops: string[] = [];
    const driver = {
      read: async () => (ops.push('read'), sim.read()),
      apply: async (cmds: Parameters<SimDriver['apply']>[0]) => (ops.push(`apply ${cmds.map((c) => c.op).join(',')}`), sim.apply(cmds)),
    };
    const d = createDirector({ host: systemHost, driver, clock, hostname: 'lb1', runCheck: async () => UP });
    await d.start(await cfg(`checkinterval=5\nquiescent=no\nvirtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\tchecktype=connect\n`));
    expect(ops.map((o) => o.split(' ')[0])).toEqual(['read', 'apply', 'read', 'apply']);
    expect(sim.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 1\n');
    ops.length = 0;
    await d.reload(await cfg(`checkinterval=5\nquiescent=no\nvirtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\treal=10.0.0.2:80 masq\n\tscheduler=rr\n\tchecktype=connect\n`));
    expect(ops.map((o) => o.split(' ')[0])).toEqual(['read', 'apply', 'read', 'apply']);
    expect(sim.save()).toBe('-A -t 192.168.6.1:80 -s rr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 1\n-a -t 192.168.6.1:80 -r 10.0.0.2:80 -m -w 1\n');
    // A reload that changes nothing in the table leaves nothing to reuse: the next sync reads.
    ops.length = 0;
    await d.reload(await cfg(`checkinterval=5\nquiescent=no\nvirtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\treal=10.0.0.2:80 masq\n\treal=10.0.0.3:80 masq\n\tscheduler=rr\n\tchecktype=connect\n`));
    expect(ops.map((o) => o.split(' ')[0])).toEqual(['read', 'read', 'apply']);
    await d.stop();
  });

  it('a driver that lists the table back with its batch: the next change is planned against that listing (no read); a read every verifyMs, and after a failed batch', async () => {
    const clock = new ManualClock(0);
    const sim = new SimDriver();
    const ops: string[] = [];
    const readAt: number[] = [];
    let refuse = 0;
    let applied: IpvsTable | undefined;
    const driver = {
      read: async () => (ops.push('read'), readAt.push(clock.now()), sim.read()),
      apply: async (cmds: Parameters<SimDriver['apply']>[0]) => {
        ops.push(`apply ${cmds.map((c) => c.op).join(',')}`);
        applied = undefined;
        if (refuse > 0 && refuse--) return cmds.map((command) => ({ command, ok: false, error: 'refused', commandLine: 'ipvsadm' }));
        const r = await sim.apply(cmds);
        if (r.every((x) => x.ok)) applied = await sim.read();
        return r;
      },
      appliedTable: () => applied,
    };
    const stepUntil = (pred: () => boolean, what: string) => advanceUntil(clock, pred, what);
    let up = true;
    const d = createDirector({ host: systemHost, driver, clock, hostname: 'lb1', verifyMs: 30_000, runCheck: async () => (up ? UP : DOWN), log: () => {} });
    await d.start(await cfg(`checkinterval=5\nquiescent=no\nvirtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\tchecktype=connect\n`));
    // start reads once; the real's add is planned against the service add's listing
    expect(ops).toEqual(['read', 'apply add-service', 'apply add-dest']);
    ops.length = 0;
    up = false;
    await stepUntil(() => !sim.save().includes('10.0.0.1'), 'the real removed');
    expect(ops).toEqual(['apply delete-dest']);
    up = true;
    refuse = 1; // the add fails once: the sync that retries it reads the table first
    await stepUntil(() => sim.save().includes('10.0.0.1'), 'the real added after the failure');
    expect(ops).toEqual(['apply delete-dest', 'apply add-dest', 'read', 'apply add-dest']);
    // a table changed by hand is seen at the next verify, 30 s after the last read, and repaired
    const lastRead = readAt[readAt.length - 1];
    sim.run(['-d', '-t', '192.168.6.1:80', '-r', '10.0.0.1:80']);
    ops.length = 0;
    await stepUntil(() => sim.save().includes('10.0.0.1'), 'repaired at the verify');
    expect(ops).toEqual(['read', 'apply add-dest']);
    expect(readAt[readAt.length - 1] - lastRead).toBeGreaterThanOrEqual(30_000);
    expect(readAt[readAt.length - 1] - lastRead).toBeLessThan(30_000 + 6000); // the first round after it
    await d.stop();
  });

  it('a batch whose own listing shows an entry deleted by hand behind it: one more batch at once puts it back, without a read', async () => {
    const clock = new ManualClock(0);
    const sim = new SimDriver();
    const ops: string[] = [];
    let applied: IpvsTable | undefined;
    const driver = {
      read: async () => (ops.push('read'), sim.read()),
      apply: async (cmds: Parameters<SimDriver['apply']>[0]) => {
        ops.push(`apply ${cmds.map((c) => `${c.op} ${'dest' in c ? c.dest.rs.replace(/:80$/, '') : ''}`.trim()).join(',')}`);
        const r = await sim.apply(cmds);
        applied = r.every((x) => x.ok) ? await sim.read() : undefined;
        return r;
      },
      appliedTable: () => applied,
    };
    const stepUntil = (pred: () => boolean, what: string) => advanceUntil(clock, pred, what);
    const up = new Set(['10.0.0.1', '10.0.0.2']);
    const d = createDirector({ host: systemHost, driver, clock, hostname: 'lb1', verifyMs: 30_000, runCheck: async (job) => (up.has(job.real.ip) ? UP : DOWN), log: () => {} });
    await d.start(await cfg(`checkinterval=1\nquiescent=no\nvirtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\treal=10.0.0.2:80 masq\n\treal=10.0.0.3:80 masq\n\tchecktype=connect\n`));
    await stepUntil(() => sim.save().includes('10.0.0.2'), 'both live reals in');
    // An admin deletes 10.0.0.1; then 10.0.0.3 comes up: its add is planned against the last listing (which
    // still has 10.0.0.1), and that batch's own listing shows 10.0.0.1 gone: the next batch restores it.
    sim.run(['-d', '-t', '192.168.6.1:80', '-r', '10.0.0.1:80']);
    ops.length = 0;
    up.add('10.0.0.3');
    await stepUntil(() => sim.save().includes('10.0.0.3') && sim.save().includes('10.0.0.1'), 'the new real in and the deleted one back');
    expect(ops).toEqual(['apply add-dest 10.0.0.3', 'apply add-dest 10.0.0.1']);
    expect(clock.now()).toBeLessThan(30_000); // long before the verify read
    // Nothing more to do: no further batch, and no read before the verify is due.
    ops.length = 0;
    clock.advance(5000);
    await new Promise((r) => setTimeout(r, 50));
    expect(ops).toEqual([]);
    await d.stop();
  });

  it('start runs a first full pass, the loop rechecks every checkinterval, results reach the table', async () => {
    const clock = new ManualClock(0);
    const sim = new SimDriver();
    const health: Record<string, CheckResult> = { '10.0.0.1': UP, '10.0.0.2': DOWN };
    const checked: string[] = [];
    const d = createDirector({
      host: systemHost,
      driver: sim,
      clock,
      hostname: 'lb1',
      runCheck: async (job: CheckJob) => {
        checked.push(job.real.ip);
        return health[job.real.ip];
      },
    });
    const events: EngineEvent[] = [];
    d.onEvent((e) => events.push(e));
    const c = await cfg(`
checkinterval=5
quiescent=no
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	real=10.0.0.2:80 masq
	checktype=connect
`);
    await d.start(c);
    expect(checked.sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(sim.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 1\n');
    health['10.0.0.2'] = UP;
    clock.advance(4000);
    await new Promise((r) => setTimeout(r, 20));
    expect(checked.length).toBe(2);
    clock.advance(1000);
    await until(() => sim.save().includes('10.0.0.2'), 'real 2 added');
    expect(sim.save()).toContain('-a -t 192.168.6.1:80 -r 10.0.0.2:80 -m -w 1');
    expect(events.some((e) => e.type === 'real-state' && e.message === 'Added real server: 10.0.0.2:80 (192.168.6.1:80) (Weight set to 1)')).toBe(true);
    expect(d.snapshot().reals.map((r) => r.state)).toEqual(['up', 'up']);
    await d.stop();
  });

  it('starts the reals whose last check timed out first in the next cycle, in config order otherwise', async () => {
    const clock = new ManualClock(0);
    const sim = new SimDriver();
    const TIMEOUT: CheckResult = { ok: false, status: 'l4-timeout', message: 'connect: timeout', durationMs: 2000 };
    const health: Record<string, CheckResult> = { '10.0.0.1': UP, '10.0.0.2': UP, '10.0.0.3': TIMEOUT, '10.0.0.4': DOWN };
    const order: string[][] = [];
    const d = createDirector({
      host: systemHost,
      driver: sim,
      clock,
      hostname: 'lb1',
      scheduleCycle: async (jobs, run, onResult, signal) => {
        order.push(jobs.map((j) => j.real.ip));
        for (const j of jobs) onResult(j, await run(j, signal));
      },
      runCheck: async (job: CheckJob) => health[job.real.ip],
    });
    await d.start(await cfg(`
checkinterval=5
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	real=10.0.0.2:80 masq
	real=10.0.0.3:80 masq
	real=10.0.0.4:80 masq
	checktype=connect
`));
    expect(order[0]).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
    health['10.0.0.1'] = TIMEOUT; // the refused real (10.0.0.4) did not time out: it keeps its place
    clock.advance(5000);
    await until(() => order.length === 2, 'second cycle');
    expect(order[1]).toEqual(['10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.4']);
    health['10.0.0.3'] = UP;
    clock.advance(5000);
    await until(() => order.length === 3, 'third cycle');
    expect(order[2]).toEqual(['10.0.0.1', '10.0.0.3', '10.0.0.2', '10.0.0.4']);
    clock.advance(5000);
    await until(() => order.length === 4, 'fourth cycle');
    expect(order[3]).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
    await d.stop();
  });

  for (const how of ['reload', 'stop'] as const) {
    it(`checks cancelled by a ${how} in the middle of a cycle count for nothing (the reals keep their weight)`, async () => {
      const clock = new ManualClock(0);
      const sim = new SimDriver();
      let calls = 0;
      let inFlight = 0;
      const d = createDirector({
      host: systemHost,
        driver: sim,
        clock,
        hostname: 'lb1',
        // The start-up pass answers at once; later checks hang until cancelled, then report down as
        // runCheck does for a cancelled check.
        runCheck: (_job: CheckJob, signal: AbortSignal) => {
          if (calls++ < 2) return Promise.resolve(UP);
          inFlight++;
          return new Promise<CheckResult>((resolve) =>
            signal.addEventListener('abort', () => resolve({ ok: false, status: 'l4-timeout', message: 'connect: cancelled', durationMs: 1 }), { once: true }),
          );
        },
      });
      const events: EngineEvent[] = [];
      d.onEvent((e) => events.push(e));
      const c = await cfg(`
checkinterval=5
quiescent=yes
cleanstop=no
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	real=10.0.0.2:80 masq
	checktype=connect
`);
      await d.start(c);
      const up = '-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 1\n-a -t 192.168.6.1:80 -r 10.0.0.2:80 -m -w 1\n';
      expect(sim.save()).toBe(up);
      events.length = 0; // start-up's own quiesce-then-restore (quiescent=yes) is not what is tested
      clock.advance(5000);
      await until(() => inFlight === 2, 'a cycle in flight');
      if (how === 'reload') await d.reload(c);
      else await d.stop();
      expect(sim.save()).toBe(up);
      expect(events.filter((e) => e.type === 'real-state').map((e) => e.message)).toEqual([]);
      expect(d.snapshot().reals.map((r) => r.state)).toEqual(['up', 'up']);
      if (how === 'reload') await d.stop();
    });
  }

  it('repairs a table changed behind its back on the next sync, cleanstop removes the service', async () => {
    const clock = new ManualClock(0);
    const sim = new SimDriver();
    let ok = true;
    const d = createDirector({ host: systemHost, driver: sim, clock, hostname: 'lb1', runCheck: async () => (ok ? UP : DOWN) });
    const c = await cfg(`
checkinterval=1
failurecount=1
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	checktype=connect
`);
    await d.start(c);
    expect(sim.save()).toContain('-r 10.0.0.1:80');
    sim.run(['-d', '-t', '192.168.6.1:80', '-r', '10.0.0.1:80']);
    ok = false; // a transition forces a sync, which reads the table and re-plans
    clock.advance(1000);
    await until(() => d.snapshot().reals[0].state === 'down', 'down');
    ok = true;
    clock.advance(1000);
    await until(() => sim.save().includes('10.0.0.1'), 'repaired');
    await d.stop();
    expect(sim.save()).toBe('');
  });

  it('maintenance files force a real down; fallbackcommand runs through the runner without a shell', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ld-maint-'));
    try {
      const clock = new ManualClock(0);
      const sim = new SimDriver();
      const calls: string[][] = [];
      const runner: ProcessRunner = async (file, args) => {
        calls.push([file, ...args]);
        return { exitCode: 0, signal: null, timedOut: false, durationMs: 0, stdout: '', stderr: '' };
      };
      const d = createDirector({ host: systemHost, driver: sim, clock, hostname: 'lb1', runCheck: async () => UP, runner });
      const c = await cfg(`
checkinterval=1
maintenancedir=${dir}
fallbackcommand=/usr/local/bin/sorry --flag
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	checktype=connect
	fallback=127.0.0.1:80 masq
`);
      await d.start(c);
      expect(sim.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 1\n');
      writeFileSync(join(dir, '10.0.0.1:80'), '');
      clock.advance(1000);
      await until(() => sim.save().includes('127.0.0.1'), 'fallback in');
      expect(sim.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 127.0.0.1:80 -m -w 1\n');
      expect(d.snapshot().reals[0].state).toBe('maintenance');
      await until(() => calls.length >= 5, 'fallback commands');
      // start: fallback on (start), the forced up-then-down of the missing real (stop, start); the first
      // check brings it up (stop); the maintenance file takes it down (start).
      const sorry = (a: string) => ['/usr/local/bin/sorry', '--flag', a, '192.168.6.1:80', 'tcp'];
      expect(calls).toEqual([sorry('start'), sorry('stop'), sorry('start'), sorry('stop'), sorry('start')]);
      await d.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reload keeps the state of unchanged reals (no recheck needed to stay up), checks new ones at once', async () => {
    const clock = new ManualClock(0);
    const sim = new SimDriver();
    const checked: string[] = [];
    const d = createDirector({
      host: systemHost,
      driver: sim,
      clock,
      hostname: 'lb1',
      runCheck: async (job: CheckJob) => {
        checked.push(job.real.ip);
        return UP;
      },
    });
    await d.start(await cfg('checkinterval=60\nvirtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\tchecktype=connect\n'));
    expect(checked).toEqual(['10.0.0.1']);
    await d.reload(
      await cfg('checkinterval=60\nvirtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\treal=10.0.0.2:80 masq\n\tchecktype=connect\n'),
    );
    expect(checked).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(sim.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 1\n-a -t 192.168.6.1:80 -r 10.0.0.2:80 -m -w 1\n');
    expect(sim.history.filter((h) => h.commandLine.includes('10.0.0.1:80')).length).toBe(1);
    expect(d.snapshot().reals.map((r) => r.state)).toEqual(['up', 'up']);
    await d.stop();
  });

  it('a cycle in which 200 reals change state is written in one batch', async () => {
    const clock = new ManualClock(0);
    const sim = new SimDriver();
    const batches: number[] = [];
    const driver = {
      read: () => sim.read(),
      apply: async (cmds: Parameters<SimDriver['apply']>[0]) => {
        batches.push(cmds.length);
        return sim.apply(cmds);
      },
    };
    let ok = false;
    const d = createDirector({ host: systemHost, driver, clock, hostname: 'lb1', runCheck: async () => (ok ? UP : DOWN) });
    const reals = Array.from({ length: 200 }, (_, i) => `\treal=10.0.${i >> 8}.${(i & 255) + 1}:80 masq`).join('\n');
    await d.start(await cfg(`checkinterval=1\nfailurecount=1\nquiescent=no\nvirtual=192.168.6.1:80\n${reals}\n\tchecktype=connect\n`));
    batches.length = 0;
    ok = true;
    clock.advance(1000);
    await until(() => d.snapshot().reals.every((r) => r.state === 'up') && batches.length > 0, 'all up');
    await new Promise((r) => setTimeout(r, 20));
    expect(batches).toEqual([200]);
    expect(sim.save().split('\n').filter((l) => l.startsWith('-a')).length).toBe(200);
    await d.stop();
  });

  it('maintenanceLookup asks the host for ip:port, ip, then name:port, name, short:port, short, in that order', async () => {
    const asked: string[] = [];
    const host = {
      fileExists: (p: string) => (asked.push(p), false),
      reverseName: async (ip: string) => (asked.push(`name? ${ip}`), 'web1.example.org'),
    };
    const real = { ip: '10.0.0.5', family: 4, port: 8080 } as unknown as RealServer;
    expect(await maintenanceLookup(host)('/m', real)).toBe(false);
    expect(asked).toEqual(['/m/10.0.0.5:8080', '/m/10.0.0.5', 'name? 10.0.0.5', '/m/web1.example.org:8080', '/m/web1.example.org', '/m/web1:8080', '/m/web1']);
    const v6 = { ip: '::1', family: 6, port: 80 } as unknown as RealServer;
    expect(await maintenanceLookup({ ...host, fileExists: (p: string) => p === '/m/[::1]' })('/m', v6)).toBe(true);
  });

  it('the system host: ip:port, ip, then the name from the hosts file', async () => {
    const defaultMaintenance = maintenanceLookup(systemHost);
    const dir = mkdtempSync(join(tmpdir(), 'ld-maint-'));
    try {
      const real = { ip: '127.0.0.1', family: 4, port: 80 } as unknown as RealServer;
      expect(await defaultMaintenance(dir, real)).toBe(false);
      writeFileSync(join(dir, '127.0.0.1'), '');
      expect(await defaultMaintenance(dir, real)).toBe(true);
      rmSync(join(dir, '127.0.0.1'));
      writeFileSync(join(dir, '127.0.0.1:81'), '');
      expect(await defaultMaintenance(dir, real)).toBe(false);
      const name = lookupName();
      if (name) {
        writeFileSync(join(dir, `${name}:80`), '');
        expect(await defaultMaintenance(dir, real)).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function lookupName(): string | undefined {
  try {
    return execFileSync('getent', ['hosts', '127.0.0.1'], { encoding: 'utf8' }).trim().split(/\s+/)[1];
  } catch {
    return undefined;
  }
}
