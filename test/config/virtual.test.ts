import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { parse, rejectLine, virtual } from './helpers.js';
import { IPVS_SCHEDULERS } from '../../src/model/config.js';

const R = 'real=127.0.0.2:80 gate';

describe('virtual= and virtual6= forms', () => {
  it('ip:port', async () => {
    const v = await virtual('virtual=127.0.0.1:80', [R]);
    expect(v).toMatchObject({ keyword: 'virtual', family: 4, protocol: 'tcp', ip: '127.0.0.1', port: 80, vaddr: '127.0.0.1:80', vid: 'tcp:127.0.0.1:80' });
    expect(v.fwmark).toBeUndefined();
  });

  it('hostname:service', async () => {
    const v = await virtual('virtual = localhost:www', [R]);
    expect(v).toMatchObject({ ip: '127.0.0.1', port: 80, service: 'http', vid: 'tcp:127.0.0.1:80' });
  });

  it('firewall mark (and an address without port read as a mark, with a warning)', async () => {
    const v = await virtual('virtual=42', ['real=127.0.0.2 gate']);
    expect(v).toMatchObject({ protocol: 'fwm', fwmark: 42, ip: '', port: 0, vaddr: '42', vid: 'fwm:42', service: 'none', serviceExplicit: false });
    const c = await parse('virtual=192.0.2.5\n\treal=127.0.0.2 gate\n');
    expect(c.virtuals[0].fwmark).toBe(192);
    expect(c.warnings[0]).toMatchObject({ line: 1, message: expect.stringContaining('firewall mark 192') });
  });

  it('virtual6 with [ipv6]:port and with a mark', async () => {
    const v = await virtual('virtual6=[2001:DB8:0::10]:443', ['real6=[2001:db8::11]:443 gate']);
    expect(v).toMatchObject({ keyword: 'virtual6', family: 6, ip: '2001:db8::10', port: 443, vaddr: '[2001:db8::10]:443', vid: 'tcp:[2001:db8::10]:443', service: 'https' });
    const m = await virtual('virtual6=7', ['real6=[::1] gate']);
    expect(m).toMatchObject({ protocol: 'fwm', family: 6, vid: 'fwm6:7', vaddr: '7' });
  });

  it.each([
    ['virtual=[::1]:80', 1],
    ['virtual6=[1:::2]:80', 1],
    ['virtual=:80', 1],
    ['virtual=', 1],
    ['virtual=127.0.0.1:nosuchport', 1],
    ['virtual=nohost.invalid:80', 1],
  ])('%s is rejected at its line', async (header, line) => {
    expect(await rejectLine(`${header}\n\t${R}\n`)).toBe(line);
  });

  it('virtual6 with an IPv4 address fails to resolve; real instead of real6 fails first', async () => {
    expect(await rejectLine('virtual6=127.0.0.1:80\n\treal6=[::1]:80 gate\n')).toBe(1);
    expect(await rejectLine('virtual6=[::1]:80\n\treal=127.0.0.2:80 gate\n')).toBe(2);
  });

  it('a port written with a leading zero maps to no service (string compare, as the original)', async () => {
    const v = await virtual('virtual=127.0.0.1:080', [R]);
    expect(v).toMatchObject({ port: 80, service: 'none', vid: 'tcp:127.0.0.1:080', vaddr: '127.0.0.1:80' });
  });
});

