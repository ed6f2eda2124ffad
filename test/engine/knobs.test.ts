// The tuning directives in the engine (ours, issue 20): risecount (successes needed before a failed real
// comes back) and slowstart (a new or recovered real's weight ramps up, stepped by rampStep() from the
// injected clock). Without them the engine behaves as before (the other engine tests), and each test here
// also shows the default next to the knob.
import { describe, expect, it } from 'vitest';
import { Scenario, cfg, messages, UP, DOWN, MAINT } from './helpers.js';
import { planChanges } from '../../src/ipvs/plan.js';
import { rampedWeight } from '../../src/engine/engine.js';
import { adminKey, type AdminRequest } from '../../src/engine/admin.js';
import type { EngineInit, HealthEntry } from '../../src/engine/types.js';
import type { Config } from '../../src/model/config.js';

class KnobScenario extends Scenario {
  /** Moves the clock on and applies one ramp step (what the director does once per cycle). */
  async step(ms: number): Promise<string[]> {
    this.clock.advance(ms);
    const o = this.engine.rampStep();
    await this.sim.apply(planChanges(await this.sim.read(), this.engine.desired()));
    return messages(o.events);
  }
  async admin(req: AdminRequest): Promise<string[]> {
    const { reply, output } = this.engine.admin({ uid: 0, ...req });
    expect(reply.ok, reply.message).toBe(true);
    await this.sim.apply(planChanges(await this.sim.read(), this.engine.desired()));
    return messages(output.events);
  }
  /** The kernel weight of a destination, undefined when absent. */
  weight(rs: string): number | undefined {
    const m = new RegExp(`-r ${rs.replace(/[.[\]]/g, '\\$&')} \\S+ -w (\\d+)`).exec(this.save());
    return m ? Number(m[1]) : undefined;
  }
}

const conf = (extra: string, real2 = 'real=10.0.0.2:80 masq 10') => `
quiescent=no
${extra}
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq 10
	${real2}
	checktype=connect
`;

describe('risecount', () => {
  it('default (1): one success brings a failed real back, as the original', async () => {
    const s = new KnobScenario();
    await s.start(await cfg(conf('')));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    await s.check({ '10.0.0.1': DOWN });
    expect(s.weight('10.0.0.1:80')).toBeUndefined();
    expect(await s.check({ '10.0.0.1': UP })).toEqual([
      'Resetting soft failure count: 10.0.0.1:80 (tcp:192.168.6.1:80)',
      'Added real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 10)',
    ]);
  });

  it('risecount=3: a failed real needs 3 successes in a row; a failure starts the count again', async () => {
    const s = new KnobScenario();
    await s.start(await cfg(conf('risecount=3')));
    // Never checked since the start: the first success brings it up at once (the original's start).
    expect(await s.check({ '10.0.0.1': UP, '10.0.0.2': UP })).toEqual([
      'Resetting soft failure count: 10.0.0.1:80 (tcp:192.168.6.1:80)',
      'Added real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 10)',
      'Resetting soft failure count: 10.0.0.2:80 (tcp:192.168.6.1:80)',
      'Added real server: 10.0.0.2:80 (192.168.6.1:80) (Weight set to 10)',
    ]);
    expect(await s.check({ '10.0.0.1': DOWN })).toEqual(['Deleted real server: 10.0.0.1:80 (192.168.6.1:80)']);
    expect(await s.check({ '10.0.0.1': UP })).toEqual([
      'Resetting soft failure count: 10.0.0.1:80 (tcp:192.168.6.1:80)',
      'Soft recovery real server: 10.0.0.1:80 (tcp:192.168.6.1:80) success 1/3',
    ]);
    expect(await s.check({ '10.0.0.1': UP })).toEqual(['Soft recovery real server: 10.0.0.1:80 (tcp:192.168.6.1:80) success 2/3']);
    expect(s.weight('10.0.0.1:80')).toBeUndefined();
    expect(await s.check({ '10.0.0.1': DOWN })).toEqual([]); // still down; the count starts again
    expect(await s.check({ '10.0.0.1': UP })).toEqual(['Soft recovery real server: 10.0.0.1:80 (tcp:192.168.6.1:80) success 1/3']);
    await s.check({ '10.0.0.1': UP });
    expect(s.weight('10.0.0.1:80')).toBeUndefined();
    expect(await s.check({ '10.0.0.1': UP })).toEqual(['Added real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 10)']);
    expect(s.weight('10.0.0.1:80')).toBe(10);
    const snap = s.engine.snapshot().reals.find((r) => r.rs === '10.0.0.1:80');
    expect(snap?.state).toBe('up');
  });

  it('a real down at start (absent from the table) comes up at its first success; with quiescent it stays at weight 0 while rising', async () => {
    const s = new KnobScenario();
    await s.start(await cfg(conf('risecount=2\nquiescent=yes').replace('quiescent=no\n', '')));
    // down at start, never checked: first success is enough
    expect(s.weight('10.0.0.1:80')).toBe(0);
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    expect(s.weight('10.0.0.1:80')).toBe(10);
    await s.check({ '10.0.0.1': DOWN });
    expect(s.weight('10.0.0.1:80')).toBe(0);
    await s.check({ '10.0.0.1': UP });
    expect(s.weight('10.0.0.1:80')).toBe(0);
    await s.check({ '10.0.0.1': UP });
    expect(s.weight('10.0.0.1:80')).toBe(10);
  });

  it('the end of a maintenance file brings the real back at once; a per-virtual value overrides the global', async () => {
    const s = new KnobScenario();
    await s.start(await cfg(conf('risecount=5')));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    await s.check({ '10.0.0.1': MAINT });
    expect(s.weight('10.0.0.1:80')).toBeUndefined();
    await s.check({ '10.0.0.1': UP });
    expect(s.weight('10.0.0.1:80')).toBe(10);

    const t = new KnobScenario();
    await t.start(await cfg(conf('risecount=5') + '\trisecount=1\n'));
    await t.check({ '10.0.0.1': UP });
    await t.check({ '10.0.0.1': DOWN });
    await t.check({ '10.0.0.1': UP });
    expect(t.weight('10.0.0.1:80')).toBe(10);
  });

  it('a reload keeps the count of a kept real', async () => {
    const s = new KnobScenario();
    const c = await cfg(conf('risecount=3'));
    await s.start(c);
    await s.check({ '10.0.0.1': UP });
    await s.check({ '10.0.0.1': DOWN });
    await s.check({ '10.0.0.1': UP });
    await s.check({ '10.0.0.1': UP });
    await s.reload(await cfg(conf('risecount=3') + '\tcomment=changed\n'));
    expect(s.weight('10.0.0.1:80')).toBeUndefined();
    await s.check({ '10.0.0.1': UP });
    expect(s.weight('10.0.0.1:80')).toBe(10);
  });
});

