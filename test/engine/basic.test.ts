import { describe, expect, it } from 'vitest';
import { Scenario, cfg, UP, DOWN } from './helpers.js';

const base = (extra = '', vextra = '') => `
checkinterval=1
failurecount=3
${extra}
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq 2
	real=10.0.0.2:80 masq 3
	checktype=connect
	scheduler=wrr
${vextra}
`;

describe('engine: basic transitions', () => {
  it('start on an empty table: virtual added, reals down (absent) until checked, then added', async () => {
    const s = new Scenario();
    // The original's ld_start forces a missing real up, then down (readdquiescent=no): its log lines and
    // mails. The table only ever holds the outcome.
    expect(await s.start(await cfg(base()))).toEqual([
      'Added virtual server: 192.168.6.1:80',
      'Added real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 2)',
      'Deleted real server: 10.0.0.1:80 (192.168.6.1:80)',
      'Added real server: 10.0.0.2:80 (192.168.6.1:80) (Weight set to 3)',
      'Deleted real server: 10.0.0.2:80 (192.168.6.1:80)',
    ]);
    expect(s.sim.history.filter((h) => h.commandLine.includes('10.0.0.'))).toEqual([]);
    expect(s.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n');
    const ev = await s.check({ '10.0.0.1:80': UP, '10.0.0.2:80': DOWN });
    expect(ev).toEqual(['Resetting soft failure count: 10.0.0.1:80 (tcp:192.168.6.1:80)', 'Added real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 2)']);
    expect(s.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 2\n');
  });

  it('failurecount failures in a row take a real down, one success brings it back', async () => {
    const s = new Scenario();
    await s.start(await cfg(base()));
    await s.check({ '10.0.0.1:80': UP, '10.0.0.2:80': UP });
    expect(await s.check({ '10.0.0.1': DOWN })).toEqual(['Soft failure real server: 10.0.0.1:80 (tcp:192.168.6.1:80) failure 1/3']);
    expect(await s.check({ '10.0.0.1': DOWN })).toEqual(['Soft failure real server: 10.0.0.1:80 (tcp:192.168.6.1:80) failure 2/3']);
    expect(s.save()).toContain('-r 10.0.0.1:80 -m -w 2');
    expect(await s.check({ '10.0.0.1': DOWN })).toEqual(['Deleted real server: 10.0.0.1:80 (192.168.6.1:80)']);
    expect(s.save()).not.toContain('10.0.0.1');
    // no counting while down
    expect(await s.check({ '10.0.0.1': DOWN })).toEqual([]);
    expect(await s.check({ '10.0.0.1': UP })).toEqual([
      'Resetting soft failure count: 10.0.0.1:80 (tcp:192.168.6.1:80)',
      'Added real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 2)',
    ]);
    expect(s.save()).toContain('-r 10.0.0.1:80 -m -w 2');
  });

  it('a success between failures resets the count', async () => {
    const s = new Scenario();
    await s.start(await cfg(base()));
    await s.check({ '10.0.0.1:80': UP });
    await s.check({ '10.0.0.1': DOWN });
    await s.check({ '10.0.0.1': DOWN });
    expect(await s.check({ '10.0.0.1': UP })).toEqual(['Resetting soft failure count: 10.0.0.1:80 (tcp:192.168.6.1:80)']);
    expect(await s.check({ '10.0.0.1': DOWN })).toEqual(['Soft failure real server: 10.0.0.1:80 (tcp:192.168.6.1:80) failure 1/3']);
  });

  it('quiescent=yes: weight 0 when down, restored with configured weight', async () => {
    const s = new Scenario();
    await s.start(await cfg(base('quiescent=yes\nfailurecount=1')));
    expect(s.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 0\n-a -t 192.168.6.1:80 -r 10.0.0.2:80 -m -w 0\n');
    expect(await s.check({ '10.0.0.1': UP, '10.0.0.2': UP })).toEqual([
      'Resetting soft failure count: 10.0.0.1:80 (tcp:192.168.6.1:80)',
      'Restored real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 2)',
      'Resetting soft failure count: 10.0.0.2:80 (tcp:192.168.6.1:80)',
      'Restored real server: 10.0.0.2:80 (192.168.6.1:80) (Weight set to 3)',
    ]);
    expect(await s.check({ '10.0.0.2': DOWN })).toEqual(['Quiescent real server: 10.0.0.2:80 (192.168.6.1:80) (Weight set to 0)']);
    expect(s.save()).toContain('-r 10.0.0.2:80 -m -w 0');
  });
});