describe('protocol and service defaults', () => {
  it.each([
    ['53', 'udp'],
    ['domain', 'udp'],
    ['80', 'tcp'],
    ['5353', 'tcp'],
  ])('port %s → %s', async (port, proto) => {
    expect((await virtual(`virtual=127.0.0.1:${port}`, ['real=127.0.0.2 gate'])).protocol).toBe(proto);
  });

  it.each([
    [21, 'ftp'], [25, 'smtp'], [53, 'dns'], [80, 'http'], [110, 'pop'], [119, 'nntp'], [143, 'imap'],
    [389, 'ldap'], [443, 'https'], [587, 'submission'], [636, 'ldaps'], [993, 'imaps'], [995, 'pops'],
    [1521, 'oracle'], [1812, 'radius'], [3128, 'http_proxy'], [3306, 'mysql'], [5060, 'sip'],
    [5432, 'pgsql'], [8080, 'none'], [0, 'none'],
  ])('port %d infers service %s', async (port, service) => {
    const v = await virtual(`virtual=127.0.0.1:${port}`, ['real=127.0.0.2 masq']);
    expect(v.service).toBe(service);
    expect(v.serviceExplicit).toBe(false);
  });

  it('protocol=udp/tcp on an address, only fwm on a mark', async () => {
    expect((await virtual('virtual=127.0.0.1:53', [R, 'protocol=tcp'])).protocol).toBe('tcp');
    expect((await virtual('virtual=127.0.0.1:80', [R, 'protocol=udp'])).protocol).toBe('udp');
    expect((await virtual('virtual=3', ['real=127.0.0.2 gate', 'protocol=fwm'])).protocol).toBe('fwm');
    expect(await rejectLine(`virtual=3\n\t${R}\n\tprotocol=tcp\n`)).toBe(3);
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tprotocol=fwm\n`)).toBe(3);
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tprotocol=\n`)).toBe(3);
  });

  it('the port is resolved with the final protocol (error at the virtual line)', async () => {
    expect(await rejectLine(`\nvirtual=127.0.0.1:http\n\t${R}\n\tprotocol=udp\n`)).toBe(2);
  });
});

describe('per-virtual defaults', () => {
  it('applies the initial values of the original', async () => {
    const v = await virtual('virtual=127.0.0.1:8080', ['real=127.0.0.2:8080 masq']);
    expect(v).toMatchObject({
      checktype: 'negotiate', scheduler: 'wrr', checkcommand: '/bin/true', request: '/', receive: '',
      login: '', passwd: '', database: '', secret: '', httpmethod: 'GET', ops: false,
      checktimeout: 5, negotiatetimeout: 30, checkinterval: 10, checkcount: 1, failurecount: 1,
      quiescent: false, cleanstop: true, emailalert: '', emailalertfreq: 0,
      emailalertstatus: ['starting', 'running', 'stopping', 'reloading'],
      pos: { file: 'test.cf', line: 1 },
    });
    for (const k of ['persistent', 'netmask', 'schedflags', 'checkport', 'virtualhost', 'fallback', 'monitorfile', 'smtp', 'load', 'combinedCount']) {
      expect(v).not.toHaveProperty(k);
    }
  });
});

