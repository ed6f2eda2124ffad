import { describe, expect, it } from 'vitest';
import { Scenario, cfg, UP, DOWN, MAINT } from './helpers.js';

const V = 'tcp:192.168.6.1:80';

describe('engine scenarios: shared reals', () => {
  const text = `
failurecount=3
quiescent=no
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	checktype=connect
virtual=192.168.6.2:80
	real=10.0.0.1:80 masq
	checktype=connect
`;
  it('one job for a real shared by two virtuals; failures counted once per virtual (1/3, 2/3, then down in both)', async () => {
    const s = new Scenario();
    await s.start(await cfg(text));
    expect(s.engine.jobs().length).toBe(1);
    await s.check({ '10.0.0.1': UP });
    expect(s.save()).toBe(
      '-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 1\n-A -t 192.168.6.2:80 -s wrr\n-a -t 192.168.6.2:80 -r 10.0.0.1:80 -m -w 1\n',
    );
    expect(await s.check({ '10.0.0.1': DOWN })).toEqual([
      `Soft failure real server: 10.0.0.1:80 (${V}) failure 1/3`,
      'Soft failure real server: 10.0.0.1:80 (tcp:192.168.6.2:80) failure 2/3',
    ]);
    expect(await s.check({ '10.0.0.1': DOWN })).toEqual([
      'Deleted real server: 10.0.0.1:80 (192.168.6.1:80)',
      'Deleted real server: 10.0.0.1:80 (192.168.6.2:80)',
    ]);
    expect(s.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n-A -t 192.168.6.2:80 -s wrr\n');
  });
});

describe('engine scenarios: fallback and fallbackcommand', () => {
  const text = `
failurecount=1
quiescent=no
fallbackcommand=/bin/sorry
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	real=10.0.0.2:80 masq
	fallback=10.0.0.99:8080 masq
	checktype=connect
virtual=192.168.6.2:80
	real=10.0.0.3:80 gate
	fallback=10.0.0.98
	checktype=connect
`;
  it('fallback (weight 1, its own forwarding) while no real is up; removed when one is; command once per transition', async () => {
    const s = new Scenario();
    expect(await s.start(await cfg(text))).toEqual([
      'Added virtual server: 192.168.6.1:80',
      'Added virtual server: 192.168.6.2:80',
      'Added fallback server: 10.0.0.99:8080 (192.168.6.1:80) (Weight set to 1)',
      'RUN /bin/sorry start 192.168.6.1:80 tcp',
      'Added fallback server: 10.0.0.98:80 (192.168.6.2:80) (Weight set to 1)',
      'RUN /bin/sorry start 192.168.6.2:80 tcp',
      // ld_start's forced up-then-down of each missing real (readdquiescent=no), as the original logs it;
      // the fallback command follows it as the original's does.
      'Added real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 1)',
      'Deleted fallback server: 10.0.0.99:8080 (192.168.6.1:80)',
      'RUN /bin/sorry stop 192.168.6.1:80 tcp',
      'Deleted real server: 10.0.0.1:80 (192.168.6.1:80)',
      'Added fallback server: 10.0.0.99:8080 (192.168.6.1:80) (Weight set to 1)',
      'RUN /bin/sorry start 192.168.6.1:80 tcp',
      'Added real server: 10.0.0.2:80 (192.168.6.1:80) (Weight set to 1)',
      'Deleted fallback server: 10.0.0.99:8080 (192.168.6.1:80)',
      'RUN /bin/sorry stop 192.168.6.1:80 tcp',
      'Deleted real server: 10.0.0.2:80 (192.168.6.1:80)',
      'Added fallback server: 10.0.0.99:8080 (192.168.6.1:80) (Weight set to 1)',
      'RUN /bin/sorry start 192.168.6.1:80 tcp',
      'Added real server: 10.0.0.3:80 (192.168.6.2:80) (Weight set to 1)',
      'Deleted fallback server: 10.0.0.98:80 (192.168.6.2:80)',
      'RUN /bin/sorry stop 192.168.6.2:80 tcp',
      'Deleted real server: 10.0.0.3:80 (192.168.6.2:80)',
      'Added fallback server: 10.0.0.98:80 (192.168.6.2:80) (Weight set to 1)',
      'RUN /bin/sorry start 192.168.6.2:80 tcp',
    ]);
    expect(s.save()).toBe(
      '-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.99:8080 -m -w 1\n-A -t 192.168.6.2:80 -s wrr\n-a -t 192.168.6.2:80 -r 10.0.0.98:80 -g -w 1\n',
    );
    expect(await s.check({ '10.0.0.1': UP, '10.0.0.2': DOWN, '10.0.0.3': DOWN })).toEqual([
      `Resetting soft failure count: 10.0.0.1:80 (${V})`,
      'Added real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 1)',
      'Deleted fallback server: 10.0.0.99:8080 (192.168.6.1:80)',
      'RUN /bin/sorry stop 192.168.6.1:80 tcp',
    ]);
    expect(s.save()).toContain('-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 1\n-A');
    expect(s.save()).not.toContain('10.0.0.99');
    // a second real coming up: no second stop
    expect(await s.check({ '10.0.0.2': UP })).toEqual([
      'Resetting soft failure count: 10.0.0.2:80 (tcp:192.168.6.1:80)',
      'Added real server: 10.0.0.2:80 (192.168.6.1:80) (Weight set to 1)',
    ]);
    await s.check({ '10.0.0.1': DOWN });
    expect(await s.check({ '10.0.0.2': DOWN })).toEqual([
      'Deleted real server: 10.0.0.2:80 (192.168.6.1:80)',
      'Added fallback server: 10.0.0.99:8080 (192.168.6.1:80) (Weight set to 1)',
      'RUN /bin/sorry start 192.168.6.1:80 tcp',
    ]);
  });
});

describe('engine scenarios: fallbackcommandonstop', () => {
  const text = (on: string) => `
quiescent=no
fallbackcommand=/bin/sorry
${on}
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	fallback=10.0.0.99:80 masq
	checktype=connect
virtual=192.168.6.2:80
	real=10.0.0.2:80 masq
	checktype=connect
`;
  it('off by default: stopping with the fallback in force runs no stop (as the original)', async () => {
    const s = new Scenario();
    await s.start(await cfg(text('')));
    expect((await s.stop()).filter((m) => m.startsWith('RUN'))).toEqual([]);
  });
  it('fallbackcommandonstop=yes: stop undoes a fallback command still in force, and only that one', async () => {
    const s = new Scenario();
    await s.start(await cfg(text('fallbackcommandonstop=yes')));
    await s.check({ '10.0.0.2': UP });
    expect((await s.stop()).filter((m) => m.startsWith('RUN'))).toEqual(['RUN /bin/sorry stop 192.168.6.1:80 tcp']);
  });
});

describe('engine scenarios: start over an existing table', () => {
  const text = `
quiescent=no
failurecount=1
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq 2
	real=10.0.0.2:80 masq
	real=10.0.0.3:80 masq
	checktype=connect
	scheduler=wlc
`;
  const table = [
    '-A -t 192.168.6.1:80 -s wrr',
    '-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 2',
    '-a -t 192.168.6.1:80 -r 10.0.0.2:80 -m -w 0',
    '-a -t 192.168.6.1:80 -r 10.0.0.7:80 -m -w 1',
    '-A -t 192.168.9.9:80 -s rr',
    '-a -t 192.168.9.9:80 -r 10.0.0.8:80 -m -w 1',
    '',
  ].join('\n');
  it('adopts present reals (no event, no table flap), purges unlisted dests, leaves unmanaged services, edits the service', async () => {
    const s = new Scenario(table);
    // Weight-0 and missing reals are logged as the original's forced up-then-down; the table goes
    // straight to the outcome.
    expect(await s.start(await cfg(text))).toEqual([
      'Changed virtual server: 192.168.6.1:80',
      'Purged real server (start): 10.0.0.7:80 (192.168.6.1:80)',
      'Restored real server: 10.0.0.2:80 (192.168.6.1:80) (Weight set to 1)',
      'Deleted real server: 10.0.0.2:80 (192.168.6.1:80)',
      'Added real server: 10.0.0.3:80 (192.168.6.1:80) (Weight set to 1)',
      'Deleted real server: 10.0.0.3:80 (192.168.6.1:80)',
    ]);
    expect(s.sim.history.filter((h) => h.commandLine.includes('10.0.0.3'))).toEqual([]);
    expect(s.save()).toBe(
      '-A -t 192.168.6.1:80 -s wlc\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 2\n-A -t 192.168.9.9:80 -s rr\n-a -t 192.168.9.9:80 -r 10.0.0.8:80 -m -w 1\n',
    );
    const snap = s.engine.snapshot().reals.map((r) => [r.rs, r.state]);
    expect(snap).toEqual([
      ['10.0.0.1:80', 'unknown'],
      ['10.0.0.2:80', 'down'],
      ['10.0.0.3:80', 'down'],
    ]);
    // No add-then-remove flap: the healthy adopted real is never touched.
    expect(s.sim.history.filter((h) => h.commandLine.includes('10.0.0.1'))).toEqual([]);
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP, '10.0.0.3': DOWN });
    expect(s.save()).toContain('-r 10.0.0.2:80 -m -w 1');
    expect(s.sim.history.filter((h) => h.commandLine.includes('10.0.0.1'))).toEqual([]);
  });

  it('quiescent=yes: a missing real is added at weight 0, a weight-0 real stays', async () => {
    const s = new Scenario(table);
    await s.start(await cfg(text.replace('quiescent=no', 'quiescent=yes')));
    expect(s.save()).toBe(
      [
        '-A -t 192.168.6.1:80 -s wlc',
        '-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 2',
        '-a -t 192.168.6.1:80 -r 10.0.0.2:80 -m -w 0',
        '-a -t 192.168.6.1:80 -r 10.0.0.3:80 -m -w 0',
        '-A -t 192.168.9.9:80 -s rr',
        '-a -t 192.168.9.9:80 -r 10.0.0.8:80 -m -w 1',
        '',
      ].join('\n'),
    );
  });
});

