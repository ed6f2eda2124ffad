// Connection-sync daemons: the listing format and its parser, the comparison with a configured daemon,
// the fake ipvsadm's --start-daemon/--stop-daemon/-L --daemon (as ipvsadm 1.31 on a netlink kernel), and
// the ipvsadm driver's syncDaemons over the fake.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { IpvsadmDriver } from '../../src/ipvs/ipvsadm-driver.js';
import { formatSyncDaemon, parseSyncDaemons, syncDaemonMatches, syncDaemonStartArgs } from '../../src/ipvs/sync.js';
import type { SyncDaemon } from '../../src/ipvs/types.js';
import { emptyState, runIpvsadm, setInterfacesLoader } from '../../src/ipvs-sim/index.js';
import { SimDriver } from '../../src/ipvs-sim/sim-driver.js';
import { installFakeIpvsadm, readFakeLog, readFakeState } from '../fake-ipvsadm/install.js';

const tmp = mkdtempSync(join(tmpdir(), 'sync-daemons-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  setInterfacesLoader(() => new Map([['lo', 65536]]));
});
let n = 0;

const master: SyncDaemon = { role: 'master', ifname: 'eth0', syncid: 1 };

describe('format, parse, compare', () => {
  it('prints as ipvsadm 1.31 and parses back; an unexpected line is an error', () => {
    const full: SyncDaemon = { role: 'backup', ifname: 'eth1', syncid: 2, maxlen: 1472, group: 'ff02::81', port: 8849, ttl: 2 };
    const text = `${formatSyncDaemon({ ...master, maxlen: 1472, group: '224.0.0.81', port: 8848, ttl: 1 })}\n${formatSyncDaemon(full)}\n`;
    expect(text).toBe(
      'master sync daemon (mcast=eth0, syncid=1, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n' +
        'backup sync daemon (mcast=eth1, syncid=2, maxlen=1472, group=ff02::81, port=8849, ttl=2)\n',
    );
    expect(parseSyncDaemons(text)[1]).toEqual(full);
    // A kernel without netlink: ipvsadm lists only mcast and syncid.
    expect(parseSyncDaemons('master sync daemon (mcast=eth0, syncid=5)\n')).toEqual([{ role: 'master', ifname: 'eth0', syncid: 5 }]);
    expect(parseSyncDaemons('')).toEqual([]);
    expect(() => parseSyncDaemons('IP Virtual Server version 1.2.1 (size=4096)\n')).toThrow(/unexpected line/);
  });

  it('unset options mean the kernel defaults; maxlen unset matches any; other fields must be equal', () => {
    const running: SyncDaemon = { ...master, maxlen: 1472, group: '224.0.0.81', port: 8848, ttl: 1 };
    expect(syncDaemonMatches(master, running)).toBe(true);
    expect(syncDaemonMatches({ ...master, maxlen: 1472, ttl: 1 }, running)).toBe(true);
    expect(syncDaemonMatches({ ...master, syncid: 2 }, running)).toBe(false);
    expect(syncDaemonMatches({ ...master, ifname: 'eth1' }, running)).toBe(false);
    expect(syncDaemonMatches({ ...master, maxlen: 1400 }, running)).toBe(false);
    expect(syncDaemonMatches({ ...master, port: 8849 }, running)).toBe(false);
    expect(syncDaemonMatches({ ...master, ttl: 2 }, running)).toBe(false);
    expect(syncDaemonMatches({ ...master, group: '224.0.0.82' }, running)).toBe(false);
    expect(syncDaemonMatches({ ...master, group: 'FF02:0::81' }, { ...running, group: 'ff02::81' })).toBe(true);
    expect(syncDaemonMatches({ ...master, role: 'backup' }, running)).toBe(false);
    expect(syncDaemonStartArgs({ ...master, maxlen: 1000, group: 'ff02::81', port: 9, ttl: 3 })).toEqual([
      '--start-daemon', 'master', '--mcast-interface', 'eth0', '--syncid', '1',
      '--sync-maxlen', '1000', '--mcast-group', 'ff02::81', '--mcast-port', '9', '--mcast-ttl', '3',
    ]);
  });
});