describe('timeouts: mutual defaulting (section 2.6)', () => {
  it.each([
    // [globals, virtual lines, checktimeout, negotiatetimeout]
    [[], [], 5, 30],
    [['checktimeout=3'], [], 3, 3],
    [['negotiatetimeout=12'], [], 12, 12],
    [['checktimeout=3', 'negotiatetimeout=12'], [], 3, 12],
    [[], ['checktimeout=4'], 4, 4],
    [[], ['negotiatetimeout=9'], 9, 9],
    [['checktimeout=3', 'negotiatetimeout=12'], ['negotiatetimeout=9'], 9, 9],
    [['checktimeout=3', 'negotiatetimeout=12'], ['checktimeout=4'], 4, 4],
    [['negotiatetimeout=12'], ['checktimeout=4'], 4, 4],
    [[], ['checktimeout=4', 'negotiatetimeout=9'], 4, 9],
  ])('globals %j, virtual %j → %d/%d', async (globals, lines, ct, nt) => {
    const v = await virtual('virtual=127.0.0.1:80', [R, ...lines], globals);
    expect([v.checktimeout, v.negotiatetimeout]).toEqual([ct, nt]);
  });

  it('global order in the file does not matter', async () => {
    const c = await parse(`virtual=127.0.0.1:80\n\t${R}\nchecktimeout=7\nfailurecount=4\nquiescent=yes\n`);
    expect(c.virtuals[0]).toMatchObject({ checktimeout: 7, negotiatetimeout: 7, failurecount: 4, quiescent: true });
  });

  it('virtual values: first digit run, "0" rejected', async () => {
    const v = await virtual('virtual=127.0.0.1:80', [R, 'checktimeout=-6', 'negotiatetimeout=2.5', 'failurecount=x3', 'checkcount=2']);
    expect(v).toMatchObject({ checktimeout: 6, negotiatetimeout: 2, failurecount: 3, checkcount: 2 });
    for (const d of ['checktimeout', 'negotiatetimeout', 'failurecount', 'checkcount', 'checkinterval']) {
      expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\t${d}=0\n`)).toBe(3);
      expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\t${d}=never\n`)).toBe(3);
    }
  });

  it('connecttimeout is a deprecated error inside a virtual too', async () => {
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tconnecttimeout=3\n`)).toBe(3);
  });
});

describe('checkinterval, counts and inherited settings', () => {
  it('a virtual checkinterval applies with fork=yes, is ignored (warning) with fork=no', async () => {
    const forked = await virtual('virtual=127.0.0.1:80', [R, 'checkinterval=3'], ['fork=yes', 'checkinterval=20']);
    expect(forked.checkinterval).toBe(3);
    const c = await parse(`checkinterval=20\nvirtual=127.0.0.1:80\n\t${R}\n\tcheckinterval=3\n`);
    expect(c.virtuals[0].checkinterval).toBe(20);
    expect(c.warnings).toEqual([expect.objectContaining({ line: 4, message: expect.stringContaining('fork=no') })]);
  });

  it('quiescent, cleanstop, emailalert*, smtp and fallbackcommand inherit and override', async () => {
    const globals = ['quiescent=yes', 'cleanstop=no', 'emailalert=a@example.com', 'emailalertfreq=60', 'emailalertstatus=running', 'smtp=127.0.0.1', 'fallbackcommand=/bin/g'];
    const inh = await virtual('virtual=127.0.0.1:80', [R], globals);
    expect(inh).toMatchObject({ quiescent: true, cleanstop: false, emailalert: 'a@example.com', emailalertfreq: 60, emailalertstatus: ['running'], smtp: '127.0.0.1', fallbackcommand: '/bin/g' });
    const own = await virtual(
      'virtual=127.0.0.1:80',
      [R, 'quiescent=no', 'cleanstop=yes', 'emailalert="b@example.com"', 'emailalertfreq=5', 'emailalertstatus=none', 'smtp=mail.example.com', 'fallbackcommand="/bin/v"'],
      globals,
    );
    expect(own).toMatchObject({ quiescent: false, cleanstop: true, emailalert: 'b@example.com', emailalertfreq: 5, emailalertstatus: [], smtp: 'mail.example.com', fallbackcommand: '/bin/v' });
  });

  it.each(['quiescent=maybe', 'cleanstop=1', 'emailalert=""', 'emailalertfreq=soon', 'emailalertstatus=none,all', 'smtp="x"', 'fallbackcommand='])(
    'rejects %s at its line',
    async (line) => {
      expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\t${line}\n`)).toBe(3);
    },
  );

  it.each(['readdquiescent=yes', 'maintenancedir=/tmp', 'emailalertfrom=x', 'autoreload=yes', 'callback="x"', 'logfile="local0"', 'execute=x.cf', 'fork=yes', 'supervised=yes'])(
    'global-only %s is unknown inside a block',
    async (line) => {
      expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\t${line}\n`)).toBe(3);
    },
  );
});

describe('check directives', () => {
  it('request gets a leading "/"; request/receive must be quoted and non-empty', async () => {
    expect((await virtual('virtual=127.0.0.1:80', [R, 'request="index.html"'])).request).toBe('/index.html');
    expect((await virtual('virtual=127.0.0.1:80', [R, 'request="/a b" trailing'])).request).toBe('/a b');
    expect((await virtual('virtual=127.0.0.1:80', [R, 'receive="a"b"'])).receive).toBe('a"b');
    for (const bad of ['request=index.html', 'request=""', 'receive=ok', 'receive=""', 'request="/a#b"']) {
      expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\t${bad}\n`)).toBe(3);
    }
  });

  it.each([
    ['connect', 'connect', undefined],
    ['negotiate', 'negotiate', undefined],
    ['ping', 'ping', undefined],
    ['external', 'external', undefined],
    ['external-perl', 'external-perl', undefined],
    ['on', 'on', undefined],
    ['off', 'off', undefined],
    ['3', 'combined', 3],
    ['0', 'combined', 0],
    ['connect2', 'combined', 2],
    ['ping please', 'ping', undefined],
  ])('checktype=%s → %s', async (value, type, n) => {
    const v = await virtual('virtual=127.0.0.1:80', [R, `checktype=${value}`]);
    expect(v.checktype).toBe(type);
    expect(v.combinedCount).toBe(n);
  });

  it('checktype: other words rejected', async () => {
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tchecktype=http\n`)).toBe(3);
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tchecktype=\n`)).toBe(3);
  });

  it('checkcommand quoted or bare, not empty', async () => {
    expect((await virtual('virtual=127.0.0.1:80', [R, 'checkcommand="/bin/chk"'])).checkcommand).toBe('/bin/chk');
    expect((await virtual('virtual=127.0.0.1:80', [R, 'checkcommand=/bin/chk -x'])).checkcommand).toBe('/bin/chk -x');
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tcheckcommand=\n`)).toBe(3);
  });

  it('checkport 1..65535 (first digit run)', async () => {
    expect((await virtual('virtual=127.0.0.1:80', [R, 'checkport=8080x'])).checkport).toBe(8080);
    expect((await virtual('virtual=127.0.0.1:80', [R, 'checkport=65535'])).checkport).toBe(65535);
    for (const bad of ['checkport=0', 'checkport=65536', 'checkport=http']) {
      expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\t${bad}\n`)).toBe(3);
    }
  });

  it('login, passwd, database, secret: quoted, non-empty', async () => {
    const v = await virtual('virtual=127.0.0.1:3306', [R, 'login="u"', 'passwd="p w"', 'database="d"', 'secret="s"']);
    expect(v).toMatchObject({ login: 'u', passwd: 'p w', database: 'd', secret: 's', service: 'mysql' });
    for (const d of ['login', 'passwd', 'database', 'secret']) {
      expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\t${d}=""\n`)).toBe(3);
      expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\t${d}=x\n`)).toBe(3);
    }
  });

  it('load takes the first word', async () => {
    expect((await virtual('virtual=127.0.0.1:80', [R, 'load=" cpu 5"'])).load).toBe('cpu');
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tload="--"\n`)).toBe(3);
  });

  it('httpmethod GET/HEAD, any case, stored upper-case', async () => {
    expect((await virtual('virtual=127.0.0.1:80', [R, 'httpmethod=head'])).httpmethod).toBe('HEAD');
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\thttpmethod=POST\n`)).toBe(3);
  });

  it('virtualhost: optional quotes, may be empty', async () => {
    expect((await virtual('virtual=127.0.0.1:80', [R, 'virtualhost="www.example.com"'])).virtualhost).toBe('www.example.com');
    expect((await virtual('virtual=127.0.0.1:80', [R, 'virtualhost=www.example.org'])).virtualhost).toBe('www.example.org');
    expect((await virtual('virtual=127.0.0.1:80', [R, 'virtualhost='])).virtualhost).toBe('');
  });

  it('service: known names only; ftp and sip login defaults apply at that line', async () => {
    const ftp = await virtual('virtual=127.0.0.1:2121', [R, 'service=ftp']);
    expect(ftp).toMatchObject({ service: 'ftp', serviceExplicit: true, login: 'anonymous', passwd: 'ldirectord@lb1' });
    const ftpOwn = await virtual('virtual=127.0.0.1:2121', [R, 'login="bob"', 'service=ftp', 'passwd="x"']);
    expect(ftpOwn).toMatchObject({ login: 'bob', passwd: 'x' });
    const sip = await virtual('virtual=127.0.0.1:5060', [R, 'service=sip']);
    expect(sip).toMatchObject({ login: 'ldirectord@lb1', passwd: '' });
    const inferred = await virtual('virtual=127.0.0.1:21', [R]);
    expect(inferred).toMatchObject({ service: 'ftp', serviceExplicit: false, login: '', passwd: '' });
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tservice=web\n`)).toBe(3);
    expect((await virtual('virtual=127.0.0.1:80', [R, 'service=simpletcp tcp'])).service).toBe('simpletcp');
  });
});

describe('scheduling directives', () => {
  it('scheduler: first lowercase run, unknown names warned', async () => {
    const c = await parse(`virtual=127.0.0.1:80\n\t${R}\n\tscheduler=Foo\n`);
    expect(c.virtuals[0].scheduler).toBe('oo');
    expect(c.warnings.map((w) => w.line)).toEqual([3, 3]);
    const ok = await parse(`virtual=127.0.0.1:80\n\t${R}\n\tscheduler=wlc\n`);
    expect(ok.warnings).toEqual([]);
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tscheduler=WRR\n`)).toBe(3);
  });

  it('scheduler: every IPVS scheduler (dh and twos too) is known: no warning, passed on as written', async () => {
    for (const s of IPVS_SCHEDULERS) {
      const c = await parse(`virtual=127.0.0.1:80\n\t${R}\n\tscheduler=${s}\n`);
      expect(c.warnings, s).toEqual([]);
      expect(c.virtuals[0].scheduler).toBe(s);
    }
    expect(IPVS_SCHEDULERS).toContain('dh');
  });

  it('persistent: first digit run, 0 allowed', async () => {
    expect((await virtual('virtual=127.0.0.1:80', [R, 'persistent=0'])).persistent).toBe(0);
    expect((await virtual('virtual=127.0.0.1:80', [R, 'persistent=300s'])).persistent).toBe(300);
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tpersistent=long\n`)).toBe(3);
  });

  it('schedflags: first token', async () => {
    expect((await virtual('virtual=127.0.0.1:80', [R, 'schedflags=sh-port,sh-fallback x'])).schedflags).toBe('sh-port,sh-fallback');
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tschedflags=\n`)).toBe(3);
  });

  it('netmask: dotted quad for IPv4 (warned when no netmask), prefix length for IPv6', async () => {
    expect((await virtual('virtual=127.0.0.1:80', [R, 'persistent=1', 'netmask=255.255.255.0'])).netmask).toBe('255.255.255.0');
    const odd = await parse(`virtual=127.0.0.1:80\n\t${R}\n\tpersistent=1\n\tnetmask=255.0.255.0\n`);
    expect(odd.warnings[0]).toMatchObject({ line: 4 });
    const unused = await parse(`virtual=127.0.0.1:80\n\t${R}\n\tnetmask=255.255.0.0\n`);
    expect(unused.warnings[0]).toMatchObject({ line: 3, message: expect.stringContaining('persistent') });
    expect((await virtual('virtual6=[::1]:80', ['real6=[::1]:80 gate', 'persistent=1', 'netmask=64'])).netmask).toBe('64');
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tnetmask=24\n`)).toBe(3);
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tnetmask=255.255.255.0 \n`)).toBe(3);
    for (const bad of ['0', '129', '255.255.255.0', '/64']) {
      expect(await rejectLine(`virtual6=[::1]:80\n\treal6=[::1]:80 gate\n\tnetmask=${bad}\n`)).toBe(3);
    }
  });

  it('ops: yes/no exactly; warned (ignored) unless udp', async () => {
    const udp = await parse('virtual=127.0.0.1:53\n\treal=127.0.0.2:53 gate\n\tops=yes\n');
    expect(udp.virtuals[0].ops).toBe(true);
    expect(udp.warnings).toEqual([]);
    const tcp = await parse(`virtual=127.0.0.1:80\n\t${R}\n\tops=yes\n`);
    expect(tcp.virtuals[0].ops).toBe(true);
    expect(tcp.warnings[0]).toMatchObject({ line: 3 });
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tops=on\n`)).toBe(3);
  });
});

describe('per-virtual fallback', () => {
  it('defaults to the virtual port (resolved with its protocol) and gate', async () => {
    const v = await virtual('virtual=127.0.0.1:https', ['real=127.0.0.2 gate', 'fallback=sorry.example']);
    expect(v.fallback).toMatchObject({ ip: '192.0.2.7', family: 4, port: 443, forward: 'gate', pos: { line: 3 } });
    const own = await virtual('virtual=127.0.0.1:80', [R, 'fallback=127.0.0.9:8080 masq']);
    expect(own.fallback).toMatchObject({ ip: '127.0.0.9', port: 8080, forward: 'masq' });
  });

  it('overrides the global one; a fwm virtual gets the original\'s empty server from a global one', async () => {
    const c = await parse('fallback=127.0.0.9:81\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\nvirtual=5\n\treal=127.0.0.2 gate\nvirtual=6\n\treal=127.0.0.2 gate\n\tfallback=127.0.0.8\n');
    expect(c.virtuals[0].fallback).toMatchObject({ ip: '127.0.0.9', port: 81 });
    expect(c.virtuals[1].fallback).toMatchObject({ ip: '', port: 0 });
    expect(c.virtuals[2].fallback).toMatchObject({ ip: '127.0.0.8', port: 0 });
  });

  it('family keyword must match the block', async () => {
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tfallback6=[::1]:80\n`)).toBe(3);
    expect(await rejectLine('virtual6=[::1]:80\n\treal6=[::1]:80 gate\n\tfallback=127.0.0.1:80\n')).toBe(3);
  });

  it('its resolution error is reported before those of the virtual and the reals', async () => {
    expect(await rejectLine('virtual=127.0.0.1:nope\n\treal=127.0.0.2:80 bogus\n\tfallback=nowhere.invalid\n')).toBe(3);
    expect(await rejectLine('virtual=127.0.0.1:nope\n\treal=127.0.0.2:80 bogus\n\tfallback=127.0.0.9:80\n')).toBe(1);
    // Without a port the fallback takes the virtual's port name, which already fails there.
    expect(await rejectLine('virtual=127.0.0.1:nope\n\treal=127.0.0.2:80 bogus\n\tfallback=127.0.0.9\n')).toBe(3);
  });
});