describe('engine scenarios: services', () => {
  it('fwm with persistence and netmask (PFWM), PCC port 0, udp with ops and sh flags', async () => {
    const s = new Scenario();
    await s.start(
      await cfg(`
quiescent=yes
virtual=42
	real=10.0.0.1:80 gate
	checktype=connect
	persistent=600
	netmask=255.255.255.0
virtual=192.168.6.1:0
	real=10.0.0.2 gate
	checktype=connect
	persistent=300
virtual=192.168.6.1:53
	real=10.0.0.3:53 masq
	protocol=udp
	checktype=connect
	scheduler=sh
	schedflags=sh-port
	ops=yes
`),
    );
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP, '10.0.0.3': UP });
    expect(s.save()).toBe(
      [
        '-A -t 192.168.6.1:0 -s wrr -p 300',
        '-a -t 192.168.6.1:0 -r 10.0.0.2:0 -g -w 1',
        '-A -u 192.168.6.1:53 -s sh -o -b sh-port',
        '-a -u 192.168.6.1:53 -r 10.0.0.3:53 -m -w 1',
        '-A -f 42 -s wrr -p 600 -M 255.255.255.0',
        '-a -f 42 -r 10.0.0.1:80 -g -w 1',
        '',
      ].join('\n'),
    );
  });

  it('gate real configured on another port: keyed by the kernel form, quiesced and restored without flapping', async () => {
    const s = new Scenario();
    await s.start(await cfg('quiescent=yes\nfailurecount=1\nvirtual=192.168.6.1:80\n\treal=10.0.0.1:8080 gate\n\tchecktype=connect\n'));
    expect(s.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -g -w 0\n');
    expect(await s.check({ '10.0.0.1': UP })).toContain('Restored real server: 10.0.0.1:8080 (192.168.6.1:80) (Weight set to 1)');
    expect(await s.check({ '10.0.0.1': DOWN })).toEqual(['Quiescent real server: 10.0.0.1:80 mapped from 10.0.0.1:8080 (192.168.6.1:80) (Weight set to 0)']);
    await s.check({ '10.0.0.1': UP });
    expect(s.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -g -w 1\n');
  });
});