describe('the simulated kernel and its command line', () => {
  const run = (state: ReturnType<typeof emptyState>, line: string) => runIpvsadm(state, line.split(' '));

  it('fills in the kernel defaults; maxlen follows role and MTU; one daemon per role; master listed first', () => {
    setInterfacesLoader(() => new Map([['eth0', 1500], ['jumbo', 9000], ['lo', 65536]]));
    const st = emptyState();
    expect(run(st, '-L -n --daemon')).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    expect(run(st, '--start-daemon backup --mcast-interface jumbo --syncid 2').exitCode).toBe(0);
    expect(run(st, '--start-daemon master --mcast-interface jumbo --syncid 1 --mcast-group ff02::81').exitCode).toBe(0);
    expect(run(st, '-L -n --daemon').stdout).toBe(
      'master sync daemon (mcast=jumbo, syncid=1, maxlen=1452, group=ff02::81, port=8848, ttl=1)\n' +
        'backup sync daemon (mcast=jumbo, syncid=2, maxlen=8972, group=224.0.0.81, port=8848, ttl=1)\n',
    );
    expect(run(st, '--start-daemon master --mcast-interface eth0 --syncid 9')).toEqual({ stdout: '', stderr: 'Daemon has already run\n', exitCode: 255 });
    // The interface is looked up before the role: ENODEV first.
    expect(run(st, '--start-daemon master --mcast-interface eth9 --syncid 9').stderr).toBe('No such device\n');
    expect(run(st, '--stop-daemon master').exitCode).toBe(0);
    expect(run(st, '--stop-daemon master')).toEqual({ stdout: '', stderr: 'No daemon is running\n', exitCode: 255 });
    expect(run(st, '--stop-daemon backup').exitCode).toBe(0);
    expect(st).toEqual(emptyState());
    // A given maxlen is clamped as the kernel does (a backup at least 1024); no interface: ipvsadm's eth0.
    expect(run(st, '--start-daemon backup --mcast-interface lo --sync-maxlen 100').exitCode).toBe(0);
    expect(run(st, '--start-daemon master --sync-maxlen 100 --mcast-port 9000 --mcast-ttl 4').exitCode).toBe(0);
    expect(run(st, '-l --daemon').stdout).toBe(
      'master sync daemon (mcast=eth0, syncid=0, maxlen=100, group=224.0.0.81, port=9000, ttl=4)\n' +
        'backup sync daemon (mcast=lo, syncid=0, maxlen=1024, group=224.0.0.81, port=8848, ttl=1)\n',
    );
  });

  it.each([
    ['--start-daemon slave', 'illegal start-daemon parameter specified'],
    ['--stop-daemon both', 'illegal start_daemon specified'],
    ['--start-daemon master --syncid 256', 'illegal syncid specified'],
    ['--start-daemon master --mcast-group 10.0.0.1', "invalid IPv4 mcast-group `10.0.0.1'"],
    ['--start-daemon master --mcast-group fe80::1', "invalid IPv6 mcast-group `fe80::1'"],
    ['--start-daemon master --mcast-port 0', 'illegal mcast-port specified'],
    ['--start-daemon master --mcast-ttl 256', 'illegal mcast-ttl specified'],
    ['--start-daemon master --sync-maxlen 65508', 'illegal sync-maxlen specified'],
    ['--start-daemon master --syncid 1 --syncid 2', "multiple 'syncid' options specified"],
    ['--stop-daemon master --mcast-interface eth0', "Illegal 'mcast-interface' option with the 'stop-daemon' command"],
    ['-L -n --daemon --stats', 'options conflicts in the list command'],
  ])('ipvsadm %s: "%s", exit 2', (line, msg) => {
    expect(run(emptyState(), line)).toEqual({ stdout: '', stderr: `${msg}\n`, exitCode: 2 });
  });
});