describe('slowstart', () => {
  it('the ramp: at least 1, rounded up, the full weight at the end; 0 and 1 have nothing to ramp', () => {
    expect(rampedWeight(10, 0, 30_000)).toBe(1);
    expect(rampedWeight(10, 1, 30_000)).toBe(1);
    expect(rampedWeight(10, 3_001, 30_000)).toBe(2);
    expect(rampedWeight(10, 15_000, 30_000)).toBe(5);
    expect(rampedWeight(10, 29_999, 30_000)).toBe(10);
    expect(rampedWeight(10, 30_000, 30_000)).toBe(10);
    expect(rampedWeight(0, 1_000, 30_000)).toBe(0);
    expect(rampedWeight(1, 1_000, 30_000)).toBe(1);
    expect(rampedWeight(100, 10_000, 0)).toBe(100);
  });

  it('default (none): a recovered real is back at its full weight at once', async () => {
    const s = new KnobScenario();
    await s.start(await cfg(conf('')));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    await s.check({ '10.0.0.1': DOWN });
    await s.check({ '10.0.0.1': UP });
    expect(s.weight('10.0.0.1:80')).toBe(10);
    expect(await s.step(5000)).toEqual([]);
  });

  it('not at start: the first pass gives full weight; a recovered real ramps 1 → 10 over 10 s, one step per cycle', async () => {
    const s = new KnobScenario();
    await s.start(await cfg(conf('slowstart=10')));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    expect(s.weight('10.0.0.1:80')).toBe(10);
    expect(s.weight('10.0.0.2:80')).toBe(10);
    await s.check({ '10.0.0.1': DOWN });
    expect(await s.check({ '10.0.0.1': UP })).toEqual([
      'Resetting soft failure count: 10.0.0.1:80 (tcp:192.168.6.1:80)',
      'Added real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 1)',
    ]);
    expect(s.weight('10.0.0.1:80')).toBe(1);
    expect(s.engine.snapshot().reals.find((r) => r.rs === '10.0.0.1:80')).toMatchObject({ weight: 1, rampTarget: 10 });
    expect(s.engine.snapshot().reals.find((r) => r.rs === '10.0.0.2:80')?.rampTarget).toBeUndefined(); // not ramping
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const log = await s.step(2000);
      seen.push(s.weight('10.0.0.1:80')!);
      if (i < 4) expect(log).toEqual([`Slow start real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to ${seen[i]})`]);
      else expect(log).toEqual(['Slow start real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 10)', 'Slow start ended real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 10)']);
    }
    expect(seen).toEqual([2, 4, 6, 8, 10]);
    expect(s.engine.snapshot().reals.find((r) => r.rs === '10.0.0.1:80')?.rampTarget).toBeUndefined(); // ramp over
    expect(s.weight('10.0.0.2:80')).toBe(10);
    expect(await s.step(2000)).toEqual([]); // ramp over: nothing more
    // Ramp steps are not health transitions: no real-state events (no alert mails).
  });

  it('steps are debug log lines, never real-state events; a failure during the ramp takes the real out, the next recovery starts from 1', async () => {
    const s = new KnobScenario();
    await s.start(await cfg(conf('slowstart=10')));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    await s.check({ '10.0.0.1': DOWN });
    await s.check({ '10.0.0.1': UP });
    s.clock.advance(4000);
    const o = s.engine.rampStep();
    expect(o.events.every((e) => e.type === 'log' && e.level === 'debug')).toBe(true);
    expect(o.changed).toBe(true);
    await s.sim.apply(planChanges(await s.sim.read(), s.engine.desired()));
    expect(s.weight('10.0.0.1:80')).toBeGreaterThan(1);
    await s.check({ '10.0.0.1': DOWN });
    expect(s.weight('10.0.0.1:80')).toBeUndefined();
    expect(await s.step(20_000)).toEqual([]);
    await s.check({ '10.0.0.1': UP });
    expect(s.weight('10.0.0.1:80')).toBe(1);
  });

  it('a real a reload adds ramps up; the admin weight is the target; drain stays 0 and leaving it ramps', async () => {
    const s = new KnobScenario();
    await s.start(await cfg(conf('slowstart=10', '# 10.0.0.2 not yet')));
    await s.check({ '10.0.0.1': UP });
    await s.reload(await cfg(conf('slowstart=10')));
    expect(s.weight('10.0.0.2:80')).toBeUndefined();
    await s.check({ '10.0.0.2': UP });
    expect(s.weight('10.0.0.2:80')).toBe(1);
    await s.admin({ op: 'weight', real: '10.0.0.2:80', weight: 20 });
    expect(s.weight('10.0.0.2:80')).toBe(1); // the ramp goes on, now towards 20
    await s.step(4000); // 4 s of 10 towards 20
    expect(s.weight('10.0.0.2:80')).toBe(8);
    await s.admin({ op: 'drain', real: '10.0.0.2:80' });
    expect(s.weight('10.0.0.2:80')).toBe(0);
    await s.step(2000);
    expect(s.weight('10.0.0.2:80')).toBe(0); // a drained real stays at 0 whatever its ramp
    await s.admin({ op: 'ready', real: '10.0.0.2:80' });
    expect(s.weight('10.0.0.2:80')).toBe(1); // leaving drain: ramps again, towards the configured 10
    await s.step(10_000);
    expect(s.weight('10.0.0.2:80')).toBe(10);
  });

  it('a configured weight of 0 stays 0; a per-virtual slowstart=0 switches the global one off', async () => {
    const s = new KnobScenario();
    await s.start(await cfg(conf('slowstart=10', 'real=10.0.0.2:80 masq 0')));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    await s.check({ '10.0.0.2': DOWN });
    await s.check({ '10.0.0.2': UP });
    expect(s.weight('10.0.0.2:80')).toBe(0);
    await s.step(3000);
    expect(s.weight('10.0.0.2:80')).toBe(0);

    const t = new KnobScenario();
    await t.start(await cfg(conf('slowstart=10') + '\tslowstart=0\n'));
    await t.check({ '10.0.0.1': UP });
    await t.check({ '10.0.0.1': DOWN });
    await t.check({ '10.0.0.1': UP });
    expect(t.weight('10.0.0.1:80')).toBe(10);
  });

  it('risecount and slowstart together: the ramp starts when the real is back', async () => {
    const s = new KnobScenario();
    await s.start(await cfg(conf('slowstart=4\nrisecount=2')));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    await s.check({ '10.0.0.1': DOWN });
    await s.check({ '10.0.0.1': UP });
    expect(s.weight('10.0.0.1:80')).toBeUndefined();
    await s.check({ '10.0.0.1': UP });
    expect(s.weight('10.0.0.1:80')).toBe(1);
    await s.step(2000);
    expect(s.weight('10.0.0.1:80')).toBe(5);
    await s.step(2000);
    expect(s.weight('10.0.0.1:80')).toBe(10);
  });

  it('a reload keeps a ramp going; stop ends it', async () => {
    const s = new KnobScenario();
    const c = await cfg(conf('slowstart=10'));
    await s.start(c);
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    await s.check({ '10.0.0.1': DOWN });
    await s.check({ '10.0.0.1': UP });
    await s.reload(await cfg(conf('slowstart=10') + '\tcomment=x\n'));
    expect(s.weight('10.0.0.1:80')).toBe(1);
    await s.step(4000);
    expect(s.weight('10.0.0.1:80')).toBe(4);
    await s.stop();
    expect(s.engine.rampStep().events).toEqual([]);
  });
});

