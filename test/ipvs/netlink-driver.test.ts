import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { IPVS_CMD } from '../../src/ipvs/netlink/codec.js';
import { NetlinkDriver, NetlinkUnavailable } from '../../src/ipvs/netlink/driver.js';
import { namedIpvsadm, parseDriverRequest, selectIpvsDriver } from '../../src/ipvs/select.js';
import type { IpvsCommand, IpvsDriver } from '../../src/ipvs/types.js';
import { FakeIpvsKernel } from './netlink-fake-kernel.js';
import { builtUrl, runScript } from '../support/built.js';

const E = constants.errno;

async function open(k = new FakeIpvsKernel(), logs: string[] = []) {
  const d = await NetlinkDriver.open({ transport: k, onLog: (l, m) => logs.push(`${l}: ${m}`), seq: 100 });
  return { k, d, logs };
}

const SVC = { proto: 'tcp', vaddr: '10.0.0.1:80' } as const;
const dest = (n: number, weight = 1) => ({ rs: `10.0.${n >> 8}.${n & 255}:80`, forward: 'gate' as const, weight, upperThreshold: 0, lowerThreshold: 0 });

describe('NetlinkDriver on a scripted kernel', () => {
  it('resolves the family, applies a batch pipelined (one datagram) and reads it back', async () => {
    const { k, d } = await open();
    expect(d.family).toBe(0x2a);
    const cmds: IpvsCommand[] = [
      { op: 'add-service', service: { ...SVC, scheduler: 'wrr', persistent: 300 } },
      { op: 'add-dest', ...SVC, dest: dest(2) },
      { op: 'add-dest', ...SVC, dest: { rs: '10.0.0.3:8080', forward: 'masq', weight: 5, upperThreshold: 10, lowerThreshold: 2 } },
      { op: 'add-service', service: { proto: 'fwm', vaddr: '3', ipv6Fwm: true, scheduler: 'sh', schedflags: 'sh-port' } },
      { op: 'add-dest', proto: 'fwm', vaddr: '3', ipv6Fwm: true, dest: { rs: '[2001:db8::5]:0', forward: 'ipip', weight: 2, upperThreshold: 0, lowerThreshold: 0 } },
    ];
    const before = k.datagrams;
    const res = await d.apply(cmds);
    expect(res.map((r) => r.ok)).toEqual([true, true, true, true, true]);
    // one datagram for the batch, then the read back: GET_SERVICE + one GET_DEST per service
    expect(k.datagrams - before).toBe(1 + 1 + 2);
    expect(await d.read()).toEqual({
      services: [
        {
          service: { proto: 'tcp', vaddr: '10.0.0.1:80', scheduler: 'wrr', persistent: 300 },
          dests: [dest(2), { rs: '10.0.0.3:8080', forward: 'masq', weight: 5, upperThreshold: 10, lowerThreshold: 2 }],
        },
        {
          service: { proto: 'fwm', vaddr: '3', ipv6Fwm: true, scheduler: 'sh', schedflags: 'sh-port' },
          dests: [{ rs: '[2001:db8::5]:0', forward: 'ipip', weight: 2, upperThreshold: 0, lowerThreshold: 0 }],
        },
      ],
    });
    expect(res[1].commandLine).toBe('ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1');
  });

  it('windows a large batch: 1000 reals in 4 datagrams of at most 256 requests, one answer each', async () => {
    const { k, d } = await open();
    const cmds: IpvsCommand[] = [{ op: 'add-service', service: { ...SVC, scheduler: 'wlc' } }];
    for (let i = 1; i <= 1000; i++) cmds.push({ op: 'add-dest', ...SVC, dest: dest(i) });
    const before = k.datagrams;
    const answersBefore = k.answers;
    const res = await d.apply(cmds);
    expect(res.every((r) => r.ok)).toBe(true);
    expect(k.datagrams - before).toBe(Math.ceil(1001 / 256) + 2);
    expect(k.answers).toBe(answersBefore + Math.ceil(1001 / 256) + 2);
    expect((await d.read()).services[0].dests).toHaveLength(1000);
  });

  it('goes on after a refusal mid-batch, repairs a transient one alone, reports a lasting one with ipvsadm\'s message', async () => {
    const { k, d, logs } = await open();
    await d.apply([{ op: 'add-service', service: { ...SVC, scheduler: 'wlc' } }]);
    // the 2nd NEW_DEST of the batch fails once with ENOMEM (transient); the add to a missing service
    // is refused every time (ESRCH -> "Service not defined"); everything after them still goes in
    k.refuse = [{ cmd: IPVS_CMD.NEW_DEST, nth: 1, errno: E.ENOMEM }];
    const cmds: IpvsCommand[] = [
      { op: 'add-dest', ...SVC, dest: dest(1) },
      { op: 'add-dest', ...SVC, dest: dest(2) },
      { op: 'add-dest', proto: 'tcp', vaddr: '10.9.9.9:80', dest: dest(3) },
      { op: 'add-dest', ...SVC, dest: dest(4) },
      { op: 'delete-dest', ...SVC, rs: '10.0.0.77:80' },
    ];
    const res = await d.apply(cmds);
    expect(res.map((r) => [r.ok, r.error])).toEqual([
      [true, undefined],
      [true, undefined],
      [false, 'Service not defined'],
      [true, undefined],
      // deleting a destination that is not there: its effect (absent) is visible, as with ipvsadm -R
      [true, undefined],
    ]);
    expect((await d.read()).services[0].dests.map((x) => x.rs)).toEqual(['10.0.0.1:80', '10.0.0.4:80', '10.0.0.2:80']);
    expect(logs.filter((l) => l.startsWith('error'))).toEqual(['error: ipvsadm -a -t 10.9.9.9:80 -r 10.0.0.3:80 -g -w 1: Service not defined']);
    expect(logs.some((l) => /ipvsadm -a -t 10\.0\.0\.1:80 -r 10\.0\.0\.2:80 -g -w 1: Memory allocation problem \(ENOMEM\); sending it alone/.test(l))).toBe(true);
  });

  it('maps each refusal like ipvsadm: exists, no such service, no such destination', async () => {
    const { d } = await open();
    await d.apply([{ op: 'add-service', service: { ...SVC, scheduler: 'wlc' } }, { op: 'add-dest', ...SVC, dest: dest(1) }]);
    const res = await d.apply([
      { op: 'add-service', service: { ...SVC, scheduler: 'rr' } },
      { op: 'add-dest', ...SVC, dest: dest(1, 7) },
      { op: 'edit-dest', ...SVC, dest: dest(9) },
      { op: 'delete-service', proto: 'udp', vaddr: '10.0.0.1:53' },
      { op: 'edit-service', service: { proto: 'udp', vaddr: '10.0.0.1:53', scheduler: 'rr' } },
    ]);
    expect(res.map((r) => r.error)).toEqual(['Service already exists', 'Destination already exists', 'No such destination', undefined, 'No such service']);
  });

  it('a lost window of answers (ENOBUFS) is repaired from the read back', async () => {
    const { k, d } = await open();
    k.dropAnswers = k.datagrams; // the batch's datagram: applied by the kernel, its ACKs lost
    const res = await d.apply([{ op: 'add-service', service: { ...SVC, scheduler: 'wlc' } }, { op: 'add-dest', ...SVC, dest: dest(1) }]);
    expect(res.every((r) => r.ok)).toBe(true);
    expect((await d.read()).services[0].dests).toHaveLength(1);
  });

  it('a command it cannot encode is refused alone; the rest of the batch goes in', async () => {
    const { d, logs } = await open();
    const res = await d.apply([
      { op: 'add-service', service: { proto: 'tcp', vaddr: 'www.example:80', scheduler: 'wlc' } },
      { op: 'add-service', service: { ...SVC, scheduler: 'wlc' } },
    ]);
    expect(res.map((r) => r.ok)).toEqual([false, true]);
    expect(logs.some((l) => l.includes('bad virtual service address www.example:80'))).toBe(true);
  });

  it('no IPVS family: open() throws NetlinkUnavailable with the errno and closes the socket', async () => {
    const k = new FakeIpvsKernel();
    k.familyPresent = false;
    const err = await NetlinkDriver.open({ transport: k }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkUnavailable);
    expect((err as NetlinkUnavailable).errno).toBe(E.ENOENT);
    expect(k.closed).toBe(true);
  });

  it('the real transport loads only the netlink package\'s raw socket layer and its addon (the whole package was ~12 MB of RSS)', () => {
    // In a child of the built module: a generic netlink socket on this host's kernel.
    const script = `
      import { createRequire } from 'node:module';
      import { openGenericTransport } from ${builtUrl('ipvs/netlink/socket.js')};
      const t = await openGenericTransport(); t.close();
      console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('/netlink/')).map((k) => k.replace(/.*\\/netlink\\//, ''))));`;
    const r = runScript(script);
    expect(r.stderr).toBe('');
    const loaded = JSON.parse(r.stdout) as string[];
    expect(loaded).toContain('dist/raw.js');
    expect(loaded.some((f) => f.endsWith('.node'))).toBe(true);
    expect(loaded.filter((f) => f.startsWith('dist/') && f !== 'dist/raw.js')).toEqual([]);
  });

  it('keeps the process alive only while answers are awaited', async () => {
    const { k, d } = await open();
    expect(k.ref).toBe(false);
    const p = d.read();
    expect(k.ref).toBe(true);
    await p;
    expect(k.ref).toBe(false);
  });
});

