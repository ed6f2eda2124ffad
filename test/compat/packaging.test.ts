// systemd-analyze verify accepts the unit; the npm tarball installs globally on a clean prefix (from npm's
// cache where it can), and the installed `ldirectord` runs and loads the netlink package's prebuilt addon;
// the install script and logrotate snippet are well-formed.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, cliWorks, which } from './helpers.js';

const UNIT = join(ROOT, 'compat/systemd/ldirectord.service');
const ANALYZE = which('systemd-analyze');
const analyzeRuns = ANALYZE ? spawnSync(ANALYZE, ['--version']).status === 0 : false;
const sbin = existsSync('/usr/sbin/ldirectord');
const systemdSkip = !ANALYZE ? 'systemd-analyze not installed (Debian package systemd)' : !analyzeRuns ? 'systemd-analyze cannot run here' : !sbin ? '/usr/sbin/ldirectord missing (verify checks ExecStart)' : '';
if (systemdSkip) console.warn(`compat/systemd: skipped: ${systemdSkip}`);
const cli = cliWorks();
if (!cli.ok) console.warn(`compat/pack: skipped: ${cli.why}`);
const NPM = which('npm');
if (!NPM) console.warn('compat/pack: skipped: npm not on PATH');

const tmp: string[] = [];
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

/** verify runs systemd-analyze on a copy of unit text and returns its complaints about that unit. */
function verify(text: string): { code: number | null; complaints: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'ldts-unit-'));
  tmp.push(dir);
  const unit = join(dir, 'ldirectord.service');
  writeFileSync(unit, text);
  // man pages where systemd-analyze's Documentation= check (man) finds them
  const manDir = join(dir, 'man');
  mkdirSync(join(manDir, 'man8'), { recursive: true });
  mkdirSync(join(manDir, 'man5'), { recursive: true });
  copyFileSync(join(ROOT, 'man/ldirectord.8'), join(manDir, 'man8/ldirectord.8'));
  copyFileSync(join(ROOT, 'man/ldirectord.cf.5'), join(manDir, 'man5/ldirectord.cf.5'));
  const r = spawnSync(ANALYZE as string, ['verify', unit], { env: { ...process.env, MANPATH: manDir, SYSTEMD_LOG_TARGET: 'console' }, encoding: 'utf8', timeout: 60_000 });
  const complaints = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.startsWith(unit) || l.startsWith('ldirectord.service:'));
  return { code: r.status, complaints };
}

