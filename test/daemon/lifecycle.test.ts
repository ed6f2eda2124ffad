// The daemon's lifecycle through the built command, run by a launcher that passes a scripted parser and
// director (test/daemon/scripted/), so that only the daemon's own behaviour is under test: pid files, detaching, signals, reload,
// autoreload, callback, execute and the log lines.
import { describe, it, expect, beforeAll, beforeEach, afterEach } from 'vitest';
import { writeFileSync, existsSync, chmodSync, readFileSync, renameSync, utimesSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../support/net.js';
import { processBudgetMs } from '../support/load.js';
import { build, ld as ldWith, tmp, until, read, alive, killPidFile, SCRIPTED_BIN, have, type RunResult } from '../cli/helpers.js';

/** The command under test: the real one over scripted parts. */
const BIN = SCRIPTED_BIN;
const ld = (args: string[], o: { cwd: string; env?: Record<string, string | undefined> }): Promise<RunResult> => ldWith(args, { ...o, bin: BIN });

let dir: string;
let env: Record<string, string>;
const pidOf = (name: string) => join(dir, `ldirectord.${name}.pid`);

function cfg(name: string, body: string): string {
  writeFileSync(join(dir, name), body);
  return name;
}

beforeAll(() => build());
beforeEach(() => {
  dir = tmp();
  env = { LDIRECTORD_RUNDIR: dir };
});
afterEach(() => {
  for (const n of ['a.cf', 'b.cf', 'sub.cf', 'main.cf']) killPidFile(pidOf(n));
});

const base = (log: string, extra = '') => `logfile="${log}"\ncheckinterval=1\n${extra}virtual=10.0.0.1:80\n    real=10.0.0.2:80 gate\n`;

describe('start, status, stop of a detached daemon', () => {
  it('start writes the pid file before returning, status sees it, a second start is silent, stop removes it', async () => {
    const log = join(dir, 'ld.log');
    cfg('a.cf', base(log));
    let r = await ld(['./a.cf', 'status'], { cwd: dir, env });
    expect(r).toMatchObject({ code: 3, stdout: 'ldirectord is stopped for ./a.cf\n', stderr: '' });

    r = await ld(['./a.cf', 'start'], { cwd: dir, env });
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const pid = Number(read(pidOf('a.cf')));
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(true);

    // The OCF agent's fallback: pgrep -f "<ldirectord path> <config> start".
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
    expect(cmdline).toContain(`${BIN} ./a.cf start`);
    if (have('pgrep')) {
      const pg = spawnSync('pgrep', ['-f', `${BIN} ./a.cf start`], { encoding: 'utf8' });
      expect(pg.stdout.split('\n').map(Number)).toContain(pid);
    }

    r = await ld(['./a.cf', 'status'], { cwd: dir, env });
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: `ldirectord for ./a.cf is running with pid: ${pid}\n` });

    r = await ld(['./a.cf', 'start'], { cwd: dir, env });
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(Number(read(pidOf('a.cf')))).toBe(pid);

    await until(() => read(log).includes('fake director: start tcp:10.0.0.1:80'), 10_000, 'director start');
    r = await ld(['./a.cf', 'stop'], { cwd: dir, env });
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    await until(() => !existsSync(pidOf('a.cf')) && !alive(pid), 10_000, 'daemon gone');
    const text = read(log);
    expect(text).toMatch(/^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\|a\.cf\|\d+\] Invoking ldirectord invoked as: .*ldirectord\.js \.\/a\.cf start $/m);
    expect(text).toContain(`|a.cf|${pid}] fake director: stop`);
    expect(text).toContain(`|a.cf|${pid}] Linux Director Daemon terminated on signal: TERM`);
    expect(text).toContain('Starting Linux Director v1.186-ha as daemon');
  });

  it('SIGINT stops too; restart replaces the daemon; try-restart of a stopped one does nothing', async () => {
    const log = join(dir, 'ld.log');
    cfg('a.cf', base(log));
    expect((await ld(['./a.cf', 'try-restart'], { cwd: dir, env })).code).toBe(0);
    expect(existsSync(pidOf('a.cf'))).toBe(false);
    expect((await ld(['./a.cf', 'start'], { cwd: dir, env })).code).toBe(0);
    const pid1 = Number(read(pidOf('a.cf')));
    const r = await ld(['./a.cf', 'restart'], { cwd: dir, env });
    expect(r.code).toBe(0);
    const pid2 = Number(read(pidOf('a.cf')));
    expect(pid2).not.toBe(pid1);
    expect(alive(pid2)).toBe(true);
    await until(() => !alive(pid1), 5000, 'old daemon gone');
    process.kill(pid2, 'SIGINT');
    await until(() => !existsSync(pidOf('a.cf')) && !alive(pid2), 10_000, 'daemon gone on INT');
    expect(read(log)).toContain(`|a.cf|${pid2}] Linux Director Daemon terminated on signal: INT`);
  });
});

