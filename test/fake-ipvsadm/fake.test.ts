import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTranscripts } from '../ipvs/transcripts.js';
import { processBudgetMs } from '../support/load.js';
import { FAKE_IPVSADM_SCRIPT, fakeList, fakeSave, installFakeIpvsadm, readFakeLog, readFakeTable } from './install.js';

function runAsync(bin: string, argv: readonly string[], input: string): Promise<{ stdout: string; stderr: string; status: number | null }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(bin, [...argv], { cwd: tmp });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolveRun({ stdout, stderr, status }));
    child.stdin.on('error', () => {}); // a command that does not read stdin may exit first
    child.stdin.end(input);
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'fake-ipvsadm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the fake ipvsadm executable reproduces the captured transcripts (stdout, stderr, exit status)', () => {
  const sessions = loadTranscripts();
  /** Sessions that run at once: all of them, at most vitest's maxConcurrency (5 by default). */
  const CONCURRENT = Math.min(sessions.length, 5);
  sessions.forEach((session, n) => {
    const dir = join(tmp, `t${n}`);
    const state = join(dir, 'state.json');
    const log = join(dir, 'log.jsonl');
    let bin = '';
    // The sessions run concurrently (each has its own state); steps within one run in order.
    // One fake process per step, one after the other: the bound is what that many process starts take
    // now, times the sessions starting theirs at the same time (the start time is measured alone, and
    // beside a CPU hog the concurrent sessions' starts share the same two cores).
    it.concurrent(`${session.name}: ${session.steps.length} commands`, { timeout: processBudgetMs(session.steps.length * CONCURRENT, 30_000) }, async () => {
      // The capture machine printed 127.0.0.1 as a number without -n: its hosts file named no address.
      writeFileSync(join(tmp, `hosts-${n}`), '');
      bin = installFakeIpvsadm(dir, { state, log, env: { FAKE_IPVSADM_HOSTS: join(tmp, `hosts-${n}`) } });
      for (const [i, step] of session.steps.entries()) {
        const r = await runAsync(bin, step.argv, step.stdin ?? '');
        expect({ i, cmd: step.cmd, stdout: r.stdout, stderr: r.stderr, rc: r.status }).toEqual({
          i, cmd: step.cmd, stdout: step.stdout, stderr: step.stderr, rc: step.rc,
        });
      }
      const entries = readFakeLog(log);
      expect(entries.length).toBe(session.steps.length);
      expect(entries.map((e) => e.exitCode)).toEqual(session.steps.map((s) => s.rc));
      const restore = entries.find((e) => e.argv[0] === '-R');
      if (restore) expect(restore.stdin).toBe(session.steps.find((s) => s.argv[0] === '-R')?.stdin);
    });
  });
});

describe('fake ipvsadm environment', () => {
  it('refuses to run without FAKE_IPVSADM_STATE, with a clear message', () => {
    const env = { ...process.env };
    delete env.FAKE_IPVSADM_STATE;
    const r = spawnSync(process.execPath, [FAKE_IPVSADM_SCRIPT, '-L', '-n'], { encoding: 'utf8', env });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('FAKE_IPVSADM_STATE is not set');
  });

  it('keeps its table in the state file; helpers read it as IpvsTable, -S -n and -L -n', () => {
    const dir = join(tmp, 'helpers');
    const state = join(dir, 'state.json');
    const bin = installFakeIpvsadm(dir, { state });
    execFileSync(bin, ['-A', '-t', '127.0.0.1:80', '-s', 'wrr']);
    execFileSync(bin, ['-a', '-t', '127.0.0.1:80', '-r', '127.0.0.2:8080', '-m', '-w', '3', '-x', '10', '-y', '2']);
    expect(fakeSave(state)).toBe('-A -t 127.0.0.1:80 -s wrr\n-a -t 127.0.0.1:80 -r 127.0.0.2:8080 -m -w 3\n');
    expect(readFakeTable(state).services[0].dests[0]).toEqual({ rs: '127.0.0.2:8080', forward: 'masq', weight: 3, upperThreshold: 10, lowerThreshold: 2 });
    expect(fakeList(state)).toBe(execFileSync(bin, ['-L', '-n'], { encoding: 'utf8' }));
  });

  it('FAKE_IPVSADM_FAIL_MATCH refuses matching command lines and matching -R lines (restore goes on)', () => {
    const dir = join(tmp, 'fail');
    const state = join(dir, 'state.json');
    const bin = installFakeIpvsadm(dir, { state, env: { FAKE_IPVSADM_FAIL_MATCH: '10\\.9\\.9\\.9' } });
    const single = spawnSync(bin, ['-A', '-t', '10.9.9.9:80', '-s', 'rr'], { encoding: 'utf8' });
    expect(single.status).toBe(255);
    expect(single.stderr).toMatch(/injected/);
    const batch = spawnSync(bin, ['-R'], { input: '-A -t 10.9.9.9:80 -s rr\n-A -t 10.0.0.1:80 -s rr\n', encoding: 'utf8' });
    expect(batch.status).toBe(0);
    expect(batch.stderr).toMatch(/injected/);
    expect(fakeSave(state)).toBe('-A -t 10.0.0.1:80 -s rr\n');
  });

  it('FAKE_IPVSADM_GARBAGE=1 garbles listings; FAKE_IPVSADM_HANG_MS delays', () => {
    const dir = join(tmp, 'garbage');
    const state = join(dir, 'state.json');
    const bin = installFakeIpvsadm(dir, { state, env: { FAKE_IPVSADM_GARBAGE: '1', FAKE_IPVSADM_HANG_MS: '300' } });
    writeFileSync(state, '');
    const t0 = Date.now();
    const r = spawnSync(bin, ['-L', '-n'], { encoding: 'utf8' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(r.stdout).not.toContain('IP Virtual Server');
    expect(readFileSync(state, 'utf8')).toBe(''); // a listing does not write the table back
  });
});
