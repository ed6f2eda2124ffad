// Admin state as engine input (issue 18): drain, maint, ready and weight change the desired table; health
// wins downward; reload keeps them for reals still configured; a saved health state avoids a flap at start.
import { describe, expect, it } from 'vitest';
import { Scenario, cfg, messages, UP, DOWN } from './helpers.js';
import { planChanges } from '../../src/ipvs/plan.js';
import type { AdminRequest, AdminEntry } from '../../src/engine/admin.js';
import { adminKey, checkAdminRequest, parseEndpoint, realDigest } from '../../src/engine/admin.js';

class AdminScenario extends Scenario {
  async admin(req: AdminRequest): Promise<{ ok: boolean; message: string; log: string[] }> {
    const { reply, output } = this.engine.admin({ uid: 0, ...req });
    const cmds = planChanges(await this.sim.read(), this.engine.desired());
    await this.sim.apply(cmds);
    this.events = [...output.events];
    return { ok: reply.ok, message: reply.message, log: messages(output.events) };
  }
  real(rs: string) {
    return this.engine.snapshot().reals.filter((r) => r.rs === rs);
  }
}

const two = (extra = '') => `
failurecount=1
quiescent=no
${extra}
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq 3
	real=10.0.0.2:80 masq 2
	fallback=10.0.0.99:80 masq
	checktype=connect
virtual=192.168.6.2:443
	real=10.0.0.1:443 masq
	checktype=connect
`;

describe('admin: drain, weight, ready', () => {
  it('drain takes a healthy real to weight 0 and keeps it in the table; ready restores the configured weight', async () => {
    const s = new AdminScenario();
    await s.start(await cfg(two()));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    const r = await s.admin({ op: 'drain', real: '10.0.0.1:80' });
    expect(r.ok).toBe(true);
    expect(r.log).toContain('Draining real server: 10.0.0.1:80 (192.168.6.1:80) (admin, uid 0)');
    expect(s.save()).toContain('-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 0\n');
    expect(s.save()).toContain('-a -t 192.168.6.2:443 -r 10.0.0.1:443 -m -w 1\n'); // other port untouched
    expect(s.real('10.0.0.1:80')[0]).toMatchObject({ state: 'up', admin: 'drain', adminWeight: null, weight: 0 });
    // the event is an admin transition (mailed, not a health change)
    expect(s.events.find((e) => e.type === 'real-state')).toMatchObject({ state: 'admin', rs: '10.0.0.1:80' });
    // checks go on; a passing check does not undo the drain
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    expect(s.save()).toContain('-r 10.0.0.1:80 -m -w 0\n');
    const back = await s.admin({ op: 'ready', real: '10.0.0.1:80' });
    expect(back.ok).toBe(true);
    expect(s.save()).toContain('-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 3\n');
    expect(s.real('10.0.0.1:80')[0]).toMatchObject({ admin: 'none', adminWeight: null });
  });

  it('an ip alone names the real in every virtual listing it; a VIRTUAL narrows it to one', async () => {
    const s = new AdminScenario();
    await s.start(await cfg(two()));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    await s.admin({ op: 'drain', real: '10.0.0.1' });
    expect(s.save()).toContain('-r 10.0.0.1:80 -m -w 0\n');
    expect(s.save()).toContain('-r 10.0.0.1:443 -m -w 0\n');
    await s.admin({ op: 'ready', real: '10.0.0.1', virtual: '192.168.6.2:443' });
    expect(s.save()).toContain('-r 10.0.0.1:80 -m -w 0\n');
    expect(s.save()).toContain('-r 10.0.0.1:443 -m -w 1\n');
  });

  it('weight replaces the configured weight while healthy, yields to a failed check, comes back with the real', async () => {
    const s = new AdminScenario();
    await s.start(await cfg(two()));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    expect((await s.admin({ op: 'weight', real: '10.0.0.2:80', weight: 9 })).ok).toBe(true);
    expect(s.save()).toContain('-r 10.0.0.2:80 -m -w 9\n');
    expect(s.real('10.0.0.2:80')[0]).toMatchObject({ admin: 'none', adminWeight: 9, weight: 9 });
    await s.check({ '10.0.0.1': UP, '10.0.0.2': DOWN });
    expect(s.save()).not.toContain('10.0.0.2:80');
    expect(s.real('10.0.0.2:80')[0]).toMatchObject({ state: 'down', adminWeight: 9 });
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    expect(s.save()).toContain('-r 10.0.0.2:80 -m -w 9\n');
  });

  it('a config weight change at reload does not undo an admin weight; a removed real loses (and logs) its admin state', async () => {
    const s = new AdminScenario();
    await s.start(await cfg(two()));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    await s.admin({ op: 'weight', real: '10.0.0.2:80', weight: 9 });
    await s.admin({ op: 'drain', real: '10.0.0.1:443' });
    const changed = two().replace('real=10.0.0.2:80 masq 2', 'real=10.0.0.2:80 masq 5').replace('\treal=10.0.0.1:443 masq\n', '\treal=10.0.0.3:443 masq\n');
    const log = await s.reload(await cfg(changed));
    expect(s.save()).toContain('-r 10.0.0.2:80 -m -w 9\n');
    expect(log).toContain('Dropped admin state of a real server no longer configured: 10.0.0.1:443 (tcp:192.168.6.2:443) was drain');
    expect(s.engine.adminEntries().map((e) => e.real)).toEqual(['10.0.0.2:80']);
    // and ready then gives the new configured weight
    await s.admin({ op: 'ready', real: '10.0.0.2:80' });
    expect(s.save()).toContain('-r 10.0.0.2:80 -m -w 5\n');
  });
});