describe('the fake ipvsadm executable and the ipvsadm driver', () => {
  function setup(env: Record<string, string> = {}) {
    const dir = join(tmp, `d${n++}`);
    const state = join(dir, 'state.json');
    const log = join(dir, 'log.jsonl');
    const path = installFakeIpvsadm(dir, { state, log, env: { FAKE_IPVSADM_INTERFACES: 'eth0,lo', ...env } });
    return { dir, state, log, path, driver: new IpvsadmDriver({ path }) };
  }

  it('keeps the daemons in its state file, per state file; lists nothing when none runs', () => {
    const a = setup();
    const b = setup();
    const fake = (path: string, args: string[]) => spawnSync(path, args, { encoding: 'utf8' });
    expect(fake(a.path, ['-L', '-n', '--daemon'])).toMatchObject({ stdout: '', stderr: '', status: 0 });
    expect(fake(a.path, ['--start-daemon', 'master', '--mcast-interface', 'eth0', '--syncid', '3']).status).toBe(0);
    expect(fake(a.path, ['-L', '--daemon']).stdout).toBe('master sync daemon (mcast=eth0, syncid=3, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n');
    expect(readFakeState(a.state).daemons).toHaveLength(1);
    expect(fake(b.path, ['-L', '-n', '--daemon']).stdout).toBe('');
    expect(fake(a.path, ['--start-daemon', 'backup', '--mcast-interface', 'wlan7', '--syncid', '3'])).toMatchObject({ stderr: 'No such device\n', status: 255 });
  });

  it('driver: read, start, stop, one process each; refusals reject with ipvsadm\'s message', async () => {
    const { driver, log } = setup();
    expect(await driver.syncDaemons.read()).toEqual([]);
    await driver.syncDaemons.start({ role: 'backup', ifname: 'lo', syncid: 7, group: 'ff02::81', ttl: 2 });
    await driver.syncDaemons.start(master);
    expect(await driver.syncDaemons.read()).toEqual([
      { role: 'master', ifname: 'eth0', syncid: 1, maxlen: 1472, group: '224.0.0.81', port: 8848, ttl: 1 },
      { role: 'backup', ifname: 'lo', syncid: 7, maxlen: 65487, group: 'ff02::81', port: 8848, ttl: 2 },
    ]);
    await expect(driver.syncDaemons.start(master)).rejects.toMatchObject({ code: 'LDIR_ERR_IPVSADM', message: 'Daemon has already run' });
    await driver.syncDaemons.stop('master');
    await expect(driver.syncDaemons.stop('master')).rejects.toMatchObject({ code: 'LDIR_ERR_IPVSADM', message: 'No daemon is running' });
    const argv = readFakeLog(log).map((e) => e.argv.join(' '));
    expect(argv).toEqual([
      '-L -n --daemon',
      '--start-daemon backup --mcast-interface lo --syncid 7 --mcast-group ff02::81 --mcast-ttl 2',
      '--start-daemon master --mcast-interface eth0 --syncid 1',
      '-L -n --daemon',
      '--start-daemon master --mcast-interface eth0 --syncid 1',
      '--stop-daemon master',
      '--stop-daemon master',
    ]);
  });

  it('driver: garbage or a failing ipvsadm rejects the read (never an empty list)', async () => {
    const garbage = setup({ FAKE_IPVSADM_GARBAGE: '1' });
    await garbage.driver.syncDaemons.start(master);
    await expect(garbage.driver.syncDaemons.read()).rejects.toMatchObject({ code: 'LDIR_ERR_IPVSADM', message: /unexpected line/ });
    const failing = setup({ FAKE_IPVSADM_FAIL_MATCH: '--daemon' });
    await expect(failing.driver.syncDaemons.read()).rejects.toMatchObject({ message: /Operation not permitted/ });
  });

  it('SimDriver offers the same operations in-process', async () => {
    setInterfacesLoader(() => new Map([['eth0', 1500]]));
    const sim = new SimDriver({ failMatch: /--syncid 9/ });
    await sim.syncDaemons.start(master);
    expect((await sim.syncDaemons.read()).map((d) => d.syncid)).toEqual([1]);
    await expect(sim.syncDaemons.start({ ...master, role: 'backup', syncid: 9 })).rejects.toThrow('Operation not permitted');
    await expect(sim.syncDaemons.start({ ...master, role: 'backup', ifname: 'eth1' })).rejects.toThrow('No such device');
    await sim.syncDaemons.stop('master');
    expect(await sim.syncDaemons.read()).toEqual([]);
  });
});
