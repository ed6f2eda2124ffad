import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { parse, reject, rejectLine, V } from './helpers.js';

describe('global defaults', () => {
  it('applies the defaults of the original', async () => {
    const g = (await parse('')).global;
    expect(g).toEqual({
      checkinterval: 10,
      checkcount: 1,
      failurecount: 1,
      autoreload: false,
      logfile: { kind: 'file', path: '/var/log/ldirectord.log' },
      emailalert: '',
      emailalertfreq: 0,
      emailalertstatus: ['starting', 'running', 'stopping', 'reloading'],
      execute: [],
      supervised: false,
      fork: false,
      quiescent: false,
      readdquiescent: false,
      cleanstop: true,
      fallbackcommandonstop: false,
      emailalertsplit: false,
      smtpuseport: false,
    });
    expect(g.checktimeout).toBeUndefined();
    expect(g.negotiatetimeout).toBeUndefined();
  });

  it('returns a frozen model', async () => {
    const c = await parse(V);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.virtuals[0].reals[0])).toBe(true);
  });
});

describe('fallbackcommandonstop (ours)', () => {
  it('is off by default, yes/no globally, and a virtual overrides the global', async () => {
    expect((await parse(V)).virtuals[0].fallbackcommandonstop).toBe(false);
    const c = await parse('fallbackcommandonstop=yes\n' + V);
    expect(c.global.fallbackcommandonstop).toBe(true);
    expect(c.virtuals[0].fallbackcommandonstop).toBe(true);
    expect((await parse('fallbackcommandonstop=yes\n' + V + '\tfallbackcommandonstop=no\n')).virtuals[0].fallbackcommandonstop).toBe(false);
    expect(await rejectLine('fallbackcommandonstop=maybe\n')).toBe(1);
  });
});

describe('emailalertsplit and smtpuseport (ours)', () => {
  it('are off by default, yes/no globally, and a virtual overrides the global', async () => {
    for (const d of ['emailalertsplit', 'smtpuseport'] as const) {
      expect((await parse(V)).virtuals[0][d]).toBe(false);
      const c = await parse(`${d}=yes\n` + V);
      expect(c.global[d]).toBe(true);
      expect(c.virtuals[0][d]).toBe(true);
      expect((await parse(`${d}=yes\n` + V + `\t${d}=no\n`)).virtuals[0][d]).toBe(false);
      expect(await rejectLine(`${d}=maybe\n`)).toBe(1);
    }
  });
});

describe('numeric globals take the first digit run', () => {
  it.each([
    ['checktimeout', '7', 7],
    ['checktimeout', '-3', 3],
    ['checktimeout', '2.5', 2],
    ['checktimeout', 'x9y', 9],
    ['negotiatetimeout', '45s', 45],
    ['checkinterval', '20', 20],
    ['checkinterval', '00', 0],
    ['failurecount', '3 times', 3],
  ] as const)('%s=%s → %d', async (name, value, want) => {
    const g = (await parse(`${name}=${value}\n`)).global as unknown as Record<string, number>;
    expect(g[name]).toBe(want);
  });

  it.each([
    ['checktimeout=0'],
    ['checktimeout=00'],
    ['checktimeout=none'],
    ['negotiatetimeout=0'],
    ['checkinterval=0'],
    ['checkinterval='],
    ['checkcount=0'],
    ['failurecount=zero'],
  ])('%s is rejected at its line', async (line) => {
    expect(await rejectLine(`# header\n${line}\n`)).toBe(2);
  });

  it('checkcount is accepted with a deprecation warning', async () => {
    const c = await parse('\ncheckcount=3\n');
    expect(c.global.checkcount).toBe(3);
    expect(c.warnings).toEqual([expect.objectContaining({ line: 2, message: expect.stringContaining('deprecated') })]);
  });
});

