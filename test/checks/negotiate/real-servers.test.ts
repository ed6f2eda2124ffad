/**
 * The negotiate checks against real server software from Debian, each started here on its own
 * 127.0.0.x address in a temp dir with a config of our own: dnsmasq (dns), slapd (ldap, ldaps),
 * PostgreSQL (pgsql), MariaDB (mysql). A server that is not installed is skipped with the reason.
 * Packages: test/setup/debian-packages.txt (dnsmasq-base slapd ldap-utils postgresql mariadb-server).
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { negotiateModules } from '../../../src/checks/negotiate/index.js';
import type { CheckModule } from '../../../src/checks/types.js';
import { ctx, target } from './helpers.js';
import { freePort } from '../../support/net.js';
import { which } from '../../support/host.js';

const children: ChildProcess[] = [];
const dirs: string[] = [];
const cleanups: (() => void)[] = [];
afterAll(async () => {
  for (const f of cleanups) f();
  // Servers still write into their directories while they shut down (mariadb): wait for them first.
  const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
  const exited = Promise.all(running.map((c) => new Promise((r) => c.once('exit', r))));
  for (const c of running) c.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}, 30_000);

function mod(name: string): CheckModule {
  return (negotiateModules as Record<string, CheckModule>)[name]!;
}

function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `neg-${tag}-`));
  dirs.push(d);
  return d;
}


/** waitTcp: resolves once ip:port accepts a connection (or throws after `ms`). */
async function waitTcp(ip: string, port: number, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect({ host: ip, port }, () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${ip}:${port} never accepted`);
}

function start(cmd: string, args: string[], opts: { asUser?: string; stdout?: boolean } = {}): ChildProcess {
  const [c, a] = opts.asUser && process.getuid?.() === 0 ? ['runuser', ['-u', opts.asUser, '--', cmd, ...args]] : [cmd, args];
  const child = spawn(c, a, { stdio: ['ignore', opts.stdout ? 'pipe' : 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d) => {
    err = (err + d.toString()).slice(-2000);
  });
  child.on('exit', (code) => {
    if (code) console.warn(`${cmd} exited ${code}: ${err}`);
  });
  children.push(child);
  return child;
}

/** waitOutput: resolves once the child has printed `text` on stdout. */
function waitOutput(child: ChildProcess, text: string, ms = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`never printed ${text}: ${out.slice(-500)}`)), ms);
    child.stdout!.on('data', (d) => {
      out = (out + d.toString()).slice(-5000);
      if (out.includes(text)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

async function freeUdpPort(ip: string): Promise<number> {
  const dgram = await import('node:dgram');
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, ip, r));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

// ------------------------------------------------------------------ FreeRADIUS
const FREERADIUS = which('freeradius') ?? which('radiusd');
const RADDB = ['/etc/freeradius/3.0', '/etc/raddb'].find((d) => existsSync(join(d, 'radiusd.conf')));
if (!FREERADIUS || !RADDB) console.warn('real-servers: freeradius not installed (apt-get install freeradius), radius tests skipped');
describe.skipIf(!FREERADIUS || !RADDB)('radius against FreeRADIUS', () => {
  const ip = '127.0.0.7';
  let port = 0;
  beforeAll(async () => {
    const d = tempDir('radius');
    chmodSync(d, 0o755);
    const raddb = join(d, 'raddb');
    cpSync(RADDB!, raddb, { recursive: true, verbatimSymlinks: true });
    for (const f of readdirSync(join(raddb, 'sites-enabled'))) rmSync(join(raddb, 'sites-enabled', f));
    rmSync(join(raddb, 'mods-enabled', 'eap'), { force: true });
    port = await freeUdpPort(ip);
    writeFileSync(join(raddb, 'sites-enabled', 'check'),
      `server check {\n listen {\n  type = auth\n  ipaddr = ${ip}\n  port = ${port}\n }\n authorize {\n  files\n  pap\n }\n authenticate {\n  Auth-Type PAP {\n   pap\n  }\n }\n}\n`);
    writeFileSync(join(raddb, 'clients.conf'), 'client loop {\n ipaddr = 127.0.0.0/8\n secret = s3cret\n}\n');
    writeFileSync(join(raddb, 'mods-config', 'files', 'authorize'), 'alice Cleartext-Password := "pw"\n');
    // Debian's radiusd.conf drops to user freerad: the copied tree must stay readable for it.
    if (process.getuid?.() === 0) {
      try {
        execFileSync('chown', ['-R', 'freerad', raddb], { stdio: 'ignore' });
      } catch {
        /* no such user: the server keeps running as root */
      }
    }
    const child = start(FREERADIUS!, ['-X', '-d', raddb], { stdout: true });
    await waitOutput(child, 'Ready to process requests');
  });
  it('right user and password → Access-Accept → up', async () => {
    const r = await mod('radius').run(target({ ip, port, protocol: 'udp', login: 'alice', passwd: 'pw', secret: 's3cret' }), ctx(3000));
    expect(r).toMatchObject({ ok: true, status: 'ok' });
  });
  it('wrong password → Access-Reject → down', async () => {
    const r = await mod('radius').run(target({ ip, port, protocol: 'udp', login: 'alice', passwd: 'nope', secret: 's3cret' }), ctx(3000));
    expect(r).toMatchObject({ ok: false, status: 'l7-bad-status' });
  });
  it('wrong secret → down', async () => {
    const r = await mod('radius').run(target({ ip, port, protocol: 'udp', login: 'alice', passwd: 'pw', secret: 'other' }), ctx(1500));
    expect(r.ok).toBe(false);
  });
});

// ------------------------------------------------------------------ Dovecot
const DOVECOT = which('dovecot');
const HAVE_DOVECOT = !!DOVECOT && existsSync('/usr/lib/dovecot/imap') && existsSync('/usr/lib/dovecot/pop3') && !!which('openssl');
if (!HAVE_DOVECOT) console.warn('real-servers: dovecot-imapd/dovecot-pop3d not installed, pop/imap tests skipped');
describe.skipIf(!HAVE_DOVECOT)('pop, pops, imap, imaps against Dovecot', () => {
  const ip = '127.0.0.8';
  const ports = { imap: 0, imaps: 0, pop: 0, pops: 0 };
  beforeAll(async () => {
    const d = tempDir('dovecot');
    chmodSync(d, 0o755);
    mkdirSync(join(d, 'home'), { mode: 0o777 });
    chmodSync(join(d, 'home'), 0o777);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=real.example', '-days', '2',
      '-keyout', join(d, 'k.pem'), '-out', join(d, 'c.pem')], { stdio: 'ignore' });
    writeFileSync(join(d, 'users'), 'alice:{PLAIN}pw\n');
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort(ip);
    writeFileSync(join(d, 'dovecot.conf'), `base_dir = ${d}/run
state_dir = ${d}/state
log_path = /dev/stderr
protocols = imap pop3
listen = ${ip}
ssl = yes
ssl_cert = <${d}/c.pem
ssl_key = <${d}/k.pem
auth_mechanisms = plain
auth_failure_delay = 0
disable_plaintext_auth = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${d}/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=${d}/home/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    port = ${ports.imap}
  }
  inet_listener imaps {
    port = ${ports.imaps}
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = ${ports.pop}
  }
  inet_listener pop3s {
    port = ${ports.pops}
    ssl = yes
  }
}
`);
    start(DOVECOT!, ['-F', '-c', join(d, 'dovecot.conf')]);
    for (const p of Object.values(ports)) await waitTcp(ip, p);
  });
  for (const name of ['pop', 'pops', 'imap', 'imaps'] as const) {
    it(`${name}: login alice → up; wrong password → down; no login → greeting only, up`, async () => {
      const port = ports[name];
      const up = await mod(name).run(target({ ip, port, login: 'alice', passwd: 'pw' }), ctx(5000));
      expect(up).toMatchObject({ ok: true, status: 'ok' });
      const bad = await mod(name).run(target({ ip, port, login: 'alice', passwd: 'nope' }), ctx(5000));
      expect(bad).toMatchObject({ ok: false, status: 'l7-bad-status' });
      expect((await mod(name).run(target({ ip, port }), ctx(5000))).ok).toBe(true);
    });
  }
});

// ------------------------------------------------------------------ Pure-FTPd
const PURE_FTPD = which('pure-ftpd');
const PURE_PW = which('pure-pw');
if (!PURE_FTPD || !PURE_PW) console.warn('real-servers: pure-ftpd not installed (apt-get install pure-ftpd), ftp tests skipped');
describe.skipIf(!PURE_FTPD || !PURE_PW)('ftp against Pure-FTPd', () => {
  const ip = '127.0.0.9';
  let port = 0;
  beforeAll(async () => {
    const d = tempDir('ftp');
    chmodSync(d, 0o755);
    mkdirSync(join(d, 'root'));
    writeFileSync(join(d, 'root', 'index.html'), 'Hello from pure-ftpd\n');
    const nobody = Number(execFileSync('id', ['-u', 'nobody']).toString());
    if (process.getuid?.() === 0) chownSync(join(d, 'root'), nobody, -1);
    execFileSync(PURE_PW!, ['useradd', 'alice', '-u', 'nobody', '-d', join(d, 'root'), '-f', join(d, 'passwd')], { input: 'pw\npw\n', stdio: ['pipe', 'ignore', 'ignore'] });
    // pure-pw hashes with argon2id at t=1023: every login then costs seconds of CPU (2.5-4.6 s here), past
    // the check's budget on a loaded machine. Pure-FTPd takes any crypt(3) hash: a SHA-512 one logs in at once.
    const cheap = spawnSync('openssl', ['passwd', '-6', 'pw'], { encoding: 'utf8' });
    if (cheap.status === 0) {
      const f = join(d, 'passwd');
      writeFileSync(f, readFileSync(f, 'utf8').replace(/^(alice):[^:]*:/m, `$1:${cheap.stdout.trim()}:`));
    }
    execFileSync(PURE_PW!, ['mkdb', join(d, 'pdb'), '-f', join(d, 'passwd')], { stdio: 'ignore' });
    port = await freePort(ip);
    const pasv = 40000 + Math.floor(Math.random() * 20000);
    start(PURE_FTPD!, ['-S', `${ip},${port}`, '-l', `puredb:${join(d, 'pdb')}`, '-E', '-H', '-p', `${pasv}:${pasv + 50}`]);
    await waitTcp(ip, port);
  });
  it('login, RETR, receive matches → up', async () => {
    const r = await mod('ftp').run(target({ ip, port, login: 'alice', passwd: 'pw', request: '/index.html', receive: 'pure-ftpd$' }), ctx(5000));
    expect(r, r.message).toMatchObject({ ok: true, status: 'ok' });
  });
  it('receive not matching → l7-no-match; missing file → down', async () => {
    const r = await mod('ftp').run(target({ ip, port, login: 'alice', passwd: 'pw', request: '/index.html', receive: '^Bye' }), ctx(5000));
    expect(r, r.message).toMatchObject({ ok: false, status: 'l7-no-match' });
    expect((await mod('ftp').run(target({ ip, port, login: 'alice', passwd: 'pw', request: '/none.html', receive: '.' }), ctx(5000))).ok).toBe(false);
  });
  // A wrong password is left to the in-test server: Pure-FTPd delays failed logins by seconds.
});

// ------------------------------------------------------------------ dnsmasq
const DNSMASQ = which('dnsmasq');
if (!DNSMASQ) console.warn('real-servers: dnsmasq not installed (apt-get install dnsmasq-base), dns tests skipped');
describe.skipIf(!DNSMASQ)('dns against dnsmasq', () => {
  const ip = '127.0.0.5';
  let port = 0;
  beforeAll(async () => {
    port = await freePort(ip);
    start(DNSMASQ!, ['-k', '-C', '/dev/null', '--no-resolv', '--no-hosts', `--listen-address=${ip}`, '--bind-interfaces',
      `--port=${port}`, '--address=/www.example.test/10.1.2.3', '--ptr-record=3.2.1.10.in-addr.arpa,web.example.test',
      '--user=root', '--pid-file=']);
    await waitTcp(ip, port);
  });
  it('udp A query matching receive → up; not matching → down', async () => {
    const up = await mod('dns').run(target({ ip, port, protocol: 'udp', request: '/www.example.test', receive: '^10\\.1\\.2\\.3$' }), ctx(3000));
    expect(up).toMatchObject({ ok: true, status: 'ok' });
    const down = await mod('dns').run(target({ ip, port, protocol: 'udp', request: '/www.example.test', receive: '^10\\.9' }), ctx(3000));
    expect(down).toMatchObject({ ok: false, status: 'l7-no-match' });
  });
  it('tcp virtual → TCP query; PTR for an address', async () => {
    const r = await mod('dns').run(target({ ip, port, protocol: 'tcp', request: '/10.1.2.3', receive: 'web\\.example\\.test' }), ctx(3000));
    expect(r).toMatchObject({ ok: true });
  });
  it('unknown name → down', async () => {
    const r = await mod('dns').run(target({ ip, port, protocol: 'udp', request: '/nope.invalid', receive: '.' }), ctx(3000));
    expect(r.ok).toBe(false);
  });
});

// ------------------------------------------------------------------ slapd
const SLAPD = which('slapd');
const SLAPADD = which('slapadd');
const HAVE_SLAPD = !!SLAPD && !!SLAPADD && existsSync('/etc/ldap/schema/core.schema') && !!which('openssl');
if (!HAVE_SLAPD) console.warn('real-servers: slapd/slapadd/openssl not installed (apt-get install slapd), ldap tests skipped');
describe.skipIf(!HAVE_SLAPD)('ldap and ldaps against slapd', () => {
  const ip = '127.0.0.4';
  let port = 0;
  let tlsPort = 0;
  beforeAll(async () => {
    const d = tempDir('slapd');
    mkdirSync(join(d, 'db'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=real.example', '-days', '2',
      '-keyout', join(d, 'k.pem'), '-out', join(d, 'c.pem')], { stdio: 'ignore' });
    writeFileSync(join(d, 'slapd.conf'), [
      'include /etc/ldap/schema/core.schema', 'include /etc/ldap/schema/cosine.schema',
      'modulepath /usr/lib/ldap', 'moduleload back_mdb', `pidfile ${d}/slapd.pid`,
      `TLSCertificateFile ${d}/c.pem`, `TLSCertificateKeyFile ${d}/k.pem`,
      'database mdb', 'maxsize 10485760', 'suffix "dc=example,dc=test"', 'rootdn "cn=admin,dc=example,dc=test"',
      'rootpw secretpw', `directory ${d}/db`, '',
    ].join('\n'));
    writeFileSync(join(d, 'data.ldif'), [
      'dn: dc=example,dc=test', 'objectClass: dcObject', 'objectClass: organization', 'o: Example', 'dc: example', '',
      'dn: ou=health,dc=example,dc=test', 'objectClass: organizationalUnit', 'ou: health', '',
    ].join('\n'));
    execFileSync(SLAPADD!, ['-f', join(d, 'slapd.conf'), '-l', join(d, 'data.ldif')], { stdio: 'ignore' });
    port = await freePort(ip);
    tlsPort = await freePort(ip);
    start(SLAPD!, ['-f', join(d, 'slapd.conf'), '-h', `ldap://${ip}:${port}/ ldaps://${ip}:${tlsPort}/`, '-d', '0']);
    await waitTcp(ip, port);
    await waitTcp(ip, tlsPort);
  });
  const base = '/ou=health,dc=example,dc=test';
  it('anonymous bind, one entry, DN matches receive → up (ldap and ldaps)', async () => {
    expect(await mod('ldap').run(target({ ip, port, request: base, receive: '^ou=health' }), ctx(3000))).toMatchObject({ ok: true });
    expect(await mod('ldaps').run(target({ ip, port: tlsPort, request: base, receive: 'health' }), ctx(3000))).toMatchObject({ ok: true });
  });
  it('bind with login/passwd → up; wrong password → down', async () => {
    const login = 'cn=admin,dc=example,dc=test';
    expect((await mod('ldap').run(target({ ip, port, login, passwd: 'secretpw', request: base }), ctx(3000))).ok).toBe(true);
    const bad = await mod('ldap').run(target({ ip, port, login, passwd: 'wrong', request: base }), ctx(3000));
    expect(bad).toMatchObject({ ok: false, status: 'l7-bad-status' });
    expect(bad.message).toContain('bind failed');
  });
  it('missing base → down; DN not matching receive → l7-no-match', async () => {
    expect((await mod('ldap').run(target({ ip, port, request: '/ou=nope,dc=example,dc=test' }), ctx(3000))).ok).toBe(false);
    expect(await mod('ldap').run(target({ ip, port, request: base, receive: '^cn=' }), ctx(3000))).toMatchObject({ ok: false, status: 'l7-no-match' });
  });
  it('ldap check against the ldaps port → down (tls spoken by the server)', async () => {
    expect((await mod('ldap').run(target({ ip, port: tlsPort, request: base }), ctx(1500))).ok).toBe(false);
  });
});