describe('admin: maint', () => {
  it('maint takes the real out as if failed (deleted; weight 0 with quiescent=yes) and pauses its checks', async () => {
    const s = new AdminScenario();
    await s.start(await cfg(two()));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    const jobs = s.engine.jobs().length;
    await s.admin({ op: 'maint', real: '10.0.0.2:80' });
    expect(s.save()).not.toContain('10.0.0.2:80');
    expect(s.engine.jobs().length).toBe(jobs - 1);
    expect(s.real('10.0.0.2:80')[0]).toMatchObject({ admin: 'maint' });
    // a result that still arrives changes nothing
    const out = s.engine.result(s.engine.jobs()[0].key, UP);
    expect(out.changed).toBe(false);
    // ready: back after its next passing check, not before
    await s.admin({ op: 'ready', real: '10.0.0.2:80' });
    expect(s.engine.jobs().length).toBe(jobs);
    expect(s.save()).not.toContain('10.0.0.2:80');
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    expect(s.save()).toContain('-r 10.0.0.2:80 -m -w 2\n');

    const q = new AdminScenario();
    await q.start(await cfg(two('').replace('quiescent=no', 'quiescent=yes')));
    await q.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    await q.admin({ op: 'maint', real: '10.0.0.2:80' });
    expect(q.save()).toContain('-r 10.0.0.2:80 -m -w 0\n');
  });

  it('the fallback comes in when no real is in service (all drained or in maintenance), and leaves when one is', async () => {
    const s = new AdminScenario();
    await s.start(await cfg(two()));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP });
    await s.admin({ op: 'drain', real: '10.0.0.1:80' });
    expect(s.save()).not.toContain('10.0.0.99');
    const r = await s.admin({ op: 'maint', real: '10.0.0.2:80' });
    expect(r.log).toContain('Added fallback server: 10.0.0.99:80 (192.168.6.1:80) (Weight set to 1)');
    expect(s.save()).toContain('-r 10.0.0.99:80 -m -w 1\n');
    await s.admin({ op: 'ready', real: '10.0.0.1:80' });
    expect(s.save()).not.toContain('10.0.0.99');
  });
});

