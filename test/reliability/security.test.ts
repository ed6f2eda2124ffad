/**
 * Security: values reaching checkcommand, fallbackcommand and callback are exec paths and arguments,
 * never shell text; passwd and secret never appear in logs, dump, show or the state file; files the
 * daemon creates are not world-writable (state 0600), even under umask 000.
 */
import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type net from 'node:net';
import { parseConfigText } from '../../src/config/parse.js';
import { buildCheckJobs, runCheck } from '../../src/checks/index.js';
import { Rig, alive, build, closeServer, daemonSkipReason, freePort, read, skipNote, sleep, tcpListen, tmp, until } from './helpers.js';

const PW = 's3cr3t-PW-q7Zx';
const SEC = 's3cr3t-SEC-k9Wy';
const tag = () => `pwned-${process.pid}-${Math.floor(Math.random() * 1e9)}`;

/** An executable whose file name is shell code; run as a path it records its arguments in `ran`. */
function trap(dir: string, stem: string, pwned: string): { path: string; ran: string } {
  const ran = join(dir, `ran-${stem}`);
  // No spaces (a command split on whitespace still names this file); a shell would run both touches.
  const path = join(dir, `${stem};touch\${IFS}${pwned};$(touch\${IFS}${pwned}-2)`);
  writeFileSync(path, `#!/bin/sh\necho "$@" >> '${ran}'\nexit 0\n`);
  chmodSync(path, 0o755);
  return { path, ran };
}

/** Where a shell-run `touch` could have landed: the given cwds. Removes any it finds. */
function pwnedFiles(pwned: string, cwds: string[]): string[] {
  const found = cwds.flatMap((d) => [join(d, pwned), join(d, `${pwned}-2`)]).filter((p) => existsSync(p));
  for (const p of found) rmSync(p, { force: true });
  return found;
}

describe('checkcommand with shell metacharacters (check level)', () => {
  it('is executed as a path with plain arguments, never through a shell', async () => {
    const dir = tmp('ldrel-sec-');
    const pwned = tag();
    const { path, ran } = trap(dir, 'chk', pwned);
    const cfg = await parseConfigText(`checktimeout=5\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\tchecktype=external\n\tcheckcommand="${path}"\n`, 'sec.cf', { hostname: 'lb1', checkFiles: false });
    expect(cfg.virtuals[0].checkcommand).toBe(path);
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const r = await runCheck(buildCheckJobs(cfg.virtuals)[0], { signal: new AbortController().signal, hostname: 'lb1' });
      expect(r.ok, r.message).toBe(true);
    } finally {
      process.chdir(cwd);
    }
    expect(read(ran).trim()).toBe('127.0.0.1 80 127.0.0.2 80');
    expect(pwnedFiles(pwned, [dir, cwd, '/'])).toEqual([]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
  });
});

describe('passwd and secret are masked (configtest, dump)', () => {
  beforeAll(() => build());
  it('never appear in dump or configtest output', async () => {
    const r = new Rig('s.cf');
    try {
      writeFileSync(r.cfg, secretConfig(3306, 1812));
      const d = await r.run(['dump']);
      expect(d.code).toBe(0);
      expect(d.stdout).toContain('"passwd"');
      expect(d.stdout + d.stderr).not.toContain(PW);
      expect(d.stdout + d.stderr).not.toContain(SEC);
      const t = await r.run(['configtest']);
      expect(t.stdout + t.stderr).not.toContain(PW);
      expect(t.stdout + t.stderr).not.toContain(SEC);
    } finally {
      r.cleanup();
    }
  });
});

function secretConfig(tcpPort: number, udpPort: number, log = ''): string {
  return (
    (log ? `logfile="${log}"\n` : '') +
    `checkinterval=1\nchecktimeout=1\nnegotiatetimeout=1\n` +
    `virtual=127.0.0.1:${tcpPort}\n\treal=127.0.0.31:${tcpPort} gate\n\tservice=mysql\n\tlogin="user"\n\tpasswd="${PW}"\n\tdatabase="db"\n\tchecktype=negotiate\n\tquiescent=no\n` +
    `virtual=127.0.0.1:${udpPort}\n\treal=127.0.0.32:${udpPort} gate\n\tprotocol=udp\n\tservice=radius\n\tsecret="${SEC}"\n\tchecktype=negotiate\n\tquiescent=no\n`
  );
}

