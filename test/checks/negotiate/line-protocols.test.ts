/**
 * ftp, smtp/submission, pop/pops, imap/imaps, nntp against protocol-correct servers written here, and
 * the failure modes every check must survive: closed port, wrong answer, silence, slow drip, flood.
 */
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { negotiateModules } from '../../../src/checks/negotiate/index.js';
import type { CheckModule } from '../../../src/checks/types.js';
import { closedPort, ctx, dripServer, floodServer, lineServer, selfSigned, silentServer, target, tcpServer, type Server } from './helpers.js';

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});
async function keep(p: Promise<Server>): Promise<Server> {
  const s = await p;
  servers.push(s);
  return s;
}
function mod(name: string): CheckModule {
  const m = (negotiateModules as Record<string, CheckModule>)[name];
  if (!m) throw new Error(`no module ${name}`);
  return m;
}

const smtpAnswer = (ehlo: 'ok' | 'reject' | 'fail') => (line: string, s: net.Socket) => {
  if (line.startsWith('EHLO')) {
    if (ehlo === 'ok') return '250-mail.example hello\r\n250-PIPELINING\r\n250 8BITMIME\r\n';
    return ehlo === 'reject' ? '502 5.5.1 EHLO not implemented\r\n' : '421 4.3.0 busy\r\n';
  }
  if (line.startsWith('HELO')) return '250 mail.example\r\n';
  if (line === 'QUIT') {
    s.end('221 bye\r\n');
    return undefined;
  }
  return '500 what\r\n';
};

function popAnswer(pass: string) {
  let user = '';
  return (line: string, s: net.Socket) => {
    if (line.startsWith('USER ')) {
      user = line.slice(5);
      return '+OK user\r\n';
    }
    if (line.startsWith('PASS ')) return user === 'alice' && line.slice(5) === pass ? '+OK logged in\r\n' : '-ERR [AUTH] bad\r\n';
    if (line === 'STAT') return '+OK 0 0\r\n';
    if (line === 'QUIT') {
      s.end('+OK bye\r\n');
      return undefined;
    }
    return '-ERR unknown\r\n';
  };
}

function imapAnswer(pass: string) {
  return (line: string, s: net.Socket) => {
    const m = /^(\S+) (\S+) ?(.*)$/.exec(line);
    if (!m) return '* BAD\r\n';
    const [, tag, cmd, rest] = m;
    if (cmd === 'LOGIN') return rest === `alice "${pass.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` ? `* CAPABILITY IMAP4rev1\r\n${tag} OK LOGIN done\r\n` : `${tag} NO [AUTHENTICATIONFAILED] bad\r\n`;
    if (cmd === 'LOGOUT') {
      s.end(`* BYE\r\n${tag} OK bye\r\n`);
      return undefined;
    }
    return `${tag} BAD\r\n`;
  };
}

/** ftpServer: a small RFC 959 server with PASV/EPSV and RETR of in-memory files. */
function ftpServer(files: Record<string, string>, opts: { pass?: string; greeting?: string; host?: string } = {}): Promise<Server> {
  const host = opts.host ?? '127.0.0.1';
  return tcpServer((s) => {
    s.write(opts.greeting ?? '220-Welcome\r\n220 ready\r\n');
    let data: net.Server | undefined;
    let dataSock: Promise<net.Socket> | undefined;
    let buf = '';
    s.on('close', () => data?.close());
    s.on('data', async (d) => {
      buf += d.toString('latin1');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        const [cmd, ...args] = line.split(' ');
        const arg = args.join(' ');
        switch (cmd) {
          case 'USER':
            s.write(arg === 'anonymous' || arg === 'alice' ? '331 password please\r\n' : '530 no such user\r\n');
            break;
          case 'PASS':
            s.write(opts.pass === undefined || arg === opts.pass ? '230 logged in\r\n' : '530 Login incorrect\r\n');
            break;
          case 'CWD':
            s.write('250 ok\r\n');
            break;
          case 'TYPE':
            s.write('200 binary\r\n');
            break;
          case 'PASV':
          case 'EPSV': {
            data = net.createServer();
            dataSock = new Promise((r) => data!.once('connection', r));
            await new Promise<void>((r) => data!.listen(0, host, r));
            const p = (data.address() as net.AddressInfo).port;
            s.write(cmd === 'PASV' ? `227 Entering Passive Mode (127,0,0,1,${p >> 8},${p & 255})\r\n` : `229 Extended (|||${p}|)\r\n`);
            break;
          }
          case 'RETR': {
            const f = files[arg];
            if (f === undefined || !dataSock) {
              s.write('550 no such file\r\n');
              break;
            }
            s.write('150 opening\r\n');
            const ds = await dataSock;
            ds.on('error', () => undefined);
            ds.end(f, () => s.write('226 done\r\n'));
            break;
          }
          case 'QUIT':
            s.end('221 bye\r\n');
            break;
          default:
            s.write('502 no\r\n');
        }
      }
    });
  }, undefined, host);
}

