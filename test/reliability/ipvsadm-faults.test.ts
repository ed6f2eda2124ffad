/**
 * ipvsadm faults through the fake, with the daemon as a user runs it (detached start, pid file, log
 * file): missing binary, one refused line of a batch, garbage listings, a hang, and an admin changing
 * the table behind the daemon's back. The daemon logs, re-reads, converges and stays alive.
 */
import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type net from 'node:net';
import { Rig, alive, fakeProcesses, build, closeServer, daemonSkipReason, freePort, skipNote, sleep, tcpListen, until } from './helpers.js';

const skip = skipNote('ipvsadm fault tests (daemon)', daemonSkipReason());

describe.skipIf(skip)('ipvsadm faults: the daemon logs, re-reads, converges and stays alive', () => {
  let rig: Rig | undefined;
  const servers: net.Server[] = [];
  let port = 0;
  beforeAll(() => build());
  afterEach(async () => {
    rig?.cleanup();
    rig = undefined;
    await Promise.all(servers.splice(0).map(closeServer));
  });

  async function setup(reals = ['127.0.0.2', '127.0.0.3']): Promise<Rig> {
    port = await freePort();
    for (const ip of reals) servers.push(await tcpListen(ip, port));
    const r = new Rig();
    rig = r;
    writeFileSync(
      r.cfg,
      `logfile="${r.log}"\ncheckinterval=1\nchecktimeout=1\nnegotiatetimeout=1\n` +
        `virtual=127.0.0.1:${port}\n` +
        ['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((ip) => `\treal=${ip}:${port} gate\n`).join('') +
        `\tchecktype=connect\n\tquiescent=no\n`,
    );
    return r;
  }
  const want = (ips: string[]) => ips.map((ip) => `127.0.0.1:${port}>${ip}:${port}`).join(',');

  it('missing binary: the daemon stays up, logs, and fills the table once ipvsadm is back', async () => {
    const r = await setup();
    const pid = await r.start();
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3']), 20_000, 'initial table');
    renameSync(r.ipvsadm, `${r.ipvsadm}.gone`);
    const logBefore = r.logText().length;
    servers.push(await tcpListen('127.0.0.4', port)); // a change the daemon must apply
    await sleep(3500);
    expect(alive(pid)).toBe(true);
    await until(() => /ipvsadm/i.test(r.logText().slice(logBefore)), 10_000, 'the missing ipvsadm logged');
    expect(r.up().join()).toBe(want(['127.0.0.2', '127.0.0.3'])); // nothing could change meanwhile
    renameSync(`${r.ipvsadm}.gone`, r.ipvsadm);
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3', '127.0.0.4']), 20_000, 'converged after ipvsadm came back');
    expect(alive(pid)).toBe(true);
  });

  it('one refused line of a batch: the others are applied, the refusal logged, it converges when the fault goes', async () => {
    const r = await setup([]);
    r.setFaults({ FAKE_IPVSADM_FAIL_MATCH: '-r 127\\.0\\.0\\.3:' });
    const pid = await r.start();
    servers.push(await tcpListen('127.0.0.2', port), await tcpListen('127.0.0.3', port), await tcpListen('127.0.0.4', port));
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.4']), 20_000, 'the good lines applied');
    await until(() => /127\.0\.0\.3/.test(r.logText()) && /injected by FAKE_IPVSADM_FAIL_MATCH|Operation not permitted/.test(r.logText()), 10_000, 'the refusal logged');
    expect(alive(pid)).toBe(true);
    r.setFaults({});
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3', '127.0.0.4']), 20_000, 'converged after the fault');
  });

  it('garbage listings: nothing is written from a garbled read; converges when listings are sane again', async () => {
    const r = await setup();
    const pid = await r.start();
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3']), 20_000, 'initial table');
    r.setFaults({ FAKE_IPVSADM_GARBAGE: '1' });
    const calls = r.invocations().length;
    const logBefore = r.logText().length;
    await closeServer(servers.shift()); // 127.0.0.2 goes down while reads are garbage
    await until(() => r.invocations().length > calls + 2, 15_000, 'the daemon kept trying');
    expect(alive(pid)).toBe(true);
    await until(() => /ipvsadm/i.test(r.logText().slice(logBefore)), 10_000, 'the garbled read logged');
    r.setFaults({});
    await until(() => r.up().join() === want(['127.0.0.3']), 20_000, 'converged after garbage');
    expect(alive(pid)).toBe(true);
  });

  it('a hanging ipvsadm is killed after a bound; the daemon goes on and converges', async () => {
    const r = await setup();
    const pid = await r.start();
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3']), 20_000, 'initial table');
    r.setFaults({ FAKE_IPVSADM_HANG_MS: '600000' });
    const logBefore = r.logText().length;
    await closeServer(servers.shift());
    await until(() => fakeProcesses(r.state, 'FAKE_IPVSADM_HANG_MS=600000').length > 0, 10_000, 'a hanging ipvsadm');
    expect(alive(pid)).toBe(true);
    r.setFaults({});
    // The driver's bound (10 s by default) frees the daemon; then the change is made.
    await until(() => r.up().join() === want(['127.0.0.3']), 40_000, 'converged after the hang');
    expect(alive(pid)).toBe(true);
    expect(r.logText().slice(logBefore)).toMatch(/ipvsadm/i); // the kill was logged
    // No hung ipvsadm is left behind.
    await until(() => fakeProcesses(r.state, 'FAKE_IPVSADM_HANG_MS=600000').length === 0, 15_000, 'hung ipvsadm processes killed');
  });

  it('an admin deletes and adds entries behind the daemon: it re-reads and puts the table right', async () => {
    const r = await setup();
    const pid = await r.start();
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3']), 20_000, 'initial table');
    const admin = (args: string[]) => spawnSync(r.ipvsadm, args, { encoding: 'utf8' });
    expect(admin(['-d', '-t', `127.0.0.1:${port}`, '-r', `127.0.0.2:${port}`]).status).toBe(0);
    expect(admin(['-a', '-t', `127.0.0.1:${port}`, '-r', `127.0.0.9:${port}`, '-g', '-w', '1']).status).toBe(0);
    expect(r.up().join()).toBe([want(['127.0.0.3']), `127.0.0.1:${port}>127.0.0.9:${port}`].join(','));
    // The next change the daemon makes (127.0.0.4 comes up) is planned against the table its last batch
    // listed; this batch's own listing shows the real the admin deleted, and one more batch puts it back at
    // once (not at the verify read, up to 30 s later).
    servers.push(await tcpListen('127.0.0.4', port));
    const managed = () => r.up().filter((k) => !k.endsWith(`>127.0.0.9:${port}`)).join();
    await until(() => managed() === want(['127.0.0.2', '127.0.0.3', '127.0.0.4']), 15_000, 'the deleted real restored with the next change');
    // A foreign entry in a managed virtual service: the original leaves unknown reals alone or removes
    // them; either way the daemon's reals are right and it is alive.
    expect(alive(pid)).toBe(true);
  });

  it('an entry changed by hand holds while nothing changes (as with the original, no ipvsadm run); readbackinterval=1 puts it back without a change', async () => {
    const r = await setup();
    const pid = await r.start();
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3']), 20_000, 'initial table');
    const admin = (args: string[]) => spawnSync(r.ipvsadm, args, { encoding: 'utf8' });
    expect(admin(['-e', '-t', `127.0.0.1:${port}`, '-r', `127.0.0.2:${port}`, '-g', '-w', '0']).status).toBe(0);
    const calls = r.invocations().length;
    await sleep(3500); // three check cycles, every check a success: no change to make
    expect(r.up().join()).toBe(want(['127.0.0.3'])); // the admin's weight 0 holds
    expect(r.invocations().length).toBe(calls); // and the daemon did not even read the table
    // The same daemon told to read back every second (a reload: it reads the table then, and repairs).
    writeFileSync(r.cfg, `readbackinterval=1\n${readFileSync(r.cfg, 'utf8')}`);
    process.kill(pid, 'SIGHUP');
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3']), 15_000, 'repaired by the reload');
    // Now without a reload or any change of the checks: the next read back puts the real back.
    expect(admin(['-d', '-t', `127.0.0.1:${port}`, '-r', `127.0.0.3:${port}`]).status).toBe(0);
    expect(r.up().join()).toBe(want(['127.0.0.2']));
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3']), 10_000, 'the deleted real put back by the read back');
    expect(alive(pid)).toBe(true);
  });
});