describe('yes/no globals', () => {
  it.each(['autoreload', 'fork', 'quiescent', 'readdquiescent', 'cleanstop'] as const)('%s', async (name) => {
    const g = (await parse(`${name}=yes\n`)).global as unknown as Record<string, boolean>;
    expect(g[name]).toBe(true);
    const g2 = (await parse(`${name} = no\n`)).global as unknown as Record<string, boolean>;
    expect(g2[name]).toBe(false);
    expect(await rejectLine(`\n${name}=Yes\n`)).toBe(2);
    expect(await rejectLine(`\n\n${name}=yes \n`)).toBe(3);
    expect(await rejectLine(`${name}=yes # comment\n`)).toBe(1);
    expect(await rejectLine(`${name}=yes\r\n`)).toBe(1);
  });

  it('supervised: yes/no, bare (warning), anything else rejected', async () => {
    expect((await parse('supervised=yes\n')).global.supervised).toBe(true);
    const bare = await parse('\nsupervised\n');
    expect(bare.global.supervised).toBe(true);
    expect(bare.warnings[0]).toMatchObject({ line: 2 });
    expect(await rejectLine('\nsupervised=1\n')).toBe(2);
    expect(await rejectLine('supervisedx=yes\n')).toBe(1);
  });
});

describe('string globals', () => {
  it('fallbackcommand, emailalertfrom and execute keep the raw value (quotes too)', async () => {
    const g = (await parse('fallbackcommand="/bin/fb" x\nemailalertfrom="LB" <lb@example.com>\nexecute=a.cf\nexecute=b.cf\nexecute=a.cf\n')).global;
    expect(g.fallbackcommand).toBe('"/bin/fb" x');
    expect(g.emailalertfrom).toBe('"LB" <lb@example.com>');
    expect(g.execute).toEqual(['a.cf', 'b.cf']);
    expect(await rejectLine('fallbackcommand=\n')).toBe(1);
    expect(await rejectLine('\nemailalertfrom=\n')).toBe(2);
  });

  it('callback and logfile must be quoted', async () => {
    const g = (await parse('callback="/usr/local/bin/cb"\nlogfile="local0"\n')).global;
    expect(g.callback).toBe('/usr/local/bin/cb');
    expect(g.logfile).toEqual({ kind: 'syslog', facility: 'local0' });
    expect(await rejectLine('\ncallback=/bin/cb\n')).toBe(2);
    const odd = await parse('\nlogfile="syslog:local0"\n');
    expect(odd.global.logfile).toEqual({ kind: 'syslog', facility: 'syslog:local0' });
    expect(odd.warnings).toEqual([expect.objectContaining({ line: 2 })]);
    expect(await rejectLine('\n\nlogfile=/var/log/x\n')).toBe(3);
  });

  it('emailalert strips enclosing quotes and must not be empty', async () => {
    expect((await parse('emailalert="a@example.com"\n')).global.emailalert).toBe('a@example.com');
    expect((await parse('emailalert=a@example.com, b@example.com\n')).global.emailalert).toBe('a@example.com, b@example.com');
    expect(await rejectLine('\nemailalert=""\n')).toBe(2);
  });

  it('emailalertfreq needs digits right after "="', async () => {
    expect((await parse('emailalertfreq=600\n')).global.emailalertfreq).toBe(600);
    expect((await parse('emailalertfreq = 60s\n')).global.emailalertfreq).toBe(60);
    expect(await rejectLine('\nemailalertfreq=x60\n')).toBe(2);
  });

  it.each([
    ['all', ['starting', 'running', 'stopping', 'reloading']],
    ['none', []],
    ['starting , running', ['starting', 'running']],
    ['reloading,stopping', ['stopping', 'reloading']],
    ['', []],
  ])('emailalertstatus=%s', async (value, want) => {
    expect((await parse(`emailalertstatus=${value}\n`)).global.emailalertstatus).toEqual(want);
  });

  it.each(['none,running', 'running,none', 'sometimes', ',running', 'all '])('emailalertstatus=%s is rejected', async (value) => {
    expect(await rejectLine(`\nemailalertstatus=${value}\n`)).toBe(2);
  });

  it('smtp takes the leading host characters and, unlike the original, keeps a :port; a quote is rejected', async () => {
    expect((await parse('smtp=mail.example.com:2525\n')).global.smtp).toBe('mail.example.com:2525');
    expect((await parse('smtp=mail.example.com trailing\n')).global.smtp).toBe('mail.example.com');
    expect(await rejectLine('\nsmtp="mail"\n')).toBe(2);
  });

  it('maintenancedir: warning when it is not a directory, error when empty', async () => {
    const ok = await parse('maintenancedir=/tmp\n');
    expect(ok.global.maintenancedir).toBe('/tmp');
    expect(ok.warnings).toEqual([]);
    const missing = await parse('\nmaintenancedir=/nonexistent/maint\n');
    expect(missing.warnings[0]).toMatchObject({ line: 2 });
    expect(await rejectLine('maintenancedir=\n')).toBe(1);
  });
});