describe('smtp and submission', () => {
  for (const name of ['smtp', 'submission']) {
    it(`${name}: 2xx greeting and EHLO → up`, async () => {
      const srv = await keep(lineServer('220-mail.example ESMTP\r\n220 ready\r\n', smtpAnswer('ok')));
      const r = await mod(name).run(target({ port: srv.port }), ctx());
      expect(r).toMatchObject({ ok: true, status: 'ok' });
      expect(r.message).toContain('EHLO: 250 8BITMIME');
    });
  }
  it('EHLO refused with 5xx → HELO → up', async () => {
    const srv = await keep(lineServer('220 old smtp\r\n', smtpAnswer('reject')));
    const r = await mod('smtp').run(target({ port: srv.port }), ctx());
    expect(r.ok).toBe(true);
    expect(r.message).toContain('sent HELO localhost.localdomain');
  });
  it('EHLO answered 4xx → down (no HELO)', async () => {
    const srv = await keep(lineServer('220 ok\r\n', smtpAnswer('fail')));
    const r = await mod('smtp').run(target({ port: srv.port }), ctx());
    expect(r).toMatchObject({ ok: false, status: 'l7-bad-status' });
    expect(r.message).toContain('421');
  });
  it('554 greeting → down l7-bad-status', async () => {
    const srv = await keep(lineServer('554 go away\r\n', smtpAnswer('ok')));
    const r = await mod('smtp').run(target({ port: srv.port }), ctx());
    expect(r).toMatchObject({ ok: false, status: 'l7-bad-status' });
    expect(r.message).toMatch(/greeting: unexpected "554 go away"/);
  });
});

describe('pop', () => {
  it('greeting only when login is empty → up', async () => {
    const srv = await keep(lineServer('+OK POP3 ready\r\n', popAnswer('pw')));
    const r = await mod('pop').run(target({ port: srv.port }), ctx());
    expect(r.ok).toBe(true);
  });
  it('USER/PASS/STAT with the right password → up', async () => {
    const srv = await keep(lineServer('+OK POP3 ready\r\n', popAnswer('pw')));
    const r = await mod('pop').run(target({ port: srv.port, login: 'alice', passwd: 'pw' }), ctx());
    expect(r).toMatchObject({ ok: true });
    expect(r.message).toContain('STAT: +OK 0 0');
    expect(r.message).not.toContain('pw');
  });
  it('wrong password → down', async () => {
    const srv = await keep(lineServer('+OK POP3 ready\r\n', popAnswer('pw')));
    const r = await mod('pop').run(target({ port: srv.port, login: 'alice', passwd: 'nope' }), ctx());
    expect(r).toMatchObject({ ok: false, status: 'l7-bad-status' });
    expect(r.message).toContain('PASS: unexpected');
  });
  it('-ERR greeting → down', async () => {
    const srv = await keep(lineServer('-ERR maintenance\r\n', popAnswer('pw')));
    const r = await mod('pop').run(target({ port: srv.port }), ctx());
    expect(r.ok).toBe(false);
  });
});

