// The connection-sync daemons the config names (syncdaemon=, ours): the keeper over the simulated kernel
// (start, a daemon deleted behind its back, reload, stop with and without cleanstop=no, failures retried,
// a role never configured left alone), and the daemon process over the fake ipvsadm end to end.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { parseSyncDaemon } from '../../src/config/syncdaemon.js';
import { SyncDaemonKeeper } from '../../src/daemon/sync-daemons.js';
import { renderPage } from '../../src/observe/page.js';
import { showText } from '../../src/observe/show.js';
import { buildStatus } from '../../src/observe/status.js';
import type { SyncDaemonConfig } from '../../src/model/config.js';
import type { IpvsSyncDaemons } from '../../src/ipvs/types.js';
import { setInterfacesLoader } from '../../src/ipvs-sim/index.js';
import { SimDriver } from '../../src/ipvs-sim/sim-driver.js';
import { NetlinkDriver } from '../../src/ipvs/netlink/driver.js';
import { FakeIpvsKernel } from '../ipvs/netlink-fake-kernel.js';
import { build, killPidFile, ld, read, tmp, until } from '../cli/helpers.js';
import { processBudgetMs } from '../support/load.js';
import { installFakeIpvsadm, readFakeLog, readFakeState } from '../fake-ipvsadm/install.js';

/** A configured daemon from a syncdaemon line's value. */
function line(value: string, n = 1): SyncDaemonConfig {
  const r = parseSyncDaemon(value);
  if ('error' in r) throw new Error(r.error);
  return { ...r.daemon, pos: { file: 't.cf', line: n } };
}

function setup(opts: { failStart?: number } = {}) {
  setInterfacesLoader(() => new Map([['eth0', 1500], ['eth1', 1500], ['lo', 65536]]));
  const sim = new SimDriver();
  const calls: string[] = [];
  let failStarts = opts.failStart ?? 0;
  const ops: IpvsSyncDaemons = {
    read: async () => {
      calls.push('read');
      return sim.syncDaemons.read();
    },
    start: async (d) => {
      calls.push(`start ${d.role} ${d.ifname} ${d.syncid}`);
      if (failStarts > 0) {
        failStarts--;
        throw new Error('Operation not permitted');
      }
      return sim.syncDaemons.start(d);
    },
    stop: async (role) => {
      calls.push(`stop ${role}`);
      return sim.syncDaemons.stop(role);
    },
  };
  const logs: string[] = [];
  let now = 1000;
  const keeper = new SyncDaemonKeeper({ ops, log: (level, m) => logs.push(`${level}: ${m}`), now: () => now });
  const running = async () => (await sim.syncDaemons.read()).map((d) => `${d.role} ${d.ifname} ${d.syncid}`);
  return { sim, calls, logs, keeper, running, tick: () => (now += 1000) };
}