describe.skipIf(!!systemdSkip)('compat/systemd/ldirectord.service', () => {
  it('systemd-analyze verify accepts it without a complaint', () => {
    const r = verify(readFileSync(UNIT, 'utf8'));
    expect(r.complaints).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('(control) the same check sees a broken copy', () => {
    const r = verify(readFileSync(UNIT, 'utf8').replace(/^KillMode=mixed$/m, 'KillMode=bogus'));
    expect(r.complaints.join('\n')).toMatch(/kill mode/i);
  });

  it('forking with the pid file, reload through ldirectord, TERM to the daemon only, an [Install] section, no subsys lock', () => {
    const u = readFileSync(UNIT, 'utf8');
    expect(u).toMatch(/^Type=forking$/m);
    expect(u).toMatch(/^PIDFile=\/run\/ldirectord\.ldirectord\.pid$/m);
    expect(u).toMatch(/^ExecReload=\/usr\/sbin\/ldirectord reload$/m);
    expect(u).toMatch(/^KillMode=mixed$/m);
    expect(u).toMatch(/^TimeoutStopSec=\d+$/m);
    expect(u).toMatch(/^\[Install\]\nWantedBy=multi-user\.target$/m);
    expect(u).not.toContain('/var/lock/subsys');
  });
});

/**
 * Run inside the installed package: the netlink package's addon loads (its install script is denied,
 * so only the prebuilt binary can) and a generic netlink socket answers: the kernel resolves its own
 * control family, nlctrl (id 16), which every Linux kernel has, IPVS or not.
 */
const NETLINK_PROBE = `
import { existsSync } from 'node:fs';
import { GenlClient, openGenericTransport } from './dist/ipvs/netlink/socket.js';
import { GENL_ID_CTRL, decodeFamilyId, getFamilyPayload } from './dist/ipvs/netlink/codec.js';
const c = new GenlClient(await openGenericTransport(), { timeoutMs: 5000 });
const a = await c.request(GENL_ID_CTRL, getFamilyPayload('nlctrl'));
c.close();
console.log(JSON.stringify({ errno: a.errno, id: a.parts.length ? decodeFamilyId(a.parts[0].payload) : null, built: existsSync('node_modules/netlink/build'), prebuilt: existsSync('node_modules/netlink/prebuilds/' + process.platform + '-' + process.arch) }));
`;

describe.skipIf(!cli.ok || !NPM)('npm pack and a global install', () => {
  it('scripts/install.sh packs the tarball and installs it on a clean prefix, from the npm cache where it can; the installed ldirectord runs -v and configtest and loads the prebuilt netlink addon', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ldts-pack-'));
    tmp.push(dir);
    // scripts/install.sh = npm pack (dist/ is current: cliWorks built it) + npm install -g --prefix
    const prefix = join(dir, 'prefix');
    const inst = spawnSync('sh', [join(ROOT, 'scripts/install.sh'), '--prefix', prefix], {
      cwd: dir,
      // from npm's cache (npm ci filled it) wherever it can: npm 11's global install asks for each
      // dependency's full registry document, where npm ci cached only the abbreviated one, so on a machine
      // whose cache only npm ci filled, those documents (not the packages) come from the registry
      env: { ...process.env, npm_config_prefer_offline: 'true' },
      encoding: 'utf8',
      timeout: 240_000,
    });
    if (inst.status !== 0) console.warn(`${inst.stderr}${/ENOTCACHED/.test(inst.stderr) ? '\n(npm\'s cache lacks a dependency and the registry did not answer)' : ''}`);
    expect(inst.status).toBe(0);
    expect(inst.stdout).toContain(`installed ${prefix}/bin/ldirectord`);
    const bin = join(prefix, 'bin/ldirectord');
    const v = spawnSync(bin, ['-v'], { encoding: 'utf8' });
    expect(v.status).toBe(0);
    expect(v.stdout).toContain('Linux Director v1.186-ha');
    // the installed package has what it needs to parse a configuration
    const cf = join(dir, 'x.cf');
    writeFileSync(cf, 'virtual=127.0.0.10:80\n\treal=127.0.0.2:80 gate\n');
    const t = spawnSync(bin, [cf, 'configtest'], { encoding: 'utf8', cwd: dir });
    expect(t.stdout).toContain('syntax OK');
    expect(t.status).toBe(0);
    // man pages and compat files travel in the tarball
    const pkg = join(prefix, 'lib/node_modules/ldirectord-ts');
    for (const f of ['man/ldirectord.8', 'man/ldirectord.cf.5', 'compat/ocf/ldirectord', 'compat/systemd/ldirectord.service']) expect(existsSync(join(pkg, f))).toBe(true);
    // the netlink driver's addon: prebuilt for this platform, nothing compiled, and it talks to the kernel
    const nl = spawnSync(process.execPath, ['--input-type=module', '-e', NETLINK_PROBE], { cwd: pkg, encoding: 'utf8', timeout: 30_000 });
    expect(nl.stderr).toBe('');
    expect(JSON.parse(nl.stdout.trim())).toEqual({ errno: 0, id: 16, built: false, prebuilt: true });
  }, 300_000);
});

describe('scripts and snippets', () => {
  it.each(['scripts/install.sh', 'compat/init.d/ldirectord', 'compat/ocf/ldirectord'])('%s is valid POSIX sh (dash -n / sh -n)', (f) => {
    const sh = which('dash') ?? '/bin/sh';
    const r = spawnSync(sh, ['-n', join(ROOT, f)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(!which('logrotate'))('logrotate accepts the snippet', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ldts-lr-'));
    tmp.push(dir);
    const conf = join(dir, 'lr.conf');
    writeFileSync(conf, readFileSync(join(ROOT, 'compat/logrotate/ldirectord'), 'utf8').replace('/var/log/ldirectord.log', join(dir, 'ld.log')).replace('create 0640 root adm', 'create 0640'));
    writeFileSync(join(dir, 'ld.log'), 'x\n');
    const r = spawnSync('logrotate', ['-d', '-s', join(dir, 'state'), conf], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/error/i);
  });
});
