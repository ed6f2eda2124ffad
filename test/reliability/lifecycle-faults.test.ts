/**
 * Lifecycle faults with the real command: SIGKILL then start over the existing table (no healthy real
 * removed and re-added), 100 HUPs, stale and foreign pid files, the config file removed while running,
 * the log's disk full.
 */
import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { appendFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type net from 'node:net';
import { Rig, alive, build, closeServer, daemonSkipReason, freePort, skipNote, sleep, tcpListen, until } from './helpers.js';

const reason = daemonSkipReason();
const skip = skipNote('lifecycle fault tests (daemon)', reason);

/** A process that is surely not ldirectord. */
function foreign(): ChildProcess {
  return spawn('sleep', ['300'], { stdio: 'ignore' });
}

describe('foreign pid file (no daemon needed)', () => {
  beforeAll(() => build());
  it('stop and status never signal a foreign process named by the pid file', async () => {
    const r = new Rig('f.cf');
    const victim = foreign();
    try {
      writeFileSync(r.cfg, `checktimeout=1\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n`);
      writeFileSync(r.pidFile, `${victim.pid}\n`);
      const st = await r.run(['status']);
      expect(st.code).not.toBe(0); // not running: a sleep is not ldirectord
      await r.run(['stop']);
      await sleep(300);
      expect(alive(victim.pid!)).toBe(true);
    } finally {
      victim.kill('SIGKILL');
      r.cleanup();
    }
  });
});

describe.skipIf(skip)('lifecycle faults through the daemon', () => {
  let rig: Rig | undefined;
  const servers: net.Server[] = [];
  let port = 0;
  let mounted: string | undefined;
  beforeAll(() => build());
  afterEach(async () => {
    const pid = rig?.pid() ?? 0;
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
    if (mounted) spawnSync('umount', ['-l', mounted]);
    mounted = undefined;
    rig?.cleanup();
    rig = undefined;
    await Promise.all(servers.splice(0).map(closeServer));
  });

  async function setup(logfile?: string): Promise<Rig> {
    port = await freePort();
    for (const ip of ['127.0.0.2', '127.0.0.3']) servers.push(await tcpListen(ip, port));
    const r = new Rig();
    rig = r;
    writeFileSync(r.cfg, config(r, logfile));
    return r;
  }
  const config = (r: Rig, logfile = r.log, reals = ['127.0.0.2', '127.0.0.3', '127.0.0.4']) =>
    `logfile="${logfile}"\ncheckinterval=1\nchecktimeout=1\nnegotiatetimeout=1\n` +
    `virtual=127.0.0.1:${port}\n` +
    reals.map((ip) => `\treal=${ip}:${port} gate\n`).join('') +
    `\tchecktype=connect\n\tquiescent=no\n`;
  const want = (ips: string[]) => ips.map((ip) => `127.0.0.1:${port}>${ip}:${port}`).join(',');
  const healthyTouched = (lines: string[]) =>
    lines.filter((l) => /(^|\s)-[daDC](\s|$)/.test(l) && (/127\.0\.0\.[23]:/.test(l) || /-[DC]/.test(l)));

  it('SIGKILL, then start over the existing table: no healthy real is removed and re-added', async () => {
    const r = await setup();
    const pid = await r.start();
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3']), 20_000, 'initial table');
    process.kill(pid, 'SIGKILL');
    await until(() => !alive(pid), 5000, 'daemon killed');
    const mark = r.invocations().length;
    // Watch the table continuously across the restart: the healthy reals must never leave it.
    let gap = '';
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const up = r.up().join();
        if (!up.includes(`127.0.0.2:${port}`) || !up.includes(`127.0.0.3:${port}`)) gap ||= up;
        await sleep(20);
      }
    })();
    const pid2 = await r.start(); // over a stale pid file
    expect(pid2).not.toBe(pid);
    await sleep(4000);
    watching = false;
    await watcher;
    expect(gap, 'healthy reals missing from the table during the restart').toBe('');
    const lines = r.invocations().slice(mark).flatMap((i) => [i.argv.join(' '), ...(i.stdin ?? '').split('\n')]);
    expect(healthyTouched(lines)).toEqual([]);
    expect(r.up().join()).toBe(want(['127.0.0.2', '127.0.0.3']));
  });

  it('a stale pid file (dead pid) does not stop start; the new pid is written', async () => {
    const r = await setup();
    const dead = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
    writeFileSync(r.pidFile, `${dead}\n`);
    const pid = await r.start();
    expect(String(pid)).not.toBe(dead);
    expect(alive(pid)).toBe(true);
  });

  it('a foreign pid file: start goes ahead, the foreign process is left alone', async () => {
    const r = await setup();
    const victim = foreign();
    try {
      writeFileSync(r.pidFile, `${victim.pid}\n`);
      const pid = await r.start();
      expect(pid).not.toBe(victim.pid);
      await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3']), 20_000, 'table');
      expect((await r.run(['stop'])).code).toBe(0);
      await until(() => !alive(pid), 10_000, 'stopped');
      expect(alive(victim.pid!)).toBe(true);
    } finally {
      victim.kill('SIGKILL');
    }
  });

  it('reload storm: 100 HUPs leave it running with the right table', async () => {
    const r = await setup();
    const pid = await r.start();
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3']), 20_000, 'initial table');
    for (let i = 0; i < 100; i++) {
      process.kill(pid, 'SIGHUP');
      if (i === 50) writeFileSync(r.cfg, config(r, r.log, ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'])); // a real change mid-storm
      await sleep(5);
    }
    servers.push(await tcpListen('127.0.0.5', port));
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3', '127.0.0.5']), 30_000, 'table after the storm');
    expect(alive(pid)).toBe(true);
    expect(r.logText().match(/Reloading/g)?.length ?? 0).toBeGreaterThan(1);
    expect((await r.run(['status'])).code).toBe(0);
  });

  it('config file removed while running: reload logs an error and keeps the running config', async () => {
    const r = await setup();
    const pid = await r.start();
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3']), 20_000, 'initial table');
    renameSync(r.cfg, `${r.cfg}.away`);
    const mark = r.logText().length;
    process.kill(pid, 'SIGHUP');
    await until(() => /can not open|no such file|ENOENT/i.test(r.logText().slice(mark)), 10_000, 'error logged');
    expect(r.logText().slice(mark)).toContain(r.cfg);
    // Still checking with the old config: a real going up is still applied.
    servers.push(await tcpListen('127.0.0.4', port));
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3', '127.0.0.4']), 20_000, 'old config still in force');
    expect(alive(pid)).toBe(true);
  });

  it('disk full for the log: the daemon stays alive and keeps the table right', async () => {
    port = await freePort();
    const r = new Rig();
    rig = r;
    const fs = join(r.dir, 'logfs');
    mkdirSync(fs);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', fs]);
    if (m.status !== 0) {
      console.warn(`disk-full test skipped: cannot mount a tmpfs (${m.stderr.toString().trim()})`);
      return;
    }
    mounted = fs;
    const logfile = join(fs, 'ld.log');
    for (const ip of ['127.0.0.2', '127.0.0.3']) servers.push(await tcpListen(ip, port));
    writeFileSync(r.cfg, config(r, logfile));
    const pid = await r.start();
    await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3']), 20_000, 'initial table');
    // Fill the filesystem.
    try {
      for (;;) appendFileSync(join(fs, 'filler'), Buffer.alloc(4096, 'f'));
    } catch {
      /* ENOSPC */
    }
    // Flap a real so that the daemon has things to log, onto a full disk.
    for (let i = 0; i < 3; i++) {
      await closeServer(servers.pop());
      await until(() => r.up().join() === want(['127.0.0.2']), 20_000, 'real down applied with the disk full');
      servers.push(await tcpListen('127.0.0.3', port));
      await until(() => r.up().join() === want(['127.0.0.2', '127.0.0.3']), 20_000, 'real up applied with the disk full');
    }
    expect(alive(pid)).toBe(true);
    rmSync(join(fs, 'filler'));
  });
});
