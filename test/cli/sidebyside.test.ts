// The command-line contract side by side with the Perl original (/usr/sbin/ldirectord): stdout, stderr,
// exit status and log lines of every command in every state that can be set up without a running
// daemon (a "running" daemon is a process whose cmdline contains "ldirectord", the original's test).
// The original's pid directory is fixed at /var/run, so its config names are unique to this run.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFileSync, rmSync, existsSync, accessSync, constants } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { execa } from 'execa';
import { build, ld, tmp, read, type RunResult } from './helpers.js';

const ORIGINAL = '/usr/sbin/ldirectord';
function varRunWritable(): boolean {
  try {
    accessSync('/var/run', constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
const originalWorks = existsSync(ORIGINAL) && spawnSync(ORIGINAL, ['-v']).status === 0 && varRunWritable();
if (!originalWorks) console.warn(`side-by-side tests skipped: the original ${ORIGINAL} is not installed or does not run, or /var/run (its fixed pid directory) is not writable`);

let dir: string;
let rundir: string;
const NAME = `ldts-sbs-${process.pid}.cf`;
const BAD = `ldts-sbs-${process.pid}-bad.cf`;
const origPid = (n: string) => `/var/run/ldirectord.${n}.pid`;
const oursPid = (n: string) => join(rundir, `ldirectord.${n}.pid`);
const logPath = () => join(dir, 'sbs.log');

async function original(args: string[]): Promise<RunResult> {
  const r = await execa(ORIGINAL, args, { cwd: dir, reject: false, stripFinalNewline: false, stdin: 'ignore', timeout: 30_000 });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Runs one side and returns its result with the pid-file directory, pids and the log lines it wrote. */
async function side(which: 'original' | 'ours', args: string[]): Promise<RunResult & { log: string[] }> {
  const before = read(logPath()).length;
  const r = which === 'original' ? await original(args) : await ld(args, { cwd: dir, env: { LDIRECTORD_RUNDIR: rundir } });
  const norm = (s: string) =>
    s
      .replaceAll(rundir, '<RUNDIR>')
      .replaceAll('/var/run', '<RUNDIR>')
      .replace(/Error \[\d+\] reading file (\S+) at line (\d+): /g, '$1:$2: ');
  const log = read(logPath())
    .slice(before)
    .split('\n')
    .filter(Boolean)
    .map((l) => norm(l.replace(/^\[[^\]|]+\|([^|]+)\|\d+\] /, '[$1] ').replace(/invoked as: \S+ /, 'invoked as: <SELF> ')));
  return { code: r.code, stdout: norm(r.stdout), stderr: norm(r.stderr), log };
}

async function both(args: string[], setup?: () => void) {
  setup?.();
  const o = await side('original', args);
  setup?.();
  const u = await side('ours', args);
  return { o, u };
}

/** A process the original's test takes for a running ldirectord. */
function fakeDaemon(): ChildProcess {
  return spawn('bash', ['-c', 'exec -a ldirectord-fake-daemon sleep 60'], { stdio: 'ignore' });
}

describe.skipIf(!originalWorks)('command line side by side with the original', () => {
  beforeAll(() => {
    build();
    dir = tmp('ldts-sbs-');
    rundir = join(dir, 'run');
    spawnSync('mkdir', ['-p', rundir]);
    writeFileSync(join(dir, NAME), `logfile="${logPath()}"\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n`);
    writeFileSync(join(dir, BAD), `logfile="${logPath()}"\nbogus=1\n`);
  });
  afterAll(() => {
    for (const n of [NAME, BAD]) rmSync(origPid(n), { force: true });
  });

  const clear = () => {
    rmSync(origPid(NAME), { force: true });
    rmSync(oursPid(NAME), { force: true });
  };
  const stale = () => {
    writeFileSync(origPid(NAME), '999999\n');
    writeFileSync(oursPid(NAME), '999999\n');
  };

  for (const cmd of ['status', 'stop', 'reload', 'force-reload', 'try-restart']) {
    it(`${cmd} with no daemon`, async () => {
      const { o, u } = await both([`./${NAME}`, cmd], clear);
      expect(u).toEqual(o);
    });
    it(`${cmd} with a stale pid file`, async () => {
      const { o, u } = await both([`./${NAME}`, cmd], stale);
      expect(u).toEqual(o);
      clear();
    });
  }

  for (const cmd of ['status', 'start', 'reload', 'force-reload', 'stop']) {
    it(`${cmd} with a running daemon`, async () => {
      const results = [];
      for (const which of ['original', 'ours'] as const) {
        const fake = fakeDaemon();
        await new Promise((r) => setTimeout(r, 100));
        writeFileSync(which === 'original' ? origPid(NAME) : oursPid(NAME), `${fake.pid}\n`);
        const gone = new Promise<string | null>((r) => fake.on('exit', (_c, s) => r(s)));
        const r = await side(which, [`./${NAME}`, cmd]);
        const pidText = String(fake.pid);
        // The signal the command sent (TERM for stop, HUP for reload), or none.
        const sig = await Promise.race([gone, new Promise<string>((r) => setTimeout(() => r('none'), 500))]);
        fake.kill('SIGKILL');
        results.push({ ...r, stderr: r.stderr.replaceAll(pidText, '<PID>'), log: r.log.map((l) => l.replaceAll(pidText, '<PID>')), sig });
      }
      clear();
      expect(results[1]).toEqual(results[0]);
    });
  }

  it('a config error: status 2, nothing on stdout, the error with its line on stderr', async () => {
    const { o, u } = await both([`./${BAD}`, 'status']);
    expect(u.code).toBe(2);
    expect(u.code).toBe(o.code);
    expect(u.stdout).toBe(o.stdout);
    expect(o.stderr.trim()).toBe(`./${BAD}:2: Unknown command bogus=1`);
    // Same FILE:LINE (the original says "reading file F at line N"); the wording is the parser's.
    expect(u.stderr.startsWith(`./${BAD}:2: `)).toBe(true);
    expect(u.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a config that is not found', async () => {
    const { o, u } = await both(['./nonexistent.cf', 'status']);
    expect(u.code).toBe(1);
    expect({ code: u.code, stdout: u.stdout, stderr: u.stderr }).toEqual({ code: o.code, stdout: o.stdout, stderr: o.stderr });
  });

  for (const args of [[], ['bogus'], [`./${NAME}`, 'bogus'], [`./${NAME}`, '-d', 'start'], ['-x', 'status'], ['--nope']]) {
    it(`usage for: ldirectord ${args.join(' ')}`, async () => {
      const o = await original(args);
      const u = await ld(args, { cwd: dir, env: { LDIRECTORD_RUNDIR: rundir } });
      expect(u.code).toBe(255);
      expect(u.code).toBe(o.code);
      expect(u.stderr).toBe(o.stderr);
      // Same synopsis line; the rest of the text is our own.
      const first = (s: string) => s.split('\n').slice(0, 3).join('\n');
      expect(first(u.stdout)).toBe(first(o.stdout));
    });
  }

  it('-v prints the same version line, status 0', async () => {
    const o = await original(['-v']);
    const u = await ld(['-v'], { cwd: dir });
    expect(u.code).toBe(0);
    expect(o.code).toBe(0);
    expect(u.stdout.split('\n')[0]).toBe(o.stdout.split('\n')[0]);
  });
});