describe('imap', () => {
  it('* OK greeting, LOGIN → tagged OK → up', async () => {
    const srv = await keep(lineServer('* OK IMAP4rev1 ready\r\n', imapAnswer('p"w')));
    const r = await mod('imap').run(target({ port: srv.port, login: 'alice', passwd: 'p"w' }), ctx());
    expect(r).toMatchObject({ ok: true });
    expect(r.message).toContain('LOGIN: 0 OK');
  });
  it('LOGIN → NO → down', async () => {
    const srv = await keep(lineServer('* OK ready\r\n', imapAnswer('pw')));
    const r = await mod('imap').run(target({ port: srv.port, login: 'alice', passwd: 'bad' }), ctx());
    expect(r).toMatchObject({ ok: false, status: 'l7-bad-status' });
  });
  it('* BYE greeting → down l7-bad-response', async () => {
    const srv = await keep(lineServer('* BYE too many\r\n', imapAnswer('pw')));
    const r = await mod('imap').run(target({ port: srv.port }), ctx());
    expect(r).toMatchObject({ ok: false, status: 'l7-bad-response' });
  });
});

const cert = selfSigned();
describe.skipIf(!cert)('pops and imaps over TLS (self-signed, not verified)', () => {
  if (!cert) console.warn('negotiate tests: openssl missing, TLS tests skipped');
  it('pops with login → up', async () => {
    const srv = await keep(lineServer('+OK ready\r\n', popAnswer('pw'), cert));
    const r = await mod('pops').run(target({ port: srv.port, login: 'alice', passwd: 'pw' }), ctx());
    expect(r).toMatchObject({ ok: true });
    expect(r.message).toContain('tls ok');
  });
  it('imaps → up', async () => {
    const srv = await keep(lineServer('* OK ready\r\n', imapAnswer('pw'), cert));
    const r = await mod('imaps').run(target({ port: srv.port, login: 'alice', passwd: 'pw' }), ctx());
    expect(r).toMatchObject({ ok: true });
  });
  it('pops against a plain-text server → tls failure', async () => {
    const srv = await keep(lineServer('+OK plain\r\n', popAnswer('pw')));
    const r = await mod('pops').run(target({ port: srv.port }), ctx());
    expect(r).toMatchObject({ ok: false, status: 'tls' });
  });
});

describe('nntp', () => {
  it('200 greeting → up', async () => {
    const srv = await keep(lineServer('200 news.example ready\r\n', () => undefined));
    expect((await mod('nntp').run(target({ port: srv.port }), ctx())).ok).toBe(true);
  });
  it('502 greeting → down', async () => {
    const srv = await keep(lineServer('502 no permission\r\n', () => undefined));
    expect(await mod('nntp').run(target({ port: srv.port }), ctx())).toMatchObject({ ok: false, status: 'l7-bad-status' });
  });
  it('reads one chunk of at most 64 bytes: a flood is not a failure if it starts with 2', async () => {
    const srv = await keep(floodServer(100_000, '2'));
    expect((await mod('nntp').run(target({ port: srv.port }), ctx())).ok).toBe(true);
  });
});

describe('ftp', () => {
  const files = { '/index.html': 'Hello from the real\n', '/big': 'x'.repeat(2 * 1024 * 1024) };
  it('anonymous login, RETR, receive matches → up', async () => {
    const srv = await keep(ftpServer(files));
    const r = await mod('ftp').run(target({ port: srv.port, login: 'anonymous', passwd: 'ldirectord@x', request: '/index.html', receive: 'from the' }), ctx());
    expect(r).toMatchObject({ ok: true, status: 'ok' });
    expect(r.message).toContain('retrieved 20 bytes');
  });
  it('receive does not match → down l7-no-match', async () => {
    const srv = await keep(ftpServer(files));
    const r = await mod('ftp').run(target({ port: srv.port, login: 'anonymous', request: '/index.html', receive: '^Goodbye' }), ctx());
    expect(r).toMatchObject({ ok: false, status: 'l7-no-match' });
  });
  it('login refused → down', async () => {
    const srv = await keep(ftpServer(files, { pass: 'secret' }));
    const r = await mod('ftp').run(target({ port: srv.port, login: 'alice', passwd: 'wrong', request: '/index.html', receive: 'Hello' }), ctx());
    expect(r).toMatchObject({ ok: false, status: 'l7-bad-status' });
    expect(r.message).toContain('530');
  });
  it('missing file (550) → down', async () => {
    const srv = await keep(ftpServer(files));
    const r = await mod('ftp').run(target({ port: srv.port, login: 'anonymous', request: '/nope', receive: 'Hello' }), ctx());
    expect(r).toMatchObject({ ok: false, status: 'l7-bad-status' });
  });
  it('file over the cap → down, not matched partially', async () => {
    const srv = await keep(ftpServer(files));
    const r = await mod('ftp').run(target({ port: srv.port, login: 'anonymous', request: '/big', receive: 'x' }), ctx(4000));
    expect(r).toMatchObject({ ok: false, status: 'l7-bad-response' });
    expect(r.message).toMatch(/larger than/);
  });
});