// ------------------------------------------------------------------ PostgreSQL
const PG_BIN = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin`).find((b) => existsSync(`${b}/postgres`)) : undefined;
const PG_USER_OK = process.getuid?.() !== 0 || (() => {
  try {
    execFileSync('id', ['postgres'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!PG_BIN || !PG_USER_OK) console.warn('real-servers: postgresql not installed (apt-get install postgresql), pgsql tests skipped');
describe.skipIf(!PG_BIN || !PG_USER_OK)('pgsql against PostgreSQL', () => {
  const ip = '127.0.0.2';
  let port = 0;
  beforeAll(async () => {
    const d = tempDir('pg');
    const asUser = process.getuid?.() === 0 ? 'postgres' : undefined;
    writeFileSync(join(d, 'pw'), 'secretpw\n');
    if (asUser) {
      const uid = Number(execFileSync('id', ['-u', asUser]).toString());
      chownSync(d, uid, -1);
      chownSync(join(d, 'pw'), uid, -1);
    }
    const run = (cmd: string, args: string[]) =>
      asUser ? execFileSync('runuser', ['-u', asUser, '--', cmd, ...args], { stdio: 'ignore' }) : execFileSync(cmd, args, { stdio: 'ignore' });
    run(`${PG_BIN}/initdb`, ['-D', join(d, 'data'), '-U', 'ldir', '--auth=scram-sha-256', `--pwfile=${join(d, 'pw')}`, '-N']);
    port = await freePort(ip);
    start(`${PG_BIN}/postgres`, ['-D', join(d, 'data'), '-k', d, '-h', ip, '-p', String(port), '-F'], { asUser });
    // Killing runuser does not reach postgres: stop the postmaster by the pid it recorded.
    cleanups.push(() => {
      try {
        process.kill(Number(readFileSync(join(d, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]), 'SIGQUIT');
      } catch {
        /* not running */
      }
    });
    await waitTcp(ip, port);
  });
  const base = { login: 'ldir', passwd: 'secretpw', database: 'postgres' };
  it('query with a row → up; without rows → down', async () => {
    const up = await mod('pgsql').run(target({ ip, port, ...base, request: '/SELECT 1' }), ctx(5000));
    expect(up).toMatchObject({ ok: true, status: 'ok' });
    const none = await mod('pgsql').run(target({ ip, port, ...base, request: '/SELECT 1 WHERE false' }), ctx(5000));
    expect(none).toMatchObject({ ok: false, status: 'l7-no-match' });
  });
  it('wrong password → down; bad SQL → down; unknown database → down', async () => {
    expect(await mod('pgsql').run(target({ ip, port, ...base, passwd: 'x', request: '/SELECT 1' }), ctx(5000))).toMatchObject({ ok: false, status: 'l7-bad-status' });
    expect(await mod('pgsql').run(target({ ip, port, ...base, request: '/SELEKT 1' }), ctx(5000))).toMatchObject({ ok: false, status: 'l7-bad-response' });
    expect((await mod('pgsql').run(target({ ip, port, ...base, database: 'nope', request: '/SELECT 1' }), ctx(5000))).ok).toBe(false);
  });
});

// ------------------------------------------------------------------ MariaDB
const MARIADBD = which('mariadbd') ?? which('mysqld');
const INSTALL_DB = which('mariadb-install-db') ?? which('mysql_install_db');
if (!MARIADBD || !INSTALL_DB) console.warn('real-servers: mariadb-server not installed (apt-get install mariadb-server), mysql tests skipped');
describe.skipIf(!MARIADBD || !INSTALL_DB)('mysql against MariaDB', () => {
  const ip = '127.0.0.3';
  let port = 0;
  beforeAll(async () => {
    const d = tempDir('mariadb');
    writeFileSync(join(d, 'init.sql'), [
      'CREATE DATABASE IF NOT EXISTS checks;',
      'CREATE TABLE IF NOT EXISTS checks.director (enabled INT);',
      'INSERT INTO checks.director VALUES (1);',
      'CREATE TABLE IF NOT EXISTS checks.empty (enabled INT);',
      "CREATE USER IF NOT EXISTS 'ldir'@'%' IDENTIFIED BY 'secretpw';",
      "GRANT ALL ON checks.* TO 'ldir'@'%';", '',
    ].join('\n'));
    const user = process.getuid?.() === 0 ? ['--user=root'] : [];
    execFileSync(INSTALL_DB!, ['--no-defaults', `--datadir=${d}/data`, ...user, '--auth-root-authentication-method=socket', '--skip-test-db'], { stdio: 'ignore' });
    port = await freePort(ip);
    start(MARIADBD!, ['--no-defaults', `--datadir=${d}/data`, `--socket=${d}/sock`, `--port=${port}`, `--bind-address=${ip}`, ...user,
      `--init-file=${d}/init.sql`, '--skip-log-bin', '--innodb-buffer-pool-size=16M', '--skip-name-resolve', `--pid-file=${d}/pid`]);
    await waitTcp(ip, port, 30_000);
  });
  const base = { login: 'ldir', passwd: 'secretpw', database: 'checks' };
  it('query with a row → up; empty table → down', async () => {
    expect(await mod('mysql').run(target({ ip, port, ...base, request: '/SELECT * FROM director WHERE enabled=1' }), ctx(5000))).toMatchObject({ ok: true });
    expect(await mod('mysql').run(target({ ip, port, ...base, request: '/SELECT * FROM empty' }), ctx(5000))).toMatchObject({ ok: false, status: 'l7-no-match' });
  });
  it('wrong password → down; missing table → down', async () => {
    const bad = await mod('mysql').run(target({ ip, port, ...base, passwd: 'x', request: '/SELECT 1' }), ctx(5000));
    expect(bad).toMatchObject({ ok: false, status: 'l7-bad-status' });
    expect(bad.message).toMatch(/Access denied/);
    expect(await mod('mysql').run(target({ ip, port, ...base, request: '/SELECT * FROM missing' }), ctx(5000))).toMatchObject({ ok: false, status: 'l7-bad-response' });
  });
});
