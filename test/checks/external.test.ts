/**
 * external and external-perl with real child processes: the original's four arguments, no shell,
 * exit status, timeout kill, a child killed by a signal (up, as the original's `$? >> 8`), chatty output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExternalPerlModule, externalArgs, externalModule, externalPerlModule } from '../../src/checks/external.js';
import { checkTarget } from '../../src/checks/target.js';
import type { CheckContext } from '../../src/checks/types.js';
import type { VirtualService } from '../../src/model/config.js';
import { makeReal, makeVirtual } from './helpers.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ldir-ext-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, body);
  chmodSync(p, 0o755);
  return p;
}

function ctx(timeoutMs = 3000): CheckContext {
  return { timeoutMs, signal: new AbortController().signal, hostname: 'director' };
}

function target(checkcommand: string, v: Partial<VirtualService> = {}) {
  const virtual = makeVirtual({ checktype: 'external', checkcommand, ip: '192.0.2.1', port: 80, ...v });
  return checkTarget(virtual, makeReal({ ip: '10.1.2.3', port: 8080 }));
}

describe('external', () => {
  it('passes the original four arguments; exit 0 is up, exit 1 is down', async () => {
    const out = join(dir, 'args.txt');
    const ok = script('ok.sh', `#!/bin/sh\nprintf '%s|' "$@" > '${out}'\nexit 0\n`);
    expect(await externalModule.run(target(ok), ctx())).toMatchObject({ ok: true, status: 'ok' });
    expect(readFileSync(out, 'utf8')).toBe('192.0.2.1|80|10.1.2.3|8080|');
    const bad = script('bad.sh', '#!/bin/sh\nexit 1\n');
    expect(await externalModule.run(target(bad), ctx())).toMatchObject({ ok: false, status: 'proc-exit' });
  });

  it('IPv6 addresses are bracketed; a firewall-mark virtual passes its mark and port 0', () => {
    const v6 = checkTarget(
      makeVirtual({ checktype: 'external', family: 6, ip: 'fd00::1', port: 443 }),
      makeReal({ ip: 'fd00::2', port: 443 }),
    );
    expect(externalArgs(v6)).toEqual(['[fd00::1]', '443', '[fd00::2]', '443']);
    const fwm = checkTarget(makeVirtual({ checktype: 'external', protocol: 'fwm', ip: '', port: 0, fwmark: 42 }), makeReal({ port: 0 }));
    expect(externalArgs(fwm)).toEqual(['42', '0', '127.0.0.1', '0']);
  });

  it('no shell: a command path full of shell metacharacters is executed as one file', async () => {
    const marker = join(dir, 'pwned');
    const weird = script(`chk; touch ${'pwned'} $(touch x) & |.sh`, '#!/bin/sh\nexit 0\n');
    const r = await externalModule.run(target(weird), ctx());
    expect(r.ok).toBe(true);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(dir, 'x'))).toBe(false);
    // a "command line" is not split into words either: it is one (missing) file
    const r2 = await externalModule.run(target(`/bin/true; touch ${marker}`), ctx());
    expect(r2).toMatchObject({ ok: false, status: 'proc-error' });
    expect(existsSync(marker)).toBe(false);
  });

  it('timeout: the child is killed and the check is down at the timeout', async () => {
    const pidFile = join(dir, 'slow.pid');
    const slow = script('slow.sh', `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 30\n`);
    const r = await externalModule.run(target(slow), ctx(300));
    expect(r).toMatchObject({ ok: false, status: 'proc-timeout' });
    expect(r.durationMs).toBeLessThan(5000);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((res) => setTimeout(res, 200));
    expect(() => process.kill(pid, 0)).toThrow(); // gone
  });

  it('a child killed by a signal counts as up, as in the original', async () => {
    const k = script('kill.sh', '#!/bin/sh\nkill -KILL $$\n');
    const r = await externalModule.run(target(k), ctx());
    expect(r).toMatchObject({ ok: true });
    expect(r.message).toContain('SIGKILL');
  });

  it('a chatty check is not disturbed by its output', async () => {
    const chatty = script('chatty.sh', '#!/bin/sh\nhead -c 2000000 /dev/zero\necho err >&2\nexit 0\n');
    expect((await externalModule.run(target(chatty), ctx())).ok).toBe(true);
  });

  it('a missing command is proc-error', async () => {
    expect(await externalModule.run(target(join(dir, 'nope')), ctx())).toMatchObject({ ok: false, status: 'proc-error' });
  });
});

const havePerl = spawnSync('perl', ['-e', '1']).status === 0;
if (!havePerl) console.warn('perl not installed: skipping external-perl tests');

describe.skipIf(!havePerl)('external-perl', () => {
  it('runs the file with perl and @ARGV; exit(0)/return = up, exit(n)/die = down', async () => {
    const out = join(dir, 'perlargs.txt');
    const ok = join(dir, 'ok.pl');
    writeFileSync(ok, `open(my $f, '>', '${out}'); print $f join('|', @ARGV); close $f; exit(0);\n`);
    const t = (f: string) => target(f, { checktype: 'external-perl' });
    expect(await externalPerlModule.run(t(ok), ctx())).toMatchObject({ ok: true });
    expect(readFileSync(out, 'utf8')).toBe('192.0.2.1|80|10.1.2.3|8080');
    const ret = join(dir, 'ret.pl');
    writeFileSync(ret, '1;\n');
    expect((await externalPerlModule.run(t(ret), ctx())).ok).toBe(true);
    const ex = join(dir, 'ex.pl');
    writeFileSync(ex, 'exit(2);\n');
    expect(await externalPerlModule.run(t(ex), ctx())).toMatchObject({ ok: false, status: 'proc-exit' });
    const die = join(dir, 'die.pl');
    writeFileSync(die, 'die "broken\\n";\n');
    expect((await externalPerlModule.run(t(die), ctx())).ok).toBe(false);
  });

  it('without perl it is a clear proc-error', async () => {
    const m = createExternalPerlModule(undefined, null);
    const r = await m.run(target('/x.pl', { checktype: 'external-perl' }), ctx());
    expect(r).toMatchObject({ ok: false, status: 'proc-error' });
    expect(r.message).toContain('perl not found');
  });
});