describe('NetlinkDriver sync daemons (NEW/DEL/GET_DAEMON) on a scripted kernel', () => {
  it('starts a master and a backup, reads them back with the kernel\'s defaults, stops one', async () => {
    const { k, d } = await open();
    const s = d.syncDaemons;
    expect(await s.read()).toEqual([]);
    await s.start({ role: 'master', ifname: 'eth0', syncid: 1 });
    await s.start({ role: 'backup', ifname: 'eth0', syncid: 2, port: 8850, group: '239.0.0.9', ttl: 2, maxlen: 1200 });
    expect(k.log.filter((l) => l.cmd === IPVS_CMD.NEW_DAEMON)).toHaveLength(2);
    expect(await s.read()).toEqual([
      { role: 'master', ifname: 'eth0', syncid: 1, maxlen: 1472, group: '224.0.0.81', port: 8848, ttl: 1 },
      { role: 'backup', ifname: 'eth0', syncid: 2, maxlen: 1200, group: '239.0.0.9', port: 8850, ttl: 2 },
    ]);
    await s.stop('master');
    expect((await s.read()).map((x) => x.role)).toEqual(['backup']);
  });

  it('a refusal throws an LdirError LDIR_ERR_IPVSADM with ipvsadm\'s command line and message', async () => {
    const { d } = await open();
    const s = d.syncDaemons;
    await s.start({ role: 'master', ifname: 'eth0', syncid: 1 });
    const fail = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        return e as { code: string; message: string; errno: number };
      }
      throw new Error('no error');
    };
    const again = await fail(s.start({ role: 'master', ifname: 'eth0', syncid: 1 }));
    expect(again.code).toBe('LDIR_ERR_IPVSADM');
    expect(again.message).toBe('ipvsadm --start-daemon master --mcast-interface eth0 --syncid 1: Daemon has already run');
    expect(again.errno).toBe(E.EEXIST);
    expect((await fail(s.start({ role: 'backup', ifname: 'nosuch0', syncid: 3, port: 9000 }))).message).toBe(
      'ipvsadm --start-daemon backup --mcast-interface nosuch0 --syncid 3 --mcast-port 9000: No such device',
    );
    expect((await fail(s.stop('backup'))).message).toBe('ipvsadm --stop-daemon backup: No daemon is running');
    // refused before it is sent: a setting the kernel cannot take
    const bad = await fail(s.start({ role: 'backup', ifname: 'eth0', syncid: 999 }));
    expect(bad.code).toBe('LDIR_ERR_IPVSADM');
    expect(bad.message).toMatch(/--syncid 999: bad sync id 999/);
  });
});