describe('pid file states', () => {
  it('stale (dead pid), foreign (live pid that is not ldirectord) and empty pid files', async () => {
    cfg('a.cf', base(join(dir, 'ld.log')));
    writeFileSync(pidOf('a.cf'), '999999\n');
    let r = await ld(['./a.cf', 'status'], { cwd: dir, env });
    expect(r).toEqual({ code: 1, stdout: 'ldirectord is stopped for ./a.cf\n', stderr: `ldirectord stale pid file ${pidOf('a.cf')} for ./a.cf\n` });

    const foreign = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(pidOf('a.cf'), `${foreign.pid}\n`);
      r = await ld(['./a.cf', 'status'], { cwd: dir, env });
      expect(r.code).toBe(1);
      // stop must not signal a process that is not ldirectord
      r = await ld(['./a.cf', 'stop'], { cwd: dir, env });
      expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(alive(foreign.pid!)).toBe(true);
      r = await ld(['./a.cf', 'reload'], { cwd: dir, env });
      expect(r).toEqual({ code: 1, stdout: '', stderr: '' });
    } finally {
      foreign.kill();
    }

    writeFileSync(pidOf('a.cf'), '');
    r = await ld(['./a.cf', 'status'], { cwd: dir, env });
    expect(r.code).toBe(3);

    // start over a stale pid file takes it over
    writeFileSync(pidOf('a.cf'), '999999\n');
    r = await ld(['./a.cf', 'start'], { cwd: dir, env });
    expect(r.code).toBe(0);
    const pid = Number(read(pidOf('a.cf')));
    expect(pid).not.toBe(999999);
    expect(alive(pid)).toBe(true);
  });

  it('an unwritable pid directory fails the start with "Can not open" and status 1', async () => {
    cfg('a.cf', base(join(dir, 'ld.log')));
    const r = await ld(['./a.cf', 'start'], { cwd: dir, env: { ...env, LDIRECTORD_RUNDIR: join(dir, 'missing') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Can not open ${join(dir, 'missing')}/ldirectord.a.cf.pid\n`);
  });

  it("a failure in the daemon child is reported by start with the child's message and status", async () => {
    cfg('a.cf', base(join(dir, 'ld.log')));
    const r = await ld(['./a.cf', 'start'], { cwd: dir, env: { ...env, LDIRECTORD_FAKE_FAIL_CHILD: '1' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('./a.cf:7: scripted failure in the daemon child');
    expect(existsSync(pidOf('a.cf'))).toBe(false);
  });
});

describe('config errors', () => {
  it('exit 2 with FILE:LINE, no pid file at start; a running daemon keeps its pid file', async () => {
    const log = join(dir, 'ld.log');
    cfg('a.cf', base(log));
    cfg('bad.cf', `logfile="${log}"\nbogus=1\n`);
    let r = await ld(['./bad.cf', 'start'], { cwd: dir, env });
    expect(r).toEqual({ code: 2, stdout: '', stderr: './bad.cf:2: Unknown command bogus=1\n' });
    expect(existsSync(pidOf('bad.cf'))).toBe(false);

    expect((await ld(['./a.cf', 'start'], { cwd: dir, env })).code).toBe(0);
    const pid = Number(read(pidOf('a.cf')));
    writeFileSync(join(dir, 'a.cf'), base(log) + 'bogus=2\n');
    for (const c of ['status', 'stop', 'reload']) {
      r = await ld(['./a.cf', c], { cwd: dir, env });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('./a.cf:5: Unknown command bogus=2\n');
      // The original deletes the pid file here and orphans the daemon; we keep it.
      expect(read(pidOf('a.cf'))).toBe(`${pid}\n`);
      expect(alive(pid)).toBe(true);
    }
  });

  it('a stale pid file is removed on a config error', async () => {
    cfg('bad.cf', 'bogus=1\n');
    writeFileSync(pidOf('bad.cf'), '999999\n');
    const r = await ld(['-d', './bad.cf', 'status'], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(existsSync(pidOf('bad.cf'))).toBe(false);
  });
});

describe('reload', () => {
  it('HUP reloads a good config, logs a bad one with FILE:LINE and keeps running', async () => {
    const log = join(dir, 'ld.log');
    cfg('a.cf', base(log));
    // One fixed mtime until the reload, so that the daemon's once-a-second file check cannot see the new
    // content before the HUP does (however long `ldirectord reload` takes to start on a loaded machine).
    const fixed = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    utimesSync(join(dir, 'a.cf'), fixed, fixed);
    expect((await ld(['./a.cf', 'start'], { cwd: dir, env })).code).toBe(0);
    const pid = Number(read(pidOf('a.cf')));
    await until(() => read(log).includes('fake director: start'), 10_000, 'start');

    // The new text keeps the file's time (the fixed one: whole seconds, so it is set back exactly), so the
    // daemon's own file check (every checkinterval) cannot see it before the HUP does: on a busy machine
    // `ldirectord reload` takes seconds to start, and that check would log "has changed on disk" first.
    writeFileSync(join(dir, 'a.cf'), base(log) + 'virtual=10.0.0.9:80\n    real=10.0.0.2:80 gate\n');
    utimesSync(join(dir, 'a.cf'), fixed, fixed);
    expect((await ld(['./a.cf', 'reload'], { cwd: dir, env })).code).toBe(0);
    await until(() => read(log).includes('fake director: reload tcp:10.0.0.1:80,tcp:10.0.0.9:80'), 10_000, 'reload');
    expect(read(log)).toContain(`|a.cf|${pid}] Reloading Linux Director Daemon config on signal`);
    // The reload read the file: the file check that follows notes nothing (the original's read_config
    // forgets the file's checksum and time, so its next check_cfgfile only records them). The new mtime
    // makes that check hash the file: a daemon still holding the old checksum would say it changed.
    const now = new Date();
    utimesSync(join(dir, 'a.cf'), now, now);
    await new Promise((r) => setTimeout(r, 2500));
    expect(read(log)).not.toContain('has changed on disk');

    writeFileSync(join(dir, 'a.cf'), base(log) + 'bogus=3\n');
    process.kill(pid, 'SIGHUP');
    await until(() => read(log).includes('bogus=3'), 10_000, 'bad reload logged');
    expect(read(log)).toMatch(/Error \[\d+\] .*a\.cf:5: Unknown command bogus=3 \(the running configuration is kept\)/);
    expect(read(log).match(/fake director: reload/g)).toHaveLength(1);
    expect(alive(pid)).toBe(true);
    const r = await ld(['./a.cf', 'stop'], { cwd: dir, env });
    expect(r.code).toBe(2); // the file on disk is bad now
    process.kill(pid, 'SIGTERM');
    await until(() => !alive(pid), 10_000, 'stopped');
  });

  it('after logrotate moves the logfile, HUP and later lines go to a new file at the configured path', async () => {
    const log = join(dir, 'ld.log');
    cfg('a.cf', base(log));
    expect((await ld(['./a.cf', 'start'], { cwd: dir, env })).code).toBe(0);
    const pid = Number(read(pidOf('a.cf')));
    await until(() => read(log).includes('fake director: start'), 10_000, 'start');
    renameSync(log, `${log}.1`);
    process.kill(pid, 'SIGHUP');
    await until(() => read(log).includes('Reloading Linux Director Daemon config on signal'), 10_000, 'line in the new file');
    expect(read(`${log}.1`)).not.toContain('Reloading');
    expect(read(log)).toContain('fake director: reload');
  });

  it('autoreload=yes rereads a changed file and runs the callback with the config path', async () => {
    const log = join(dir, 'ld.log');
    const cbOut = join(dir, 'cb.out');
    const cb = join(dir, 'cb.sh');
    writeFileSync(cb, `#!/bin/sh\necho "$@" >> ${cbOut}\n`);
    chmodSync(cb, 0o755);
    cfg('a.cf', base(log, `autoreload=yes\ncallback="${cb}"\n`));
    expect((await ld(['./a.cf', 'start'], { cwd: dir, env })).code).toBe(0);
    await until(() => read(log).includes('fake director: start'), 10_000, 'start');
    await new Promise((r) => setTimeout(r, 1200));
    writeFileSync(join(dir, 'a.cf'), base(log, `autoreload=yes\ncallback="${cb}"\n`) + 'virtual=10.0.0.7:80\n    real=10.0.0.2:80 gate\n');
    await until(() => read(log).includes('fake director: reload tcp:10.0.0.1:80,tcp:10.0.0.7:80'), 10_000, 'autoreload');
    const text = read(log);
    // The daemon has left the invoking directory; it names the config as the lookup resolved it.
    expect(text).toContain("Configuration file './a.cf' has changed on disk");
    expect(text).toContain(' - reread new configuration');
    await until(() => read(cbOut) !== '', 5000, 'callback');
    expect(read(cbOut)).toBe('./a.cf\n');
  });

  it('autoreload=no only notes the change (and still runs the callback)', async () => {
    const log = join(dir, 'ld.log');
    const cbOut = join(dir, 'cb.out');
    const cb = join(dir, 'cb.sh');
    writeFileSync(cb, `#!/bin/sh\necho "$@" >> ${cbOut}\n`);
    chmodSync(cb, 0o755);
    cfg('a.cf', base(log, `callback="${cb}"\n`));
    expect((await ld(['./a.cf', 'start'], { cwd: dir, env })).code).toBe(0);
    await until(() => read(log).includes('fake director: start'), 10_000, 'start');
    await new Promise((r) => setTimeout(r, 1200));
    writeFileSync(join(dir, 'a.cf'), base(log, `callback="${cb}"\n`) + '# changed\n');
    await until(() => read(log).includes(' - ignore new configuration'), 10_000, 'change noticed');
    await until(() => read(cbOut) !== '', 5000, 'callback');
    expect(read(log)).not.toContain('fake director: reload');
  });
});

describe('execute=', () => {
  it('starts, reports and stops the other named instances with this one', async () => {
    const log = join(dir, 'ld.log');
    const sublog = join(dir, 'sub.log');
    cfg('sub.cf', base(sublog));
    cfg('main.cf', base(log, `execute=${join(dir, 'sub.cf')}\n`));
    expect((await ld(['./main.cf', 'start'], { cwd: dir, env })).code).toBe(0);
    await until(() => existsSync(pidOf('sub.cf')), 10_000, 'sub instance started');
    const subPid = Number(read(pidOf('sub.cf')));
    expect(alive(subPid)).toBe(true);

    const r = await ld(['./main.cf', 'status'], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`ldirectord for ./main.cf is running with pid: ${Number(read(pidOf('main.cf')))}\n`);
    expect(r.stderr).toContain(`ldirectord for ${join(dir, 'sub.cf')} is running with pid: ${subPid}\n`);

    expect((await ld(['./main.cf', 'stop'], { cwd: dir, env })).code).toBe(0);
    await until(() => !alive(subPid) && !existsSync(pidOf('sub.cf')), 10_000, 'sub instance stopped');
  });
});

describe('observability wiring', () => {
  it('LDIRECTORD_METRICS serves the Prometheus text of the running daemon', async () => {
    cfg('a.cf', base(join(dir, 'ld.log')));
    const port = await freePort();
    const e = { ...env, LDIRECTORD_METRICS: `127.0.0.1:${port}` };
    expect((await ld(['./a.cf', 'start'], { cwd: dir, env: e })).code).toBe(0);
    await until(() => read(join(dir, 'ld.log')).includes('Serving metrics'), 10_000, 'metrics server');
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^# TYPE \w+ (gauge|counter)$/m);
    expect((await ld(['./a.cf', 'stop'], { cwd: dir, env: e })).code).toBe(0);
  });
});

describe('foreground modes and log targets', () => {
  it('-d logs to stderr and writes no pid file; TERM ends it with status 0', async () => {
    cfg('a.cf', base(join(dir, 'never.log')));
    const child = spawn(process.execPath, [BIN, '-d', './a.cf', 'start'], { cwd: dir, env: { ...process.env, ...env } });
    let errText = '';
    child.stderr.on('data', (d) => (errText += d));
    await until(() => errText.includes('fake director: start'), 10_000, 'foreground start');
    expect(errText).toMatch(/^Starting Linux Director v1\.186-ha with pid: \d+$/m);
    expect(existsSync(pidOf('a.cf'))).toBe(false);
    const code = new Promise((r) => child.on('exit', (c) => r(c)));
    child.kill('SIGTERM');
    expect(await code).toBe(0);
    expect(errText).toContain('Linux Director Daemon terminated on signal: TERM');
    expect(existsSync(join(dir, 'never.log'))).toBe(false);
  });

  it('supervised=yes logs to stdout as "[<localtime>] msg" in the foreground', async () => {
    cfg('a.cf', base(join(dir, 'never.log'), 'supervised=yes\n'));
    const child = spawn(process.execPath, [BIN, './a.cf', 'start'], { cwd: dir, env: { ...process.env, ...env } });
    let outText = '';
    child.stdout.on('data', (d) => (outText += d));
    await until(() => outText.includes('fake director: start'), 10_000, 'supervised start');
    expect(outText).toMatch(/^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] Starting Linux Director v1\.186-ha with pid: \d+$/m);
    const code = new Promise((r) => child.on('exit', (c) => r(c)));
    child.kill('SIGTERM');
    expect(await code).toBe(0);
  });

  describe.skipIf(!have('python3') || !have('logger'))('syslog', () => {
    it('logfile="local0" sends RFC 3164 datagrams tagged ldirectord[pid] to the syslog socket', async () => {
      const sock = join(dir, 'log.sock');
      const listener = spawn('python3', ['-c', `
import socket,sys
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.bind(sys.argv[1])
print("ready",flush=True)
while True: print(s.recv(65536).decode(),flush=True)
`, sock]);
      let got = '';
      listener.stdout.on('data', (d) => (got += d));
      // Every line reaches the socket through a `logger` helper of the process that logged it (the start
      // command's, the daemon's), then the listener's pipe: on a loaded machine they arrive late, in
      // either order, a line possibly in two reads. So each wait is for whole lines, bounded by the
      // processes it waits on (test/support/load.ts); when it runs out, the lines missing are named.
      const lines = (ms: number, ...res: RegExp[]) =>
        until(() => res.every((re) => re.test(got)), ms, 'syslog lines').catch(() => {
          for (const re of res) expect(got).toMatch(re);
        });
      try {
        await until(() => got.includes('ready\n'), processBudgetMs(1, 5000), 'listener');
        cfg('a.cf', base('local0'));
        const e = { ...env, LDIRECTORD_SYSLOG_SOCKET: sock };
        expect((await ld(['./a.cf', 'start'], { cwd: dir, env: e })).code).toBe(0);
        const pid = Number(read(pidOf('a.cf')));
        // local0.info = 16*8+6 = 134
        await lines(
          processBudgetMs(4, 10_000),
          new RegExp(`^<134>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d ldirectord\\[${pid}\\]: fake director: start tcp:10.0.0.1:80\\n`, 'm'),
          /^<134>.* ldirectord\[\d+\]: Starting Linux Director v1\.186-ha as daemon\n/m,
        );
        expect((await ld(['./a.cf', 'stop'], { cwd: dir, env: e })).code).toBe(0);
        await lines(processBudgetMs(2, 10_000), new RegExp(`^<134>.* ldirectord\\[${pid}\\]: Linux Director Daemon terminated on signal: TERM\\n`, 'm'));
      } finally {
        listener.kill();
      }
    });
  });
});