describe('monitorfile, servicename, comment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ldcfg-mon-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('monitorfile is created (opened for append) at parse time, quoted or bare', async () => {
    const a = join(dir, 'a.log');
    const b = join(dir, 'b.log');
    const c = await parse(`virtual=127.0.0.1:80\n\t${R}\n\tmonitorfile="${a}"\nvirtual=127.0.0.1:81\n\t${R}\n\tmonitorfile=${b}\n`, { checkFiles: true });
    expect(c.virtuals.map((v) => v.monitorfile)).toEqual([a, b]);
    expect(existsSync(a) && existsSync(b)).toBe(true);
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\tmonitorfile="${join(dir, 'no', 'x')}"\n`, { checkFiles: true })).toBe(3);
    // Without checkFiles nothing is touched.
    await parse(`virtual=127.0.0.1:80\n\t${R}\n\tmonitorfile="${join(dir, 'c.log')}"\n`);
    expect(existsSync(join(dir, 'c.log'))).toBe(false);
  });

  it('servicename and comment are raw text', async () => {
    const v = await virtual('virtual=127.0.0.1:80', [R, 'servicename="Shop"', 'comment=see wiki, p. 3']);
    expect(v).toMatchObject({ servicename: '"Shop"', comment: 'see wiki, p. 3' });
  });
});

describe('block lexical rules', () => {
  it('tabs, 4+ spaces, comments inside the block and trailing comments', async () => {
    const c = await parse('virtual=127.0.0.1:80\n    real=127.0.0.2:80 gate\n# col 0 comment\n\t\t# indented\n\treal=127.0.0.3:80 gate # c\n  \tscheduler=rr\n');
    expect(c.virtuals[0].reals.map((r) => r.ip)).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(c.virtuals[0].scheduler).toBe('rr');
  });

  it('a blank line ends the block; following indented lines are unknown', async () => {
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\n\tscheduler=rr\n`)).toBe(4);
  });

  it('fewer than 4 spaces end the block; a whitespace-only line of 5 spaces is unknown', async () => {
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n   scheduler=rr\n`)).toBe(3);
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n     \n`)).toBe(3);
    await expect(parse(`virtual=127.0.0.1:80\n\t${R}\n    \nchecktimeout=3\n`)).resolves.toBeDefined();
  });

  it('CRLF: digit values work, exact values fail', async () => {
    const c = await parse('checktimeout=3\r\nvirtual=127.0.0.1:80\r\n\treal=127.0.0.2:80 gate\r\n\tpersistent=30\r\n');
    expect(c.virtuals[0]).toMatchObject({ checktimeout: 3, persistent: 30 });
    expect(await rejectLine('virtual=127.0.0.1:80\r\n\treal=127.0.0.2:80 gate\r\n\tops=no\r\n')).toBe(3);
  });

  it('unknown directive in a block is reported at its line', async () => {
    const e = await rejectLine(`\nvirtual=127.0.0.1:80\n\t${R}\n\tweight=3\n`);
    expect(e).toBe(4);
  });
});

