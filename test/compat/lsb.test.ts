// The LSB init script run as a process over our daemon (fake ipvsadm, connect check on 127.0.0.2):
// its exit codes for start, status, reload, stop and the error cases.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, cliWorks, makeInstance, waitFor, type Instance } from './helpers.js';

const SCRIPT = join(ROOT, 'compat/init.d/ldirectord');
const cli = cliWorks();
if (!cli.ok) console.warn(`compat/lsb: skipped: ${cli.why}`);

describe('compat/init.d/ldirectord without the daemon', () => {
  it('an unknown action is a usage error (2); a missing configuration: start 6, stop 0, status 3', () => {
    const dir = join(ROOT, 'test/compat'); // any existing folder: no defaults file there
    const env = { ...process.env, LDIRECTORD_DEFAULTS: join(dir, 'no-such-defaults'), CONFIG_FILE: '' };
    const run = (a: string) => spawnSync(SCRIPT, [a], { env: { ...env }, encoding: 'utf8' });
    const u = run('frobnicate');
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/Usage: .*start\|stop\|restart\|try-restart\|status\|reload\|force-reload/);
    if (!existsSync('/etc/ldirectord.cf') && existsSync('/usr/sbin/ldirectord')) {
      expect(run('start').status).toBe(6);
      expect(run('stop').status).toBe(0);
      expect(run('status').status).toBe(3);
    }
  });
});

describe.skipIf(!cli.ok)('compat/init.d/ldirectord over our daemon', () => {
  let inst: Instance;
  let env: NodeJS.ProcessEnv;
  const run = (action: string, extra: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(SCRIPT, [action], { env: { ...env, ...extra }, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };
  beforeAll(async () => {
    inst = await makeInstance();
    const defaults = join(inst.dir, 'default-ldirectord');
    writeFileSync(defaults, `CONFIG_FILE='${inst.config}'\nDAEMON='${BIN}'\n`);
    env = { ...inst.env, LDIRECTORD_DEFAULTS: defaults };
  });
  afterAll(async () => {
    await inst?.close();
    if (inst) rmSync(inst.dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
  });

  it('status 3, start 0, status 0, reload 0, start again 0, stop 0 (services removed), status 3, reload 7', async () => {
    expect(run('status').code).toBe(3);
    expect(run('try-restart').code).toBe(0);
    expect(run('status').code).toBe(3);
    expect(run('start').code).toBe(0);
    expect(await waitFor(() => inst.table().includes('-A -t 127.0.0.10:8080'))).toBe(true);
    const st = run('status');
    expect(st.code).toBe(0);
    expect(st.out).toContain(`ldirectord for ${inst.config} is running with pid:`);
    expect(run('reload').code).toBe(0);
    expect(run('force-reload').code).toBe(0);
    expect(run('start').code).toBe(0);
    expect(run('restart').code).toBe(0);
    expect(run('status').code).toBe(0);
    expect(run('stop').code).toBe(0);
    // stop waits until the daemon has gone
    expect(inst.table()).not.toContain('127.0.0.10:8080');
    expect(run('status').code).toBe(3);
    expect(run('stop').code).toBe(0);
    expect(run('reload').code).toBe(7);
  }, 90_000);

  it('a stale pid file: status 1; a configuration error: status 4, start 6', () => {
    writeFileSync(join(inst.dir, 'ldirectord.ld.cf.pid'), '1\n');
    expect(run('status').code).toBe(1);
    rmSync(join(inst.dir, 'ldirectord.ld.cf.pid'));
    const bad = join(inst.dir, 'default-bad');
    writeFileSync(bad, `CONFIG_FILE='${inst.badConfig}'\nDAEMON='${BIN}'\n`);
    expect(run('status', { LDIRECTORD_DEFAULTS: bad }).code).toBe(4);
    expect(run('start', { LDIRECTORD_DEFAULTS: bad }).code).toBe(6);
    expect(existsSync(join(inst.dir, 'ldirectord.bad.cf.pid'))).toBe(false);
  }, 60_000);
});