// The failure modes shared by every line protocol.
const LINE_SERVICES = ['ftp', 'smtp', 'submission', 'pop', 'imap', 'nntp'];
describe.each(LINE_SERVICES)('%s failure modes', (name) => {
  const t = (port: number) => target({ port, login: 'anonymous', request: '/index.html', receive: 'x' });
  it('closed port → l4-refused', async () => {
    const r = await mod(name).run(t(await closedPort()), ctx());
    expect(r).toMatchObject({ ok: false, status: 'l4-refused' });
  });
  it('accepts and never answers → l7-timeout at the timeout', async () => {
    const srv = await keep(silentServer());
    const r = await mod(name).run(t(srv.port), ctx(400));
    expect(r).toMatchObject({ ok: false, status: 'l7-timeout' });
    expect(r.message).toMatch(/timeout after 400 ms/);
  });
  it('slow drip of a valid greeting → l7-timeout', async () => {
    const greeting = name === 'pop' ? '+OK ready\r\n' : name === 'imap' ? '* OK ready\r\n' : '220 ready\r\n';
    const srv = await keep(dripServer(name === 'nntp' ? '' : greeting));
    const r = await mod(name).run(t(srv.port), ctx(400));
    expect(r).toMatchObject({ ok: false, status: 'l7-timeout' });
  });
  it('oversized answer → read capped, down', async () => {
    const srv = await keep(floodServer(300_000));
    const r = await mod(name).run(t(srv.port), ctx(3000));
    expect(r.ok).toBe(false);
    if (name !== 'nntp') expect(r.message).toMatch(/longer than \d+ bytes/);
  });
  it('the caller\'s abort signal ends the check at once', async () => {
    const srv = await keep(silentServer());
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const r = await mod(name).run(t(srv.port), ctx(30_000, ac.signal));
    expect(r).toMatchObject({ ok: false });
    expect(r.message).toContain('aborted');
  });
});

describe('IPv6 reals', () => {
  it('smtp over [::1]', async () => {
    const srv = await keep(lineServer('220 v6\r\n', smtpAnswer('ok'), undefined, '::1'));
    const r = await mod('smtp').run(target({ ip: '::1', port: srv.port }), ctx());
    expect(r).toMatchObject({ ok: true });
    expect(r.message).toContain(`connect [::1]:${srv.port}`);
  });
  it('ftp over [::1] uses EPSV, as Net::FTP does on IPv6', async () => {
    const srv = await keep(ftpServer({ '/f': 'v6 content' }, { host: '::1' }));
    const r = await mod('ftp').run(target({ ip: '::1', port: srv.port, login: 'anonymous', request: '/f', receive: '^v6' }), ctx());
    expect(r).toMatchObject({ ok: true });
    expect(r.message).toContain('sent EPSV');
  });
});

describe('registry', () => {
  it('the checks-core registry picks up every negotiate module of this folder', async () => {
    const { serviceRegistry } = await import('../../../src/checks/index.js');
    const reg = await serviceRegistry();
    for (const name of ['dns', 'ftp', 'imap', 'imaps', 'ldap', 'ldaps', 'mysql', 'nntp', 'oracle', 'pgsql', 'pop', 'pops', 'radius', 'sip', 'smtp', 'submission']) {
      expect(reg[name as keyof typeof reg]).toBe((negotiateModules as Record<string, CheckModule>)[name]);
    }
  });
});
