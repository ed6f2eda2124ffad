// syncdaemon = (ours): the grammar, its errors at FILE:LINE, one line per role, the model and dump.
import { describe, expect, it } from 'vitest';

import { dumpConfig } from '../../src/config/dump.js';
import { multicastFamily, parseSyncDaemon, validInterfaceName } from '../../src/config/syncdaemon.js';
import { parse, reject } from './helpers.js';

const V = 'virtual = 127.0.0.1:80\n\treal = 127.0.0.2:80 gate\n';

describe('syncdaemon =', () => {
  it('a config without it has no syncdaemons field at all (the model and dump stay as before)', async () => {
    const c = await parse(V);
    expect('syncdaemons' in c.global).toBe(false);
    expect(JSON.stringify(dumpConfig(c))).not.toContain('sync');
  });

  it('reads both roles with every option, in any order, with positions', async () => {
    const c = await parse(
      'syncdaemon = master eth0 syncid=1\n' +
        'syncdaemon = backup  bond0.12  ttl=3 syncid=0 port=9000 group=FF02::81 maxlen=1400 cleanstop=no \n' +
        V,
    );
    expect(c.global.syncdaemons).toEqual([
      { role: 'master', ifname: 'eth0', syncid: 1, cleanstop: true, pos: { file: 'test.cf', line: 1 } },
      { role: 'backup', ifname: 'bond0.12', syncid: 0, maxlen: 1400, group: 'FF02::81', port: 9000, ttl: 3, cleanstop: false, pos: { file: 'test.cf', line: 2 } },
    ]);
    const dumped = dumpConfig(c) as { global: { syncdaemons: unknown[] } };
    expect(dumped.global.syncdaemons).toHaveLength(2);
  });

  it('a second line for a role is an error at its line, naming the first', async () => {
    const e = await reject(`${V}syncdaemon = backup eth0 syncid=1\nsyncdaemon = master eth0 syncid=1\nsyncdaemon = backup eth1 syncid=2\n`);
    expect(e.format()).toBe('test.cf:5: syncdaemon: a second line for the backup role (the first is at line 3)');
  });

  it('is global only: inside a virtual block it is an unknown directive', async () => {
    const e = await reject('virtual = 127.0.0.1:80\n\treal = 127.0.0.2:80 gate\n\tsyncdaemon = master eth0 syncid=1\n');
    expect(e.line).toBe(3);
    expect(e.message).toMatch(/unknown directive in virtual block/);
  });

  it.each([
    ['slave eth0 syncid=1', /the role must be master or backup/],
    ['master', /an interface is required/],
    ['master syncid=1', /an interface is required/],
    ['master eth0:1 syncid=1', /"eth0:1" is not a valid interface name/],
    ['master a/b syncid=1', /not a valid interface name/],
    ['master .. syncid=1', /not a valid interface name/],
    ['master abcdefghijklmnop syncid=1', /not a valid interface name/],
    ['master eth0', /syncid=N is required/],
    ['master eth0 syncid=256', /syncid must be a number from 0 to 255/],
    ['master eth0 syncid=-1', /syncid must be a number from 0 to 255/],
    ['master eth0 syncid=1 syncid=2', /syncid= given twice/],
    ['master eth0 syncid=1 foo=2', /unknown option "foo=2"/],
    ['master eth0 syncid=1 cleanstop', /unknown option "cleanstop"/],
    ['master eth0 syncid=1 maxlen=0', /maxlen must be a number from 1 to 65507 for a master/],
    ['master eth0 syncid=1 maxlen=65508', /maxlen must be a number from 1 to 65507/],
    ['backup eth0 syncid=1 maxlen=1023', /maxlen must be a number from 1024 to 65507 for a backup/],
    ['master eth0 syncid=1 group=ff02::1 maxlen=65500', /from 1 to 65487 for a master with an IPv6 group/],
    ['master eth0 syncid=1 group=192.168.1.1', /group "192.168.1.1" is not an IPv4 or IPv6 multicast address/],
    ['master eth0 syncid=1 group=2001:db8::1', /not an IPv4 or IPv6 multicast address/],
    ['master eth0 syncid=1 group=224.0.0', /not an IPv4 or IPv6 multicast address/],
    ['master eth0 syncid=1 port=0', /port must be a number from 1 to 65535/],
    ['master eth0 syncid=1 port=65536', /port must be a number from 1 to 65535/],
    ['master eth0 syncid=1 ttl=0', /ttl must be a number from 1 to 255/],
    ['master eth0 syncid=1 ttl=256', /ttl must be a number from 1 to 255/],
    ['master eth0 syncid=1 cleanstop=off', /cleanstop must be 'yes' or 'no'/],
  ])('rejects "syncdaemon = %s" at its line', async (value, msg) => {
    const e = await reject(`checkinterval = 5\nsyncdaemon = ${value}\n${V}`);
    expect(e.format()).toMatch(/^test\.cf:2: syncdaemon: /);
    expect(e.message).toMatch(msg);
  });

  it('the grammar alone: names, groups, limits that the kernel would otherwise change', () => {
    expect(validInterfaceName('eth0')).toBe(true);
    expect(validInterfaceName('a'.repeat(15))).toBe(true);
    expect(validInterfaceName('a'.repeat(16))).toBe(false);
    expect(validInterfaceName('')).toBe(false);
    expect(multicastFamily('224.0.0.81')).toBe(4);
    expect(multicastFamily('239.255.255.255')).toBe(4);
    expect(multicastFamily('240.0.0.1')).toBeNull();
    expect(multicastFamily('223.255.255.255')).toBeNull();
    expect(multicastFamily('ff05::1:3')).toBe(6);
    expect(multicastFamily('ff0::1')).toBeNull(); // 0x0ff0: not ff00::/8
    expect(multicastFamily('fe80::1')).toBeNull();
    expect(parseSyncDaemon('backup lo syncid=7 maxlen=1024')).toEqual({ daemon: { role: 'backup', ifname: 'lo', syncid: 7, maxlen: 1024, cleanstop: true } });
  });
});