describe('engine scenarios: maintenance, stop', () => {
  it('a maintenance result forces the real down every pass (count rising), a success brings it back', async () => {
    const s = new Scenario();
    await s.start(await cfg('failurecount=3\nquiescent=yes\nvirtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\tchecktype=connect\n'));
    await s.check({ '10.0.0.1': UP });
    expect(await s.check({ '10.0.0.1': MAINT })).toEqual(['Quiescent real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 0)']);
    expect(s.engine.snapshot().reals[0]).toMatchObject({ state: 'maintenance', failures: 1 });
    expect(await s.check({ '10.0.0.1': MAINT })).toEqual([]);
    expect(s.engine.snapshot().reals[0].failures).toBe(2);
    expect(await s.check({ '10.0.0.1': UP })).toEqual([
      `Resetting soft failure count: 10.0.0.1:80 (${V})`,
      'Restored real server: 10.0.0.1:80 (192.168.6.1:80) (Weight set to 1)',
    ]);
  });

  it('cleanstop purges up reals then the service; cleanstop=no leaves the table', async () => {
    const s = new Scenario();
    await s.start(
      await cfg('virtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\treal=10.0.0.2:80 masq\n\tchecktype=connect\nvirtual=192.168.6.2:80\n\treal=10.0.0.1:80 masq\n\tchecktype=connect\n\tcleanstop=no\n'),
    );
    await s.check({ '10.0.0.1': UP, '10.0.0.2': DOWN });
    expect(await s.stop()).toEqual(['Purged real server (stop): 10.0.0.1:80 (192.168.6.1:80)', 'Purged virtual server (stop): 192.168.6.1:80']);
    expect(s.save()).toBe('-A -t 192.168.6.2:80 -s wrr\n-a -t 192.168.6.2:80 -r 10.0.0.1:80 -m -w 1\n');
  });
});