describe('driver selection', () => {
  const fakeIpvsadm: IpvsDriver = { read: async () => ({ services: [] }), apply: async () => [] };
  function run(env: NodeJS.ProcessEnv, ipvsadm: string, opts: { family?: boolean; familyAfterModprobe?: boolean } = {}) {
    const logs: string[] = [];
    let opens = 0;
    let modprobes = 0;
    let loaded = false;
    const p = selectIpvsDriver({
      env,
      ipvsadm,
      log: (l, m) => logs.push(`${l}: ${m}`),
      openNetlink: async () => {
        opens++;
        const k = new FakeIpvsKernel();
        k.familyPresent = Boolean(opts.family) || (Boolean(opts.familyAfterModprobe) && loaded);
        return await NetlinkDriver.open({ transport: k });
      },
      modprobe: async () => {
        modprobes++;
        loaded = true;
        return opts.familyAfterModprobe ? undefined : 'FATAL: Module ip_vs not found';
      },
      makeIpvsadm: () => fakeIpvsadm,
    });
    return p.then((r) => ({ ...r, logs, opens, modprobes }));
  }

  it('auto: a named ipvsadm wins without looking at netlink (the differential suites)', async () => {
    const r = await run({}, '/tmp/x/ipvsadm', { family: true });
    expect(r.selection).toMatchObject({ driver: 'ipvsadm', requested: 'auto', reason: 'named by -d with ./ipvsadm' });
    expect(r.opens).toBe(0);
    const e = await run({ LDIRECTORD_IPVSADM: '/usr/sbin/ipvsadm' }, '/usr/sbin/ipvsadm', { family: true });
    expect(e.selection.reason).toBe('named by LDIRECTORD_IPVSADM');
    expect(e.logs).toEqual(['info: IPVS driver: ipvsadm (/usr/sbin/ipvsadm): named by LDIRECTORD_IPVSADM']);
  });

  it('auto: netlink when the family resolves', async () => {
    const r = await run({}, '/usr/sbin/ipvsadm', { family: true });
    expect(r.selection).toMatchObject({ driver: 'netlink', requested: 'auto' });
    expect(r.driver).toBeInstanceOf(NetlinkDriver);
    expect(r.modprobes).toBe(0);
    expect(r.logs).toEqual(['info: IPVS driver: netlink (family 42): the IPVS generic netlink family resolves']);
  });

  it('auto: modprobe ip_vs once, then netlink', async () => {
    const r = await run({}, '/usr/sbin/ipvsadm', { familyAfterModprobe: true });
    expect(r.selection.driver).toBe('netlink');
    expect([r.opens, r.modprobes]).toEqual([2, 1]);
  });

  it('auto: no IPVS family -> the system ipvsadm, one log line', async () => {
    const r = await run({}, '/sbin/ipvsadm');
    expect(r.selection).toMatchObject({ driver: 'ipvsadm', ipvsadm: '/sbin/ipvsadm' });
    expect(r.driver).toBe(fakeIpvsadm);
    expect([r.opens, r.modprobes]).toEqual([2, 1]);
    expect(r.logs).toEqual([
      'info: IPVS driver: ipvsadm (/sbin/ipvsadm): no IPVS over netlink: generic netlink family IPVS not found (ENOENT); modprobe ip_vs: FATAL: Module ip_vs not found',
    ]);
  });

  it('netlink forces it over a named ipvsadm; ipvsadm forces ipvsadm; a bad value is an error, then auto', async () => {
    const f = await run({ LDIRECTORD_IPVS_DRIVER: 'netlink' }, '/tmp/x/ipvsadm', { family: true });
    expect(f.selection).toMatchObject({ driver: 'netlink', requested: 'netlink' });
    const g = await run({ LDIRECTORD_IPVS_DRIVER: 'netlink' }, '/tmp/x/ipvsadm');
    expect(g.selection.driver).toBe('ipvsadm');
    expect(g.logs[0]).toMatch(/^error: IPVS driver: ipvsadm \(\/tmp\/x\/ipvsadm\): LDIRECTORD_IPVS_DRIVER=netlink but netlink is unusable/);
    const i = await run({ LDIRECTORD_IPVS_DRIVER: 'ipvsadm' }, '/usr/sbin/ipvsadm', { family: true });
    expect([i.selection.driver, i.opens]).toEqual(['ipvsadm', 0]);
    const b = await run({ LDIRECTORD_IPVS_DRIVER: 'kernel' }, '/usr/sbin/ipvsadm', { family: true });
    expect(b.logs[0]).toBe('error: LDIRECTORD_IPVS_DRIVER=kernel: expected netlink, ipvsadm or auto; using auto');
    expect(b.selection).toMatchObject({ driver: 'netlink', requested: 'auto' });
  });

  it('parses the request and tells a named ipvsadm from the system one', () => {
    expect(parseDriverRequest(undefined)).toBe('auto');
    expect(parseDriverRequest('')).toBe('auto');
    expect(parseDriverRequest('netlink')).toBe('netlink');
    expect(namedIpvsadm({ env: {}, ipvsadm: '/usr/sbin/ipvsadm' })).toBeUndefined();
    expect(namedIpvsadm({ env: {}, ipvsadm: '/work/x/ipvsadm' })).toBe('-d with ./ipvsadm');
  });
});

describe('on this host (real netlink socket)', () => {
  it('auto without a named ipvsadm: netlink when the kernel has IPVS, else ipvsadm with one log line', async () => {
    const logs: string[] = [];
    const r = await selectIpvsDriver({ env: {}, ipvsadm: '/usr/sbin/ipvsadm', log: (l, m) => logs.push(`${l}: ${m}`), makeIpvsadm: () => ({ read: async () => ({ services: [] }), apply: async () => [] }) });
    expect(logs).toHaveLength(1);
    if (r.selection.driver === 'netlink') {
      console.log('this host has IPVS: auto chose netlink');
      (r.driver as NetlinkDriver).close();
      expect(logs[0]).toMatch(/^info: IPVS driver: netlink/);
    } else {
      expect(logs[0]).toMatch(/^info: IPVS driver: ipvsadm \(\/usr\/sbin\/ipvsadm\): no IPVS over netlink: generic netlink family IPVS not found \(ENOENT\)/);
    }
  });
});