describe('duplicates', () => {
  it('same protocol and address after resolution: reported at the line that ended the block', async () => {
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\n\nvirtual=localhost:www\n\t${R}\n\n\nchecktimeout=3\n`)).toBe(6);
    expect(await rejectLine(`virtual=127.0.0.1:80\n\t${R}\nvirtual=127.0.0.1:80\n\t${R}\n\t# c\n`)).toBe(5);
  });

  it('tcp and udp on the same address are different virtuals', async () => {
    const c = await parse(`virtual=127.0.0.1:53\n\t${R}\nvirtual=127.0.0.1:53\n\t${R}\n\tprotocol=tcp\n`);
    expect(c.virtuals.map((v) => v.vid)).toEqual(['udp:127.0.0.1:53', 'tcp:127.0.0.1:53']);
  });

  it('a virtual on the last line of the file is read twice and rejected as a duplicate (original\'s bug)', async () => {
    expect(await rejectLine('checktimeout=3\nvirtual=127.0.0.1:80\n')).toBe(2);
    expect(await rejectLine('virtual=127.0.0.1:80')).toBe(1);
  });
});

describe('empty fallback', () => {
  it('an empty fallback= is the loopback address (getaddrinfo of an empty name), on the virtual port', async () => {
    const v = await virtual('virtual=127.0.0.1:80', ['real=127.0.0.2:80 gate', 'fallback=']);
    expect(v.fallback).toMatchObject({ ip: '127.0.0.1', port: 80, forward: 'gate' });
  });
});