describe('SyncDaemonKeeper (over the simulated kernel)', () => {
  it('no syncdaemon line: no read, no start, no stop, nothing reported', async () => {
    const { keeper, calls } = setup();
    await keeper.apply([]);
    await keeper.check();
    await keeper.stop();
    expect(calls).toEqual([]);
    expect(keeper.active).toBe(false);
    expect(keeper.status()).toEqual([]);
  });

  it('start: each role started once and reported running; a check with nothing wrong is one read', async () => {
    const { keeper, calls, logs, running } = setup();
    await keeper.apply([line('backup eth1 syncid=2', 2), line('master eth0 syncid=1', 1)]);
    expect(await running()).toEqual(['master eth0 1', 'backup eth1 2']);
    expect(calls).toEqual(['read', 'start master eth0 1', 'start backup eth1 2', 'read']);
    expect(logs).toEqual(['info: Started the master sync daemon (mcast=eth0, syncid=1)', 'info: Started the backup sync daemon (mcast=eth1, syncid=2)']);
    calls.length = 0;
    await keeper.check();
    expect(calls).toEqual(['read']);
    expect(keeper.status().map((s) => [s.role, s.state, s.running?.maxlen, s.error])).toEqual([
      ['master', 'running', 1472, null],
      ['backup', 'running', 1472, null],
    ]);
  });

  it('a daemon already running as configured is kept; one running otherwise is stopped and started as configured', async () => {
    const { keeper, calls, sim, running } = setup();
    await sim.syncDaemons.start({ role: 'master', ifname: 'eth0', syncid: 1 });
    await sim.syncDaemons.start({ role: 'backup', ifname: 'eth0', syncid: 5 });
    await keeper.apply([line('master eth0 syncid=1'), line('backup eth0 syncid=2')]);
    expect(calls).toEqual(['read', 'stop backup', 'start backup eth0 2', 'read']);
    expect(await running()).toEqual(['master eth0 1', 'backup eth0 2']);
  });

  it('a daemon deleted behind its back is started again at the next check, logged once', async () => {
    const { keeper, sim, logs, running } = setup();
    await keeper.apply([line('master eth0 syncid=1')]);
    await sim.syncDaemons.stop('master');
    logs.length = 0;
    await keeper.check();
    expect(await running()).toEqual(['master eth0 1']);
    expect(logs).toEqual(['warn: The master sync daemon is not running any more: starting it again', 'info: Started the master sync daemon (mcast=eth0, syncid=1)']);
    // Changed behind its back (another syncid): put back as configured.
    await sim.syncDaemons.stop('master');
    await sim.syncDaemons.start({ role: 'master', ifname: 'eth0', syncid: 9 });
    await keeper.check();
    expect(await running()).toEqual(['master eth0 1']);
    expect(logs.some((l) => /runs as master sync daemon \(mcast=eth0, syncid=9.*not as configured at t\.cf:1/.test(l))).toBe(true);
  });

  it('a refused start is logged once, reported, and retried at every check until it works', async () => {
    const { keeper, calls, logs, running } = setup({ failStart: 3 });
    await keeper.apply([line('master eth0 syncid=1')]);
    expect(keeper.status()[0]).toMatchObject({ state: 'missing', error: 'Operation not permitted', running: null });
    await keeper.check();
    await keeper.check();
    expect(await running()).toEqual([]);
    expect(logs).toEqual(['error: Can not start the master sync daemon (mcast=eth0, syncid=1) (will retry): Operation not permitted']);
    await keeper.check();
    expect(await running()).toEqual(['master eth0 1']);
    expect(calls.filter((c) => c.startsWith('start'))).toHaveLength(4);
    expect(keeper.status()[0]).toMatchObject({ state: 'running', error: null });
    expect(logs.at(-1)).toBe('info: Started the master sync daemon (mcast=eth0, syncid=1)');
  });

  it('a read that fails marks every daemon error and is retried; an unknown interface is reported as the kernel says', async () => {
    const { keeper, sim } = setup();
    let failReads = 2;
    const broken: IpvsSyncDaemons = {
      ...sim.syncDaemons,
      read: async () => (failReads-- > 0 ? Promise.reject(new Error('ipvsadm: cannot run')) : sim.syncDaemons.read()),
    };
    const logs: string[] = [];
    const k2 = new SyncDaemonKeeper({ ops: broken, log: (l, m) => logs.push(`${l}: ${m}`) });
    await k2.apply([line('master eth0 syncid=1')]);
    await k2.check();
    expect(k2.status()[0]).toMatchObject({ state: 'error', error: 'can not read the sync daemons: ipvsadm: cannot run' });
    expect(logs).toEqual(['error: Can not read the IPVS sync daemons (will retry): ipvsadm: cannot run']);
    await k2.check();
    expect(k2.status()[0]).toMatchObject({ state: 'running', error: null });
    expect(logs.slice(1)).toEqual(['info: The IPVS sync daemons can be read again', 'info: Started the master sync daemon (mcast=eth0, syncid=1)']);
    await keeper.apply([line('master wlan9 syncid=1')]);
    expect(keeper.status()[0]).toMatchObject({ state: 'missing', error: 'No such device' });
  });

  it('a driver without sync-daemon support: reported as error, logged once, nothing thrown', async () => {
    const logs: string[] = [];
    const k = new SyncDaemonKeeper({ log: (l, m) => logs.push(`${l}: ${m}`) });
    await k.apply([line('backup eth0 syncid=1')]);
    await k.check();
    await k.stop();
    expect(k.status()[0]).toMatchObject({ state: 'error', error: 'the IPVS driver in use can not manage sync daemons' });
    expect(logs).toHaveLength(1);
  });

  it('reload: a changed line restarts the role with the new parameters, a removed line stops its role, an unchanged one is left', async () => {
    const { keeper, calls, running } = setup();
    await keeper.apply([line('master eth0 syncid=1'), line('backup eth0 syncid=2')]);
    calls.length = 0;
    await keeper.apply([line('master eth0 syncid=3', 4)]);
    expect(calls).toEqual(['read', 'stop backup', 'stop master', 'start master eth0 3', 'read']);
    expect(await running()).toEqual(['master eth0 3']);
    expect(keeper.status().map((s) => s.role)).toEqual(['master']);
    // The removed role is no longer ours: a backup an admin starts now is left alone, also at stop.
    calls.length = 0;
    await keeper.apply([]);
    expect(await running()).toEqual([]);
    expect(keeper.active).toBe(false);
  });

  it('a role no line ever named is never touched, at start, check, reload or stop', async () => {
    const { keeper, sim, calls, running } = setup();
    await sim.syncDaemons.start({ role: 'backup', ifname: 'lo', syncid: 4 });
    await keeper.apply([line('master eth0 syncid=1')]);
    await keeper.check();
    await keeper.apply([line('master eth0 syncid=2')]);
    await keeper.stop();
    expect(calls.filter((c) => c.includes('backup'))).toEqual([]);
    expect(await running()).toEqual(['backup lo 4']);
  });

  it('stop: every configured role is stopped, but a role with cleanstop=no is left running', async () => {
    const a = setup();
    await a.keeper.apply([line('master eth0 syncid=1'), line('backup eth0 syncid=2')]);
    await a.keeper.stop();
    expect(await a.running()).toEqual([]);
    const b = setup();
    await b.keeper.apply([line('master eth0 syncid=1'), line('backup eth0 syncid=2 cleanstop=no')]);
    await b.keeper.stop();
    expect(await b.running()).toEqual(['backup eth0 2']);
    expect(b.logs.at(-1)).toBe('info: Leaving the backup sync daemon (mcast=eth0, syncid=2, maxlen=1472, group=224.0.0.81, port=8848, ttl=1) running (cleanstop=no)');
    // The next start finds it running as configured and keeps it.
    const c = setup();
    await c.sim.syncDaemons.start({ role: 'backup', ifname: 'eth0', syncid: 2 });
    await c.keeper.apply([line('backup eth0 syncid=2 cleanstop=no')]);
    expect(c.calls).toEqual(['read']);
  });
});

describe('SyncDaemonKeeper over the netlink driver (its fake kernel)', () => {
  it('starts, recognises as configured (kernel defaults reported), restarts, changes and stops through netlink', async () => {
    const k = new FakeIpvsKernel();
    const driver = await NetlinkDriver.open({ transport: k });
    const logs: string[] = [];
    const keeper = new SyncDaemonKeeper({ ops: driver.syncDaemons, log: (l, m) => logs.push(`${l}: ${m}`) });
    try {
      await keeper.apply([line('master eth0 syncid=1 group=ff02::81'), line('backup lo syncid=2 ttl=3')]);
      expect(keeper.status().map((d) => [d.role, d.state, d.error])).toEqual([['master', 'running', null], ['backup', 'running', null]]);
      const n = k.log.length;
      await keeper.check();
      expect(k.log.length - n).toBe(1); // one GET_DAEMON dump: both run as configured
      await driver.syncDaemons.stop('backup');
      await keeper.check();
      expect((await driver.syncDaemons.read()).map((d) => `${d.role} ${d.syncid}`)).toEqual(['master 1', 'backup 2']);
      await keeper.apply([line('master eth0 syncid=5'), line('backup lo syncid=2 ttl=3 cleanstop=no')]);
      expect((await driver.syncDaemons.read()).map((d) => `${d.role} ${d.syncid} ${d.group}`)).toEqual(['master 5 224.0.0.81', 'backup 2 224.0.0.81']);
      await keeper.stop();
      expect((await driver.syncDaemons.read()).map((d) => d.role)).toEqual(['backup']);
      expect(logs.filter((l) => l.startsWith('error'))).toEqual([]);
    } finally {
      driver.close();
    }
  });
});

describe('reporting: status data, show, the status page', () => {
  const snapshot = { reals: [], fallbacks: [], cycle: { count: 3, lastDurationMs: 1, lagMs: 0 }, ipvsadm: { runs: 1, failures: 0 } };

  it('the keeper\'s reports become syncDaemons (checkedAt as ISO), shown by show and the page; none: empty and absent', async () => {
    const { keeper, sim } = setup();
    await sim.syncDaemons.start({ role: 'backup', ifname: 'eth0', syncid: 9 });
    await keeper.apply([line('master eth0 syncid=1'), line('backup eth0 syncid=2 cleanstop=no')]);
    await sim.syncDaemons.stop('master');
    await keeper.check();
    const reports = keeper.status();
    const data = buildStatus({ snapshot, configPath: '/etc/ha.d/x.cf', status: 'running', now: 0, syncDaemons: reports });
    expect(data.syncDaemons).toEqual([
      { role: 'master', configured: { role: 'master', ifname: 'eth0', syncid: 1 }, cleanstop: true, state: 'running', running: { role: 'master', ifname: 'eth0', syncid: 1, maxlen: 1472, group: '224.0.0.81', port: 8848, ttl: 1 }, error: null, checkedAt: new Date(1000).toISOString() },
      {
        role: 'backup', configured: { role: 'backup', ifname: 'eth0', syncid: 2 }, cleanstop: false, state: 'running',
        running: { role: 'backup', ifname: 'eth0', syncid: 2, maxlen: 1472, group: '224.0.0.81', port: 8848, ttl: 1 }, error: null, checkedAt: new Date(1000).toISOString(),
      },
    ]);
    const text = showText({ version: 1, pid: 7, config: '/etc/ha.d/x.cf', writtenAt: 0, status: 'running', snapshot, syncDaemons: reports }, { color: false, now: 0 });
    expect(text.split('\n').slice(1, 3)).toEqual(['sync daemon master (mcast=eth0, syncid=1): running', 'sync daemon backup (mcast=eth0, syncid=2): running (kept at stop)']);
    expect(renderPage(data)).toContain('<p id="syncdaemons">Connection sync: master eth0 syncid 1: running · backup eth0 syncid 2: running</p>');
    const none = buildStatus({ snapshot, configPath: 'x', status: 'running', now: 0 });
    expect(none.syncDaemons).toEqual([]);
    expect(renderPage(none)).not.toContain('syncdaemons');
  });
});

describe('the daemon over the fake ipvsadm keeps its sync daemons', () => {
  let dir: string;
  beforeAll(() => build());
  afterEach(() => killPidFile(join(dir, 'ldirectord.s.cf.pid')));

  const roles = (state: string) => (readFakeState(state).daemons ?? []).map((d) => `${d.role}/${d.ifname}/${d.syncid}`).join(',');

  // The sum of the budgets of the waits below (each bounded by processBudgetMs): one daemon goes through seven steps.
  const testBudgetMs = processBudgetMs(40, 100_000);

  it('start → running; deleted → restarted; reload changes syncid → restarted; reload removes → stopped; stop keeps cleanstop=no', { timeout: testBudgetMs }, async () => {
    dir = tmp();
    const state = join(dir, 'ipvs.json');
    const fake = installFakeIpvsadm(join(dir, 'bin'), { state, log: join(dir, 'ipvsadm.log'), env: { FAKE_IPVSADM_INTERFACES: 'eth0,lo' } });
    const log = join(dir, 'ld.log');
    const conf = (sync: string[]) =>
      `logfile="${log}"\ncheckinterval=1\n${sync.map((s) => `syncdaemon = ${s}\n`).join('')}virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\tchecktype=on\n`;
    writeFileSync(join(dir, 's.cf'), conf(['master eth0 syncid=1', 'backup lo syncid=2 cleanstop=no']));
    const env = { LDIRECTORD_RUNDIR: dir, LDIRECTORD_IPVSADM: fake };
    expect((await ld(['./s.cf', 'start'], { cwd: dir, env })).code).toBe(0);
    await until(() => roles(state) === 'master/eth0/1,backup/lo/2', processBudgetMs(8, 20_000), 'both sync daemons started');
    const pid = Number(read(join(dir, 'ldirectord.s.cf.pid')));
    // After the first table write.
    const argv = readFakeLog(join(dir, 'ipvsadm.log')).map((e) => e.argv.join(' '));
    expect(argv.findIndex((a) => a.startsWith('--start-daemon'))).toBeGreaterThan(argv.findIndex((a) => a === '-R'));

    // show --json reports them (the state file is written within a second of a change).
    type Shown = { syncDaemons: { role: string; state: string; cleanstop: boolean }[]; virtuals: unknown[] };
    const end = Date.now() + processBudgetMs(4, 10_000);
    let shown: Shown | undefined;
    while (Date.now() < end) {
      const out = await ld(['./s.cf', 'show', '--json'], { cwd: dir, env });
      shown = out.code === 0 ? (JSON.parse(out.stdout) as Shown) : undefined;
      if (shown?.syncDaemons.length === 2) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(shown?.syncDaemons.map((d) => [d.role, d.state, d.cleanstop])).toEqual([['master', 'running', true], ['backup', 'running', false]]);
    expect(shown?.virtuals).toHaveLength(1);

    // Deleted behind its back: started again within a cycle or two.
    expect(spawnSync(fake, ['--stop-daemon', 'master']).status).toBe(0);
    expect(roles(state)).toBe('backup/lo/2');
    await until(() => roles(state) === 'master/eth0/1,backup/lo/2', processBudgetMs(6, 15_000), 'master restarted');
    await until(() => /master sync daemon is not running any more/.test(read(log)), processBudgetMs(2, 5000), 'logged');

    // Reload with another syncid for the master: restarted with it.
    writeFileSync(join(dir, 's.cf'), conf(['master eth0 syncid=7', 'backup lo syncid=2 cleanstop=no']));
    process.kill(pid, 'SIGHUP');
    await until(() => roles(state) === 'master/eth0/7,backup/lo/2', processBudgetMs(6, 15_000), 'master restarted with syncid 7');

    // Reload without the master line: stopped.
    writeFileSync(join(dir, 's.cf'), conf(['backup lo syncid=2 cleanstop=no']));
    process.kill(pid, 'SIGHUP');
    await until(() => roles(state) === 'backup/lo/2', processBudgetMs(6, 15_000), 'master stopped');

    // Stop: the backup has cleanstop=no and keeps running; the table is purged as always.
    expect((await ld(['./s.cf', 'stop'], { cwd: dir, env })).code).toBe(0);
    await until(() => !existsSync(join(dir, 'ldirectord.s.cf.pid')), processBudgetMs(4, 10_000), 'stopped');
    expect(roles(state)).toBe('backup/lo/2');
    expect(readFakeState(state).services).toHaveLength(0);
    expect(read(log)).toMatch(/Leaving the backup sync daemon .* running \(cleanstop=no\)/);
  });

  it('a start ipvsadm refuses is logged once, shown with its error, and retried until it works', { timeout: testBudgetMs }, async () => {
    dir = tmp();
    const state = join(dir, 'ipvs.json');
    const bin = join(dir, 'bin');
    const fakeEnv = { FAKE_IPVSADM_INTERFACES: 'eth0' };
    // Refused at first: the kernel's answer for an interface the host lacks.
    const fakeLog = join(dir, 'ipvsadm.log');
    const fake = installFakeIpvsadm(bin, { state, log: fakeLog, env: { ...fakeEnv, FAKE_IPVSADM_INTERFACES: 'lo' } });
    const starts = () => readFakeLog(fakeLog).filter((e) => e.argv[0] === '--start-daemon').length;
    const log = join(dir, 'ld.log');
    writeFileSync(join(dir, 's.cf'), `logfile="${log}"\ncheckinterval=1\nsyncdaemon = backup eth0 syncid=3\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\tchecktype=on\n`);
    const env = { LDIRECTORD_RUNDIR: dir, LDIRECTORD_IPVSADM: fake };
    expect((await ld(['./s.cf', 'start'], { cwd: dir, env })).code).toBe(0);
    await until(() => /Can not start the backup sync daemon \(mcast=eth0, syncid=3\) \(will retry\): No such device/.test(read(log)), processBudgetMs(8, 20_000), 'refusal logged');
    // Three tries later: still refused, logged once, reported.
    await until(() => starts() >= 3, processBudgetMs(8, 10_000), 'three start attempts');
    expect(read(log).match(/Can not start the backup sync daemon/g)).toHaveLength(1);
    expect(roles(state)).toBe('');
    const out = await ld(['./s.cf', 'show', '--json'], { cwd: dir, env });
    const shown = JSON.parse(out.stdout) as { syncDaemons: { state: string; error: string | null }[] };
    expect(shown.syncDaemons).toEqual([expect.objectContaining({ state: 'missing', error: 'No such device' })]);
    // The interface appears: the next check starts the daemon.
    installFakeIpvsadm(bin, { state, log: fakeLog, env: fakeEnv });
    await until(() => roles(state) === 'backup/eth0/3', processBudgetMs(6, 15_000), 'backup started after the retry');
    await until(() => /Started the backup sync daemon \(mcast=eth0, syncid=3\)/.test(read(log)), processBudgetMs(2, 5000), 'start logged');
    expect((await ld(['./s.cf', 'stop'], { cwd: dir, env })).code).toBe(0);
    await until(() => !existsSync(join(dir, 'ldirectord.s.cf.pid')), processBudgetMs(4, 10_000), 'stopped');
    expect(roles(state)).toBe('');
  });
});
