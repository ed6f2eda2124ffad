// The tuning directives (ours, issue 20): checkspread, risecount, slowstart (global default, virtual
// override) and maxconcurrentchecks (global only). Absent unless written, so an unchanged file builds the
// same model as before; bad values are FILE:LINE errors; configtest's notes explain each one.
import { describe, expect, it } from 'vitest';

import { dumpConfig } from '../../src/config/dump.js';
import { parse, reject, rejectLine, V } from './helpers.js';

const KNOBS = ['checkspread', 'risecount', 'slowstart', 'maxconcurrentchecks', 'readbackinterval'];

describe('tuning directives (ours)', () => {
  it('are absent from the model, the dump and the notes when not written', async () => {
    const c = await parse(V);
    for (const k of KNOBS) {
      expect(k in c.global, k).toBe(false);
      expect(k in c.virtuals[0], k).toBe(false);
    }
    expect(c.notes).toBeUndefined();
    const dumped = JSON.stringify(dumpConfig(c));
    for (const k of KNOBS) expect(dumped).not.toContain(k);
  });

  it('a global value is every virtual\'s default; a virtual\'s own value wins', async () => {
    const c = await parse(
      'checkspread=yes\nrisecount=3\nslowstart=30\nmaxconcurrentchecks=16\n' +
        V +
        'virtual=127.0.0.1:81\n\treal=127.0.0.2:81 gate\n\tcheckspread=no\n\trisecount=1\n\tslowstart=0\n',
    );
    expect(c.global).toMatchObject({ checkspread: true, risecount: 3, slowstart: 30, maxconcurrentchecks: 16 });
    expect(c.virtuals[0]).toMatchObject({ checkspread: true, risecount: 3, slowstart: 30 });
    expect(c.virtuals[1]).toMatchObject({ checkspread: false, risecount: 1, slowstart: 0 });
    expect('maxconcurrentchecks' in c.virtuals[0]).toBe(false);
    // dump shows them
    const d = dumpConfig(c) as { global: Record<string, unknown>; virtuals: Record<string, unknown>[] };
    expect(d.global.maxconcurrentchecks).toBe(16);
    expect(d.virtuals[1]).toMatchObject({ checkspread: false, risecount: 1, slowstart: 0 });
  });

  it('a virtual may set one without a global value', async () => {
    const c = await parse(V + '\trisecount=4\n\tslowstart=10\n\tcheckspread=yes\n');
    expect(c.virtuals[0]).toMatchObject({ risecount: 4, slowstart: 10, checkspread: true });
    expect('risecount' in c.global).toBe(false);
  });

  it.each([
    ['risecount=0', 'risecount must be a whole number from 1 to 1000'],
    ['risecount=1001', 'risecount must be a whole number from 1 to 1000'],
    ['risecount=3x', 'risecount must be a whole number from 1 to 1000'],
    ['risecount=', 'risecount must be a whole number from 1 to 1000'],
    ['slowstart=-5', 'slowstart must be a whole number of seconds from 0 to 86400'],
    ['slowstart=1.5', 'slowstart must be a whole number of seconds from 0 to 86400'],
    ['slowstart=86401', 'slowstart must be a whole number of seconds from 0 to 86400'],
    ['maxconcurrentchecks=0', 'maxconcurrentchecks must be a whole number from 1 to 65535'],
    ['maxconcurrentchecks=many', 'maxconcurrentchecks must be a whole number from 1 to 65535'],
    ['checkspread=on', "checkspread must be 'yes' or 'no'"],
    ['readbackinterval=-1', 'readbackinterval must be a whole number of seconds from 0 to 86400'],
    ['readbackinterval=30s', 'readbackinterval must be a whole number of seconds from 0 to 86400'],
    ['readbackinterval=86401', 'readbackinterval must be a whole number of seconds from 0 to 86400'],
  ])('%s is an error at FILE:LINE', async (line, message) => {
    const e = await reject(`# a comment\n${line}\n${V}`);
    expect(e.line).toBe(2);
    expect(e.format()).toContain(`test.cf:2: ${message}`);
  });

  it('readbackinterval (global only): in the model and the dump, with a configtest note; 0 says the original\'s behaviour', async () => {
    const c = await parse('readbackinterval=30\n' + V);
    expect(c.global.readbackinterval).toBe(30);
    expect('readbackinterval' in c.virtuals[0]).toBe(false);
    expect((dumpConfig(c) as { global: Record<string, unknown> }).global.readbackinterval).toBe(30);
    expect(c.notes?.map((n) => `${n.line}: ${n.message}`)).toEqual([expect.stringMatching(/^1: readbackinterval = 30 \(not in the Perl ldirectord\): every 30 seconds the IPVS table is read back/)]);
    const off = await parse('readbackinterval=0\n' + V);
    expect(off.global.readbackinterval).toBe(0);
    expect(off.notes?.[0]?.message).toMatch(/read again only for a change, as by the Perl ldirectord/);
    const e = await reject(V + '\treadbackinterval=30\n');
    expect(e.line).toBe(3);
    expect(e.format()).toContain('unknown directive in virtual block');
  });

  it('bad values inside a block are errors at their line; maxconcurrentchecks is global only', async () => {
    expect(await rejectLine(V + '\trisecount=zero\n')).toBe(3);
    expect(await rejectLine(V + '\tslowstart=x\n')).toBe(3);
    const e = await reject(V + '\tmaxconcurrentchecks=4\n');
    expect(e.line).toBe(3);
    expect(e.format()).toContain('unknown directive in virtual block');
  });

  it('trailing blanks are allowed (a comment in a block leaves them)', async () => {
    const c = await parse('risecount = 2 \n' + V + '\tslowstart = 5 # ramp\n\tcheckspread = yes\t\n');
    expect(c.virtuals[0]).toMatchObject({ risecount: 2, slowstart: 5, checkspread: true });
  });

  it('configtest notes explain each one where it is written', async () => {
    const c = await parse('risecount=3\nmaxconcurrentchecks=8\n' + V + '\tslowstart=20\n\tcheckspread=yes\n\trisecount=1\n');
    const notes = (c.notes ?? []).map((n) => `${n.line}: ${n.message}`);
    expect(notes).toHaveLength(5);
    expect(notes[0]).toMatch(/^1: risecount = 3 \(not in the Perl ldirectord\): for every virtual service without its own, a real server that failed comes back after 3 successful checks in a row/);
    expect(notes[1]).toMatch(/^2: maxconcurrentchecks = 8 .*at most 8 checks run at once/);
    expect(notes[2]).toMatch(/^5: slowstart = 20 .*for this virtual service.*starts at weight 1 and reaches its weight over 20 seconds/);
    expect(notes[3]).toMatch(/^6: checkspread = yes .*its own fixed offset within checkinterval/);
    expect(notes[4]).toMatch(/^7: risecount = 1: for this virtual service, one successful check brings a failed real server back, as with the Perl ldirectord/);
  });

  it('slowstart with a scheduler that ignores weights is warned about', async () => {
    const c = await parse('slowstart=30\n' + V + '\tscheduler=rr\nvirtual=127.0.0.1:81\n\treal=127.0.0.2:81 gate\n\tscheduler=lc\n\tslowstart=0\n');
    expect(c.warnings.map((w) => `${w.line}: ${w.message}`)).toEqual([
      '4: slowstart has no effect with scheduler rr: it ignores weights (any weight above 0 gets a full share)',
    ]);
    const wrr = await parse('slowstart=30\n' + V);
    expect(wrr.warnings).toEqual([]);
  });
});