describe('slowstart over a restart', () => {
  /** What the state file carries from a stop to the next start (loadState's maps). */
  const carried = (h: readonly HealthEntry[]): EngineInit => ({
    health: new Map(h.map((e) => [adminKey(e.virtual, e.real), e.digest])),
    ramps: new Map(h.flatMap((e) => (e.rampedMs !== undefined ? [[adminKey(e.virtual, e.real), e.rampedMs] as const] : []))),
  });
  /** A daemon whose 10.0.0.1 is 4 s into a 10 s ramp when it stops; what it saves. */
  async function stoppedMidRamp(extra: string): Promise<{ c: Config; table: string; init: EngineInit }> {
    const s = new KnobScenario();
    const c = await cfg(conf(`slowstart=10\n${extra}`));
    await s.start(c);
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    await s.check({ '10.0.0.1': DOWN });
    await s.check({ '10.0.0.1': UP });
    await s.step(4000);
    expect(s.weight('10.0.0.1:80')).toBe(4);
    const h = s.engine.healthEntries();
    expect(h.map((e) => [e.real, e.rampedMs])).toEqual([['10.0.0.1:80', 4000], ['10.0.0.2:80', undefined]]);
    await s.stop();
    return { c, table: s.save(), init: carried(h) };
  }

  it('table kept (cleanstop=no): the ramp goes on from its weight instead of jumping to the full weight', async () => {
    const { c, table, init } = await stoppedMidRamp('cleanstop=no');
    expect(table).toContain('-r 10.0.0.1:80 -m -w 4');
    const s = new KnobScenario(table);
    const log = await s.startWith(c, init);
    expect(log).toContain('Slow start of real server: 10.0.0.1:80 (192.168.6.1:80) resumes at 4s of 10s when it is up');
    expect(log.filter((l) => l.includes('10.0.0.1:80 (192.168.6.1:80) (Weight'))).toEqual([]); // left at 4: no table change
    expect(s.weight('10.0.0.1:80')).toBe(4);
    expect(s.engine.snapshot().reals.find((r) => r.rs === '10.0.0.1:80')).toMatchObject({ weight: 4, rampTarget: 10 });
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP }); // the first check keeps the ramp (1 s later: 5)
    await s.step(0);
    expect(s.weight('10.0.0.1:80')).toBe(5);
    expect(await s.step(5000)).toContain('Slow start ended real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 10)');
    expect(s.weight('10.0.0.2:80')).toBe(10);

    // Without the saved ramp (a state file of an earlier version): the start's own rule, full weight at once.
    const t = new KnobScenario(table);
    expect(await t.startWith(c, { health: init.health })).toContain('Restored real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 10)');
  });

  it('table purged (cleanstop=yes): the real comes back at its first check part-way up its ramp; not for another config', async () => {
    const { c, init } = await stoppedMidRamp('');
    const s = new KnobScenario();
    await s.startWith(c, init);
    expect(s.weight('10.0.0.1:80')).toBeUndefined();
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    expect(s.weight('10.0.0.1:80')).toBe(4);
    expect(s.weight('10.0.0.2:80')).toBe(10);
    await s.step(6000);
    expect(s.weight('10.0.0.1:80')).toBe(10);

    // The real's config changed (its weight): the saved state is not its; the start's rule applies.
    const other = await cfg(conf('slowstart=10', 'real=10.0.0.2:80 masq 10').replace('real=10.0.0.1:80 masq 10', 'real=10.0.0.1:80 masq 20'));
    const t = new KnobScenario();
    await t.startWith(other, init);
    await t.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    expect(t.weight('10.0.0.1:80')).toBe(20);
  });
});