describe('engine scenarios: reload as a diff', () => {
  const before = `
failurecount=3
quiescent=yes
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	real=10.0.0.2:80 masq
	real=10.0.0.3:80 masq
	checktype=connect
virtual=192.168.6.2:80
	real=10.0.0.4:80 masq
	checktype=connect
`;
  it('unchanged reals keep state and failure count; removed reals/virtuals leave; weight/forward edited in place', async () => {
    const s = new Scenario();
    await s.start(await cfg(before));
    await s.check({ '10.0.0.1': UP, '10.0.0.2': UP, '10.0.0.3': DOWN, '10.0.0.4': UP });
    await s.check({ '10.0.0.1': DOWN });
    expect(s.engine.snapshot().reals[0].failures).toBe(1);
    const after = `
failurecount=3
quiescent=yes
virtual=192.168.6.1:80
	real=10.0.0.1:80 masq
	real=10.0.0.2:80 masq 5
	checktype=connect
`;
    const ev = await s.reload(await cfg(after));
    expect(ev).toEqual([
      'Changed virtual server: 192.168.6.1:80',
      'Restored real server: 10.0.0.2:80 (192.168.6.1:80) (Weight set to 5)',
      'Purged real server (start): 10.0.0.3:80 (192.168.6.1:80)',
      'Purged virtual server (start): 192.168.6.2:80',
    ]);
    expect(s.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 1\n-a -t 192.168.6.1:80 -r 10.0.0.2:80 -m -w 5\n');
    // the failure count of the unchanged real survived
    expect(await s.check({ '10.0.0.1': DOWN })).toEqual([`Soft failure real server: 10.0.0.1:80 (${V}) failure 2/3`]);
    // forwarding changed: edited in place
    await s.reload(await cfg(after.replace('10.0.0.2:80 masq 5', '10.0.0.2:80 gate 5')));
    expect(s.save()).toContain('-a -t 192.168.6.1:80 -r 10.0.0.2:80 -g -w 5');
  });
});

describe('engine scenarios: monitorfile', () => {
  it('one line per logged check of each virtual with a monitorfile, in the original format', async () => {
    const s = new Scenario();
    await s.start(await cfg('virtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\tchecktype=connect\n\tmonitorfile=/tmp/mon.log\n'));
    await s.check({ '10.0.0.1': { ok: false, status: 'l4-refused', message: 'refused|x', durationMs: 1 } });
    const mon = s.events.filter((e) => e.type === 'monitor');
    expect(mon).toHaveLength(1);
    expect(mon[0]).toMatchObject({ type: 'monitor', file: '/tmp/mon.log' });
    // a connect check logs no message, as the original (compared with a monitorfile the Perl ldirectord wrote)
    expect((mon[0] as { line: string }).line).toMatch(/^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] \[\d+\] connect tcp 10\.0\.0\.1 80 1 masq \/  \[down\] -\n$/);
  });
  it('http checks log their status line, encoded', async () => {
    const s = new Scenario();
    await s.start(await cfg('virtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\tservice=http\n\tmonitorfile=/tmp/mon.log\n'));
    await s.check({ '10.0.0.1': { ok: false, status: 'l7-bad-status', message: 'HTTP/1.1 500 x|y', durationMs: 1 } });
    const mon = s.events.filter((e) => e.type === 'monitor') as { line: string }[];
    expect(mon[0].line).toMatch(/\[down\] HTTP\/1\.1 500 x%7cy\n$/);
  });
  it('a combined http check logs its status line on negotiate passes and - on connect passes, as the original', async () => {
    const s = new Scenario();
    await s.start(await cfg('virtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\tservice=http\n\tchecktype=2\n\tmonitorfile=/tmp/mon.log\n'));
    const mon: { line: string }[] = [];
    const monitorLines = (): void => void mon.push(...(s.events.filter((e) => e.type === 'monitor') as { line: string }[]));
    await s.check({ '10.0.0.1': { ok: true, status: 'ok', message: 'HTTP/1.1 200 OK', durationMs: 1 } });
    monitorLines();
    await s.check({ '10.0.0.1': { ok: true, status: 'ok', message: 'connect 10.0.0.1:80', durationMs: 1, pass: 'connect' } });
    monitorLines();
    expect(mon).toHaveLength(2);
    expect(mon[0].line).toMatch(/\[up\] HTTP\/1\.1 200 OK\n$/);
    expect(mon[1].line).toMatch(/\[up\] -\n$/);
  });
});

