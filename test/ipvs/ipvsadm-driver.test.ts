import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IpvsadmDriver } from '../../src/ipvs/ipvsadm-driver.js';
import type { DesiredTable, IpvsDest, IpvsService } from '../../src/ipvs/types.js';
import { fakeList, fakeSave, installFakeIpvsadm, readFakeLog } from '../fake-ipvsadm/install.js';

const tmp = mkdtempSync(join(tmpdir(), 'ipvsadm-driver-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

function setup(env?: Record<string, string>, opts: { timeoutMs?: number } = {}) {
  const dir = join(tmp, `d${n++}`);
  const state = join(dir, 'state.json');
  const log = join(dir, 'log.jsonl');
  const path = installFakeIpvsadm(dir, { state, log, env });
  const logs: string[] = [];
  const driver = new IpvsadmDriver({ path, timeoutMs: opts.timeoutMs ?? 10_000, onLog: (level, msg) => logs.push(`${level}: ${msg}`) });
  return { dir, state, log, path, driver, logs };
}

const svc = (vaddr: string, over: Partial<IpvsService> = {}): IpvsService => ({ proto: 'tcp', vaddr, scheduler: 'wrr', ...over });
const dest = (rs: string, over: Partial<IpvsDest> = {}): IpvsDest => ({ rs, forward: 'gate', weight: 1, upperThreshold: 0, lowerThreshold: 0, ...over });

describe('IpvsadmDriver against the fake ipvsadm', () => {
  it('a cycle = one read process + one -R that writes everything and reads back; a no-change cycle = one read', async () => {
    const { driver, state, log } = setup();
    const desired: DesiredTable = {
      services: [
        { service: svc('127.0.0.1:80', { persistent: 300 }), dests: [dest('127.0.0.2:80', { weight: 3 }), dest('127.0.0.3:8080', { forward: 'masq', upperThreshold: 9, lowerThreshold: 2 })] },
        { service: { proto: 'fwm', vaddr: '7', scheduler: 'rr' }, dests: [dest('127.0.0.4:0')] },
      ],
      remove: [],
    };
    const r = await driver.sync(desired);
    expect(r.error).toBeUndefined();
    expect(r.processes).toBe(2);
    expect(r.commands.map((c) => [c.ok, c.commandLine.replace(/^\S+ /, '')])).toEqual([
      [true, '-A -t 127.0.0.1:80 -s wrr -p 300'],
      [true, '-a -t 127.0.0.1:80 -r 127.0.0.2:80 -g -w 3'],
      [true, '-a -t 127.0.0.1:80 -r 127.0.0.3:8080 -m -w 1 -x 9 -y 2'],
      [true, '-A -f 7 -s rr'],
      [true, '-a -f 7 -r 127.0.0.4:0 -g -w 1'],
    ]);
    const calls = readFakeLog(log);
    expect(calls.map((c) => c.argv)).toEqual([['-R'], ['-R']]);
    expect(calls[1].stdin).toBe(
      '-A -t 127.0.0.1:80 -s wrr -p 300\n-a -t 127.0.0.1:80 -r 127.0.0.2:80 -g -w 3\n-a -t 127.0.0.1:80 -r 127.0.0.3:8080 -m -w 1 -x 9 -y 2\n' +
        '-A -f 7 -s rr\n-a -f 7 -r 127.0.0.4:0 -g -w 1\n-L -n\n-L -n --thresholds\n',
    );
    expect(fakeSave(state)).toBe(
      '-A -t 127.0.0.1:80 -s wrr -p 300\n-a -t 127.0.0.1:80 -r 127.0.0.2:80 -g -w 3\n-a -t 127.0.0.1:80 -r 127.0.0.3:8080 -m -w 1\n-A -f 7 -s rr\n-a -f 7 -r 127.0.0.4:0 -g -w 1\n',
    );
    // The batch's own listing is the table it left: what a read gives now.
    expect(driver.appliedTable()).toEqual(await driver.read());
    const again = await driver.sync(desired);
    expect(again).toEqual({ commands: [], processes: 1 });
    expect(driver.appliedTable()).toBeUndefined(); // nothing applied
    expect(driver.processCount).toBe(4);
  });

  it('read() gives thresholds, forwarding, persistence; list mode uses -L -n and -L -n --thresholds', async () => {
    const { driver, path, state, log } = setup();
    await driver.sync({ services: [{ service: svc('127.0.0.1:80', { persistent: 60, netmask: '255.255.255.0' }), dests: [dest('127.0.0.2:80', { forward: 'ipip', weight: 0, upperThreshold: 50, lowerThreshold: 5 })] }], remove: [] });
    const t = await driver.read();
    const listDriver = new IpvsadmDriver({ path, readMode: 'list' });
    expect(await listDriver.read()).toEqual(t);
    expect(listDriver.processCount).toBe(2);
    expect(readFakeLog(log).slice(-2).map((c) => c.argv)).toEqual([['-L', '-n'], ['-L', '-n', '--thresholds']]);
    expect(t.services[0]).toEqual({
      service: { proto: 'tcp', vaddr: '127.0.0.1:80', scheduler: 'wrr', persistent: 60, netmask: '255.255.255.0' },
      dests: [{ rs: '127.0.0.2:80', forward: 'ipip', weight: 0, upperThreshold: 50, lowerThreshold: 5 }],
    });
    expect(fakeList(state)).toContain('TCP  127.0.0.1:80 wrr persistent 60 mask 255.255.255.0\n');
  });

  it('a line the kernel refuses inside the batch is found by the read-back, re-run alone and reported', async () => {
    const { driver, log, logs, path } = setup({ FAKE_IPVSADM_FAIL_MATCH: '127\\.0\\.0\\.66' });
    const r = await driver.sync({
      services: [{ service: svc('127.0.0.1:80'), dests: [dest('127.0.0.2:80'), dest('127.0.0.66:80'), dest('127.0.0.3:80')] }],
      remove: [],
    });
    expect(r.commands.map((c) => c.ok)).toEqual([true, true, false, true]);
    const bad = r.commands[2];
    expect(bad.commandLine).toBe(`${path} -a -t 127.0.0.1:80 -r 127.0.0.66:80 -g -w 1`);
    expect(bad.error).toMatch(/Operation not permitted/);
    expect(logs).toContain(`error: ${bad.commandLine}: ${bad.error}`);
    // read, batch, then the one single re-run
    expect(readFakeLog(log).map((c) => c.argv.join(' '))).toEqual(['-R', '-R', '-a -t 127.0.0.1:80 -r 127.0.0.66:80 -g -w 1']);
    expect(r.processes).toBe(3);
    // a command re-run alone came after the batch's listing: no applied table to plan against
    expect(driver.appliedTable()).toBeUndefined();
  });

  it('kernel refusals (unknown scheduler → its reals "Service not defined") are each reported with ipvsadm\'s message', async () => {
    const { driver } = setup();
    const r = await driver.sync({ services: [{ service: svc('127.0.0.1:80', { scheduler: 'dh' }), dests: [dest('127.0.0.2:80')] }, { service: svc('127.0.0.1:81'), dests: [] }], remove: [] });
    expect(r.commands.map((c) => [c.ok, c.error])).toEqual([
      [false, 'Scheduler or persistence engine not found'],
      [false, 'Service not defined'],
      [true, undefined],
    ]);
  });

  it('an unparsable line aborts ipvsadm -R: the driver reads the table again and re-applies what is missing', async () => {
    const { driver, state, log } = setup();
    const r = await driver.apply([
      { op: 'add-service', service: svc('127.0.0.1:80') },
      { op: 'add-dest', proto: 'tcp', vaddr: '127.0.0.1:80', dest: dest('127.0.0.2:80', { weight: -1 }) },
      { op: 'add-dest', proto: 'tcp', vaddr: '127.0.0.1:80', dest: dest('127.0.0.3:80') },
    ]);
    expect(r.map((c) => [c.ok, c.error])).toEqual([[true, undefined], [false, 'illegal weight specified'], [true, undefined]]);
    expect(fakeSave(state)).toBe('-A -t 127.0.0.1:80 -s wrr\n-a -t 127.0.0.1:80 -r 127.0.0.3:80 -g -w 1\n');
    expect(readFakeLog(log).map((c) => [c.argv[0], c.exitCode])).toEqual([['-R', 2], ['-R', 0], ['-a', 2], ['-a', 0]]);
  });

  it('a hung ipvsadm is killed at timeoutMs and reported; nothing throws', async () => {
    const { driver, logs } = setup({ FAKE_IPVSADM_HANG_MS: '20000' }, { timeoutMs: 300 });
    const r = await driver.sync({ services: [{ service: svc('127.0.0.1:80'), dests: [] }], remove: [] });
    expect(r.commands).toEqual([]);
    expect(r.error).toMatch(/no answer within 300 ms/);
    const a = await driver.apply([{ op: 'add-service', service: svc('127.0.0.1:80') }]);
    expect(a[0].ok).toBe(false);
    expect(a[0].error).toMatch(/no answer within 300 ms|cannot check/);
    expect(logs.some((l) => l.startsWith('error:'))).toBe(true);
  });

  it('a missing binary is reported, never thrown', async () => {
    const driver = new IpvsadmDriver({ path: join(tmp, 'no-such-ipvsadm') });
    const r = await driver.sync({ services: [{ service: svc('127.0.0.1:80'), dests: [] }], remove: [] });
    expect(r.error).toMatch(/cannot run/);
    await expect(driver.read()).rejects.toMatchObject({ code: 'LDIR_ERR_IPVSADM' });
    const a = await driver.apply([{ op: 'delete-service', proto: 'tcp', vaddr: '127.0.0.1:80' }]);
    expect(a).toEqual([{ command: { op: 'delete-service', proto: 'tcp', vaddr: '127.0.0.1:80' }, ok: false, error: expect.stringMatching(/cannot run/), commandLine: `${join(tmp, 'no-such-ipvsadm')} -D -t 127.0.0.1:80` }]);
  });

  it('garbage output is reported as an error, not read as an empty table', async () => {
    const { driver } = setup({ FAKE_IPVSADM_GARBAGE: '1' });
    await expect(driver.read()).rejects.toMatchObject({ code: 'LDIR_ERR_IPVSADM' });
    const r = await driver.sync({ services: [{ service: svc('127.0.0.1:80'), dests: [] }], remove: [] });
    expect(r.error).toMatch(/unexpected ipvsadm/);
    expect(r.commands).toEqual([]);
  });
});
