// Our additions to the command line (configtest, dump, show, -h), through the built command and the
// real parser.
import { describe, it, expect, beforeAll, beforeEach, afterEach } from 'vitest';
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { build, ld, tmp, until, read, killPidFile, SCRIPTED_BIN, ROOT } from './helpers.js';

let dir: string;
beforeAll(() => build());
beforeEach(() => {
  dir = tmp();
});

const good = (log: string) => `logfile="${log}"\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate 3\n\tservice=http\n`;

describe('configtest', () => {
  it('says "syntax OK" for a valid file, touches no pid file and needs no daemon', async () => {
    writeFileSync(join(dir, 'a.cf'), good(join(dir, 'ld.log')));
    const r = await ld(['./a.cf', 'configtest'], { cwd: dir, env: { LDIRECTORD_RUNDIR: dir } });
    expect(r).toEqual({ code: 0, stdout: 'syntax OK\n', stderr: '' });
    expect(existsSync(join(dir, 'ldirectord.a.cf.pid'))).toBe(false);
  });

  it('accepts the demo config', async () => {
    const r = await ld([join(ROOT, 'examples/demo.cf'), 'configtest'], { cwd: dir });
    expect(r.stdout).toBe('syntax OK\n');
    expect(r.code).toBe(0);
  });

  it('prints FILE:LINE: message on stderr and exits 2 for a bad file', async () => {
    writeFileSync(join(dir, 'bad.cf'), good(join(dir, 'ld.log')) + '\tscheduler=wrr\n\nautoreload=maybe\n');
    const r = await ld(['./bad.cf', 'configtest'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^\.\/bad\.cf:7: .+\n$/);
  });

  it('notes the mail settings the original treats otherwise than a config may mean, and our opt-ins in use', async () => {
    const base = (extra: string) => `logfile="${join(dir, 'ld.log')}"\nemailalert="ops@example.org, noc@example.org"\nsmtp=127.0.0.1:2525\n${extra}virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate 3\n\tservice=http\n`;
    writeFileSync(join(dir, 'm.cf'), base(''));
    let r = await ld(['./m.cf', 'configtest'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('syntax OK\n');
    expect(r.stderr).toContain('./m.cf:4: note: smtp=127.0.0.1:2525: the port is ignored and port 25 dialled, as by the Perl ldirectord; smtpuseport=yes dials it\n');
    expect(r.stderr).toContain('goes through smtp= as ONE recipient, as by the Perl ldirectord (most mail servers refuse it); emailalertsplit=yes sends to each address\n');
    writeFileSync(join(dir, 'm.cf'), base('emailalertsplit=yes\nsmtpuseport=yes\n'));
    r = await ld(['./m.cf', 'configtest'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      "./m.cf:6: note: emailalertsplit=yes (not the Perl ldirectord's behaviour): each address of emailalert is its own SMTP recipient\n" +
        "./m.cf:6: note: smtpuseport=yes (not the Perl ldirectord's behaviour): alerts dial 127.0.0.1:2525\n",
    );
  });

  it('explains the tuning directives (ours) with notes at FILE:LINE; bad values exit 2', async () => {
    writeFileSync(join(dir, 'k.cf'), `risecount=3\nmaxconcurrentchecks=4\n${good(join(dir, 'ld.log'))}\tslowstart=30\n\tcheckspread=yes\n`);
    const r = await ld(['./k.cf', 'configtest'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('syntax OK\n');
    const notes = r.stderr.trim().split('\n');
    expect(notes.map((l) => /^\.\/k\.cf:(\d+): note: (\w+) = /.exec(l)?.slice(1, 3).join(' '))).toEqual([
      '1 risecount',
      '2 maxconcurrentchecks',
      '7 slowstart',
      '8 checkspread',
    ]);
    const dump = JSON.parse((await ld(['./k.cf', 'dump'], { cwd: dir })).stdout);
    expect(dump.global).toMatchObject({ risecount: 3, maxconcurrentchecks: 4 });
    expect(dump.virtuals[0]).toMatchObject({ risecount: 3, slowstart: 30, checkspread: true });
    writeFileSync(join(dir, 'k.cf'), `${good(join(dir, 'ld.log'))}\tslowstart=soon\n`);
    const bad = await ld(['./k.cf', 'configtest'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^\.\/k\.cf:5: slowstart must be a whole number of seconds from 0 to 86400/);
  });

  it('a missing file: "Config file X not found", status 1', async () => {
    const r = await ld(['./none.cf', 'configtest'], { cwd: dir });
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'Config file ./none.cf not found\n' });
  });
});

describe('dump', () => {
  it('prints the resolved model as JSON, with defaults applied', async () => {
    writeFileSync(join(dir, 'a.cf'), good(join(dir, 'ld.log')));
    const r = await ld(['./a.cf', 'dump'], { cwd: dir });
    expect(r.code).toBe(0);
    const text = JSON.stringify(JSON.parse(r.stdout));
    expect(text).toContain('127.0.0.2');
    expect(text).toContain('wrr'); // the default scheduler
  });
});

describe('show', () => {
  // The real command over a scripted director (test/daemon/scripted/): show reads what the daemon wrote.
  const env = () => ({ LDIRECTORD_RUNDIR: dir });
  afterEach(() => killPidFile(join(dir, 'ldirectord.s.cf.pid')));

  it('reads the running daemon\'s state (--json for scripts) and says stopped otherwise', async () => {
    writeFileSync(join(dir, 's.cf'), `logfile="${join(dir, 'ld.log')}"\ncheckinterval=1\nvirtual=10.0.0.1:80\n    real=10.0.0.2:80 gate\n`);
    let r = await ld(['./s.cf', 'show'], { cwd: dir, env: env(), bin: SCRIPTED_BIN });
    expect(r).toEqual({ code: 3, stdout: 'ldirectord is stopped for ./s.cf\n', stderr: '' });
    expect((await ld(['./s.cf', 'start'], { cwd: dir, env: env(), bin: SCRIPTED_BIN })).code).toBe(0);
    const pid = Number(read(join(dir, 'ldirectord.s.cf.pid')));
    await until(() => existsSync(join(dir, 'ldirectord.s.cf.state.json')), 10_000, 'state file');
    await until(() => read(join(dir, 'ldirectord.s.cf.state.json')).includes('"running"'), 10_000, 'running state');
    r = await ld(['./s.cf', 'show', '--json'], { cwd: dir, env: env(), bin: SCRIPTED_BIN });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.pid).toBe(pid);
    expect(j.status).toBe('running');
    expect(j.virtuals.map((v: { virtual: string }) => v.virtual)).toEqual(['tcp:10.0.0.1:80']);
    r = await ld(['./s.cf', 'show'], { cwd: dir, env: env(), bin: SCRIPTED_BIN });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('tcp:10.0.0.1:80');
    expect((await ld(['./s.cf', 'stop'], { cwd: dir, env: env(), bin: SCRIPTED_BIN })).code).toBe(0);
    await until(() => !existsSync(join(dir, 'ldirectord.s.cf.pid')), 10_000, 'stopped');
    r = await ld(['./s.cf', 'show', '--json'], { cwd: dir, env: env(), bin: SCRIPTED_BIN });
    expect(r.code).toBe(3);
  });
});

describe('help', () => {
  it('-h prints the synopsis and exits 0', async () => {
    const r = await ld(['-h'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('SYNOPSIS');
    expect(r.stdout).toContain('ldirectord [-d|--debug] [--] [configfile]');
  });
});