describe('engine scenarios: IPv6 and checktype off', () => {
  it('virtual6 with a global fallback6, logged with bracketed addresses', async () => {
    const s = new Scenario();
    const ev = await s.start(
      await cfg('quiescent=no\nfailurecount=1\nfallback6=[2001:db8::99]:80 masq\nvirtual6=[2001:db8::1]:80\n\treal6=[2001:db8::10]:80 masq\n\tchecktype=connect\n'),
    );
    expect(ev).toEqual([
      'Added virtual server: [2001:db8::1]:80',
      'Added fallback server: [2001:db8::99]:80 ([2001:db8::1]:80) (Weight set to 1)',
      'Added real server: [2001:db8::10]:80 ([2001:db8::1]:80) (Weight set to 1)',
      'Deleted fallback server: [2001:db8::99]:80 ([2001:db8::1]:80)',
      'Deleted real server: [2001:db8::10]:80 ([2001:db8::1]:80)',
      'Added fallback server: [2001:db8::99]:80 ([2001:db8::1]:80) (Weight set to 1)',
    ]);
    expect(await s.check({ '2001:db8::10': UP })).toEqual([
      'Resetting soft failure count: [2001:db8::10]:80 (tcp:[2001:db8::1]:80)',
      'Added real server: [2001:db8::10]:80 ([2001:db8::1]:80) (Weight set to 1)',
      'Deleted fallback server: [2001:db8::99]:80 ([2001:db8::1]:80)',
    ]);
    expect(s.save()).toBe('-A -t [2001:db8::1]:80 -s wrr\n-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m -w 1\n');
  });

  it('checktype=off: no jobs; reals keep what start decided', async () => {
    const s = new Scenario('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 1\n');
    await s.start(await cfg('quiescent=no\nvirtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\treal=10.0.0.2:80 masq\n\tchecktype=off\n'));
    expect(s.engine.jobs()).toEqual([]);
    expect(s.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n-a -t 192.168.6.1:80 -r 10.0.0.1:80 -m -w 1\n');
  });
});

describe('engine: removed services', () => {
  it('a dropped virtual stays in remove until forgotten, then a hand-made service of that address is left alone', async () => {
    const s = new Scenario();
    await s.start(await cfg('virtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\tchecktype=connect\nvirtual=192.168.6.2:80\n\treal=10.0.0.1:80 masq\n\tchecktype=connect\n'));
    await s.reload(await cfg('virtual=192.168.6.1:80\n\treal=10.0.0.1:80 masq\n\tchecktype=connect\n'));
    const d = s.engine.desired();
    expect(d.remove).toEqual([{ proto: 'tcp', vaddr: '192.168.6.2:80' }]);
    expect(s.save()).toBe('-A -t 192.168.6.1:80 -s wrr\n');
    s.engine.forgetRemoved(d.remove);
    expect(s.engine.desired().remove).toEqual([]);
  });
});