describe('global fallback', () => {
  it('is resolved once per protocol; without a port it takes each virtual port', async () => {
    const c = await parse('fallback=localhost masq\nvirtual=127.0.0.1:8080\n\treal=127.0.0.2:8080 masq\n');
    expect(c.global.fallback?.tcp).toMatchObject({ ip: '127.0.0.1', port: 0, forward: 'masq', portGiven: false });
    expect(c.global.fallback?.udp).toMatchObject({ ip: '127.0.0.1', port: 0 });
    expect(c.virtuals[0].fallback).toMatchObject({ ip: '127.0.0.1', port: 8080, forward: 'masq' });
  });

  it('a service-name port must exist for tcp and udp', async () => {
    const c = await parse('fallback=127.0.0.9:https\n');
    expect(c.global.fallback?.tcp?.port).toBe(443);
    expect(c.global.fallback?.udp?.port).toBe(443);
    // http is tcp only in the services table.
    expect(await rejectLine('\nfallback=127.0.0.9:http\n')).toBe(2);
  });

  it('fallback6 takes bracketed IPv6 and is used by IPv6 virtuals only', async () => {
    const c = await parse('fallback6=[::1]:80\nvirtual6=[::1]:81\n\treal6=[::1]:82 masq\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n');
    expect(c.global.fallback6?.tcp).toMatchObject({ ip: '::1', family: 6, port: 80, forward: 'gate' });
    expect(c.virtuals[0].fallback).toMatchObject({ ip: '::1', port: 80 });
    expect(c.virtuals[1].fallback).toBeUndefined();
  });

  it('rejects an unresolvable host and a bad forwarding method', async () => {
    expect(await rejectLine('\nfallback=nowhere.invalid:80\n')).toBe(2);
    expect(await rejectLine('\nfallback=127.0.0.1:80 nat\n')).toBe(2);
    expect(await rejectLine('fallback6=127.0.0.1:80\n')).toBe(1);
  });
});

describe('deprecated and unknown directives', () => {
  it.each([
    ['timeout=5', 1],
    ['connecttimeout=5', 1],
    ['scheduler=wrr', 1],
    ['real=127.0.0.2:80 gate', 1],
    ['  checktimeout=5', 1],
    ['checktimeout 5', 1],
  ])('%s is rejected', async (line, want) => {
    const e = await reject(`${line}\n`);
    expect(e.line).toBe(want);
    expect(e.format()).toMatch(/^test\.cf:1: /);
  });

  it('skips blank and comment lines, even indented ones, and counts them', async () => {
    expect(await rejectLine('# c\n\n   # indented\n \t \nbogus=1\n')).toBe(5);
  });

  it('does not strip trailing comments at top level', async () => {
    expect(await rejectLine('checktimeout=5 # five\nautoreload=no # x\n')).toBe(2);
  });
});

describe('logfile checks (checkFiles)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ldcfg-log-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('test-opens a file logfile for append, creating it', async () => {
    const path = join(dir, 'ld.log');
    const c = await parse(`logfile="${path}"\n`, { checkFiles: true });
    expect(c.global.logfile).toEqual({ kind: 'file', path });
    const { existsSync } = await import('node:fs');
    expect(existsSync(path)).toBe(true);
  });

  it('rejects a logfile that cannot be opened, except under debug or after supervised=yes', async () => {
    const bad = `logfile="${join(dir, 'missing', 'ld.log')}"\n`;
    expect(await rejectLine(`\n${bad}`, { checkFiles: true })).toBe(2);
    await expect(parse(bad, { checkFiles: true, debug: true })).resolves.toBeDefined();
    await expect(parse(`supervised=yes\n${bad}`, { checkFiles: true })).resolves.toBeDefined();
    expect(await rejectLine(`${bad}supervised=yes\n`, { checkFiles: true })).toBe(1);
  });
});
