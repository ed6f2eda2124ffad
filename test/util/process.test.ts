// The one process runner (src/util/process.ts): no shell, a timeout that kills the whole process group,
// and no hang when a grandchild keeps the output pipe open after the program itself has exited.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processRunner } from '../../src/util/process.js';
import { until } from '../cli/helpers.js';

/** The process exists and is not a zombie waiting for its (re)parent to reap it. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const leftovers: number[] = [];
let dir: string | undefined;
afterEach(() => {
  for (const pid of leftovers.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function pidIn(file: string): number {
  return Number(readFileSync(file, 'utf8').trim());
}

describe('processRunner', () => {
  it('a grandchild that keeps stdout open does not hold the caller once the program has exited', async () => {
    // sh exits at once; the background sleep inherits the pipe and would keep it open for 100 s.
    const r = await processRunner('sh', ['-c', 'sleep 100 & echo $!'], { timeoutMs: 60_000 });
    const grandchild = Number(r.stdout.trim());
    leftovers.push(grandchild);
    expect(r).toMatchObject({ exitCode: 0, signal: null, timedOut: false });
    expect(r.spawnError).toBeUndefined();
    expect(grandchild).toBeGreaterThan(0);
    // Returned while the grandchild still runs: the result did not wait for the pipe to close.
    expect(running(grandchild)).toBe(true);
  }, 20_000);

  it('on timeout the whole process group is killed, the grandchild holding the pipe included', async () => {
    dir = mkdtempSync(join(tmpdir(), 'wiring-proc-'));
    const pidFile = join(dir, 'grandchild');
    const r = await processRunner('sh', ['-c', `sleep 100 & echo $! > ${pidFile}; echo started; wait`], { timeoutMs: 500 });
    const grandchild = pidIn(pidFile);
    leftovers.push(grandchild);
    expect(r).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: true });
    expect(r.spawnError).toBeUndefined();
    await until(() => !running(grandchild), 5000, 'grandchild killed with its group');
  }, 20_000);

  it('a group that ignores TERM gets KILL after the grace period', async () => {
    dir = mkdtempSync(join(tmpdir(), 'wiring-proc-'));
    const pidFile = join(dir, 'grandchild');
    const r = await processRunner('sh', ['-c', `trap '' TERM; sh -c 'trap "" TERM; sleep 100' & echo $! > ${pidFile}; wait`], { timeoutMs: 300 });
    const grandchild = pidIn(pidFile);
    leftovers.push(grandchild);
    expect(r).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: true });
    await until(() => !running(grandchild), 5000, 'grandchild killed with its group');
  }, 20_000);

  it('an abort kills the group as a timeout does', async () => {
    const ac = new AbortController();
    const p = processRunner('sleep', ['100'], { signal: ac.signal });
    ac.abort();
    expect(await p).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: true });
    const pre = new AbortController();
    pre.abort();
    expect(await processRunner('sleep', ['100'], { signal: pre.signal })).toMatchObject({ timedOut: true });
  }, 20_000);

  it('runs without a shell; exit status, output and input are passed through', async () => {
    dir = mkdtempSync(join(tmpdir(), 'wiring-proc-'));
    const r = await processRunner('echo', [`$(touch ${join(dir, 'pwned')})`, ';', 'x']);
    expect(r.stdout).toBe(`$(touch ${join(dir, 'pwned')}) ; x\n`);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
    expect(await processRunner('sh', ['-c', 'echo out; echo err >&2; exit 3'])).toMatchObject({ exitCode: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    expect(await processRunner('cat', [], { input: 'abc' })).toMatchObject({ exitCode: 0, stdout: 'abc' });
    const d = await processRunner('sh', ['-c', 'echo hidden'], { discardOutput: true });
    expect(d).toMatchObject({ exitCode: 0, stdout: '' });
  });

  it('a program that cannot be started is a spawnError, with the system message in osError', async () => {
    const r = await processRunner('/nonexistent/wiring-prog', ['a']);
    expect(r.exitCode).toBeNull();
    expect(r.timedOut).toBe(false);
    expect(r.spawnError).toContain('ENOENT');
    expect(r.osError).toBe('spawn /nonexistent/wiring-prog ENOENT');
  });

  it('env adds to the environment; an undefined value removes a variable', async () => {
    process.env.WIRING_PROC_TEST = 'inherited';
    try {
      const r = await processRunner('sh', ['-c', 'echo ${WIRING_PROC_TEST:-unset} ${WIRING_ADDED:-unset}'], { env: { WIRING_PROC_TEST: undefined, WIRING_ADDED: 'x' } });
      expect(r.stdout).toBe('unset x\n');
    } finally {
      delete process.env.WIRING_PROC_TEST;
    }
  });
});