describe('admin: refusals change nothing', () => {
  it('unknown real, unknown virtual, an ambiguous ip', async () => {
    const s = new AdminScenario();
    await s.start(await cfg(`
quiescent=no
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	real=10.0.0.1:8080 masq
	checktype=connect
`));
    await s.check({ '10.0.0.1': UP });
    const before = s.save();
    const cases: [AdminRequest, RegExp][] = [
      [{ op: 'drain', real: '10.0.0.7:80' }, /^no real server 10\.0\.0\.7:80 in any virtual service of test\.cf$/],
      [{ op: 'drain', real: '10.0.0.1:80', virtual: '192.168.6.9:80' }, /^no virtual service 192\.168\.6\.9:80 in test\.cf$/],
      [{ op: 'drain', real: '10.0.0.1' }, /^real server 10\.0\.0\.1 is ambiguous in tcp:192\.168\.6\.1:80 \(10\.0\.0\.1:80, 10\.0\.0\.1:8080\): give ip:port$/],
    ];
    for (const [req, msg] of cases) {
      const r = await s.admin(req);
      expect(r.ok).toBe(false);
      expect(r.message).toMatch(msg);
      expect(r.log).toEqual([]);
    }
    expect(s.save()).toBe(before);
    expect(s.engine.adminEntries()).toEqual([]);
  });

  it('request shapes: bad op, bad real, weight out of range or not an integer', () => {
    expect(checkAdminRequest({ op: 'explode', real: '10.0.0.1:80' })).toMatch(/unknown op/);
    expect(checkAdminRequest({ op: 'drain', real: 'web1:80' })).toMatch(/expected ip:port/);
    expect(checkAdminRequest({ op: 'drain', real: 42 })).toMatch(/expected ip:port/);
    expect(checkAdminRequest({ op: 'weight', real: '10.0.0.1:80', weight: 65536 })).toMatch(/0 to 65535/);
    expect(checkAdminRequest({ op: 'weight', real: '10.0.0.1:80', weight: 1.5 })).toMatch(/0 to 65535/);
    expect(checkAdminRequest({ op: 'weight', real: '10.0.0.1:80' })).toMatch(/0 to 65535/);
    expect(checkAdminRequest({ op: 'weight', real: '[::1]:80', weight: 0, virtual: '7' })).toEqual({ op: 'weight', real: '[::1]:80', weight: 0, virtual: '7' });
    expect(parseEndpoint('[::0001]:80')).toEqual({ ip: '::1', port: 80 });
    expect(parseEndpoint('10.0.0.1:99999')).toBeUndefined();
  });
});

describe('admin state and health carried over a start', () => {
  it('admin entries are applied before the first table write; ones for reals not configured are dropped and logged', async () => {
    const c = await cfg(two());
    const s = new AdminScenario('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 3\n');
    const admin: AdminEntry[] = [
      { virtual: 'tcp:192.168.6.1:80', real: '10.0.0.1:80', state: 'drain', uid: 0, at: 1 },
      { virtual: 'tcp:192.168.6.1:80', real: '10.0.0.5:80', state: 'maint', uid: 0, at: 1 },
    ];
    const log = await s.startWith(c, { admin });
    expect(s.save()).toContain('-r 10.0.0.1:80 -m -w 0\n');
    expect(log).toContain('Dropped admin state of a real server no longer configured: 10.0.0.5:80 (tcp:192.168.6.1:80) was maint');
  });

  it('a real up at the last stop (same digest), drained at weight 0 in the table, is not flapped at start; without the saved health it is', async () => {
    const c = await cfg(two());
    const v = c.virtuals[0];
    const table = '-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 0\n-a -t 192.168.6.1:80 -r 10.0.0.2:80 -m -w 2\n';
    const admin: AdminEntry[] = [{ virtual: v.vid, real: '10.0.0.1:80', state: 'drain', at: 1 }];
    const health = new Map([[adminKey(v.vid, '10.0.0.1:80'), realDigest(v, v.reals[0])]]);
    const s = new AdminScenario(table);
    const log = await s.startWith(c, { admin, health });
    expect(log.filter((l) => l.includes('10.0.0.1:80 '))).toEqual([]);
    expect(s.save()).toContain('-r 10.0.0.1:80 -m -w 0\n');
    expect(s.real('10.0.0.1:80')[0]).toMatchObject({ state: 'unknown', admin: 'drain' });

    const stale = new AdminScenario(table);
    const wrong = new Map([[adminKey(v.vid, '10.0.0.1:80'), 'another-digest']]);
    const log2 = await stale.startWith(c, { admin, health: wrong });
    expect(log2).toContain('Deleted real server: 10.0.0.1:80 (192.168.6.1:80)');
  });

  it('healthEntries lists the checked, up reals with their digest', async () => {
    const c = await cfg(two());
    const s = new AdminScenario();
    await s.start(c);
    await s.check({ '10.0.0.1': UP, '10.0.0.2': DOWN });
    const h = s.engine.healthEntries();
    expect(h.map((e) => `${e.virtual} ${e.real}`).sort()).toEqual(['tcp:192.168.6.1:80 10.0.0.1:80', 'tcp:192.168.6.2:443 10.0.0.1:443']);
    expect(h[0].digest).toBe(realDigest(c.virtuals[0], c.virtuals[0].reals[0]));
  });
});