const skip = skipNote('security tests through the daemon', daemonSkipReason());

describe.skipIf(skip)('security through the daemon', () => {
  let rig: Rig | undefined;
  const servers: net.Server[] = [];
  beforeAll(() => build());
  afterEach(async () => {
    // Never leave a shell's proof behind, whatever failed.
    await sleep(500);
    for (const f of readdirSync('/')) if (f.startsWith(`pwned-${process.pid}-`)) rmSync(join('/', f), { force: true });
    rig?.cleanup();
    rig = undefined;
    await Promise.all(servers.splice(0).map(closeServer));
  });

  it('fallbackcommand and callback with shell metacharacters run as exec paths, never through a shell', async () => {
    const port = await freePort();
    const r = new Rig();
    rig = r;
    const pwned = tag();
    const fb = trap(r.dir, 'fb', pwned);
    const cb = trap(r.dir, 'cb', pwned);
    const conf = (extra: string) =>
      `logfile="${r.log}"\ncheckinterval=1\nchecktimeout=1\nautoreload=no\ncallback="${cb.path}"\nfallbackcommand=${fb.path}\n${extra}` +
      `virtual=127.0.0.1:${port}\n\treal=127.0.0.33:${port} gate\n\tchecktype=connect\n\tquiescent=no\n`;
    writeFileSync(r.cfg, conf(''));
    const pid = await r.start();
    // No real answers: the fallback command is run with start.
    const shelled = () => [r.dir, '/', process.cwd()].some((d) => existsSync(join(d, pwned)) || existsSync(join(d, `${pwned}-2`)));
    await until(() => /start/.test(read(fb.ran)) || shelled(), 20_000, 'fallbackcommand ran');
    await sleep(500); // a shell would still be running its second touch
    expect(pwnedFiles(pwned, [r.dir, '/', process.cwd()]), 'fallbackcommand went through a shell').toEqual([]);
    expect(read(fb.ran)).toContain(`127.0.0.1:${port}`);
    // The config changes on disk: the callback runs with the config path.
    writeFileSync(r.cfg, conf('# changed\n'));
    await until(() => read(cb.ran).trim() !== '' || shelled(), 20_000, 'callback ran');
    await sleep(500);
    expect(pwnedFiles(pwned, [r.dir, '/', process.cwd()]), 'callback went through a shell').toEqual([]);
    expect(read(cb.ran).trim()).toBe(r.cfg);
    expect(alive(pid)).toBe(true);
    expect(pwnedFiles(pwned, [r.dir, '/', process.cwd()])).toEqual([]);
  });

  it('passwd and secret never reach the log, show or the state file; created files are not world-writable', async () => {
    const tcpPort = await freePort();
    const udpPort = await freePort();
    // A mysql "server" that hangs up at once: the check fails and logs.
    servers.push(await tcpListen('127.0.0.31', tcpPort));
    const r = new Rig();
    rig = r;
    writeFileSync(r.cfg, secretConfig(tcpPort, udpPort, r.log));
    const old = process.umask(0o000); // children inherit: the daemon must set safe modes itself
    let pid: number;
    try {
      pid = await r.start();
    } finally {
      process.umask(old);
    }
    await until(() => existsSync(r.stateFile) && r.logText() !== '', 20_000, 'state file and log');
    await new Promise((res) => setTimeout(res, 3000)); // a few failing cycles
    expect(alive(pid)).toBe(true);
    expect(readFileSync(r.pidFile, 'utf8').trim()).toBe(String(pid));
    expect(statSync(r.stateFile).mode & 0o777).toBe(0o600);
    const show = await r.run(['show']);
    expect(show.code).toBe(0);
    for (const text of [r.logText(), read(r.stateFile), show.stdout, show.stderr]) {
      expect(text).not.toContain(PW);
      expect(text).not.toContain(SEC);
    }
    for (const f of [r.pidFile, r.stateFile, r.log]) {
      const mode = statSync(f).mode & 0o777;
      expect(mode & 0o002, `${f} mode ${mode.toString(8)}`).toBe(0);
    }

  });
});