describe('receive patterns go through the Perl-regex translator', () => {
  const translator = (src: string): RegExp => {
    if (src.includes('(?{')) throw new Error('code blocks are not supported');
    return new RegExp(src);
  };

  it('a pattern the translator refuses is rejected at its line (virtual and per-real receive)', async () => {
    const ok = await parse('virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\treceive="OK|ready"\n', { regexTranslator: translator });
    expect(ok.virtuals[0].receive).toBe('OK|ready');
    const e = await parse('virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\treceive="a(?{ 1 })"\n', { regexTranslator: translator }).catch((x: unknown) => x);
    expect(e).toMatchObject({ line: 3, message: expect.stringContaining('code blocks are not supported') });
    expect(
      await rejectLine('virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate "x", "(?{ 1 })"\n', { regexTranslator: translator }),
    ).toBe(2);
  });
});

describe('virtual= trailing text', () => {
  it('is ignored like the original, with a warning unless it is a comment', async () => {
    const c = await parse('virtual=127.0.0.1:80.5\n\treal=127.0.0.2:80 gate\nvirtual=127.0.0.1:81 # web\n\treal=127.0.0.2:81 masq\n');
    expect(c.virtuals.map((v) => v.port)).toEqual([80, 81]);
    expect(c.warnings).toEqual([expect.objectContaining({ line: 1, message: expect.stringContaining('".5"') })]);
  });
});

describe('default receive translator (src/util/perl-regex.ts)', () => {
  it('is used by default: Perl-only constructs are rejected at their line, Perl idioms accepted', async () => {
    const { parseConfigText } = await import('../../src/config/parse.js');
    const e = await parseConfigText('virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\treceive="a(?{ 1 })"\n', 't.cf', { checkFiles: false }).catch((x: unknown) => x);
    expect(e).toMatchObject({ line: 3 });
    const ok = await parseConfigText('virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\treceive="(?i)ok"\n', 't.cf', { checkFiles: false });
    expect(ok.virtuals[0].receive).toBe('(?i)ok');
  });
});
