// The control socket (issue 18) on its own: mode 0600, one JSON request per line with a size limit,
// junk answered and harmless, peer uid read through sock_diag (a non-root peer is refused), and the
// admin state file (atomic write, corrupt file moved aside).
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { execa } from 'execa';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer, MAX_REQUEST_BYTES, type ControlReply } from '../../src/daemon/control.js';
import { sendRequest, buildRequest, adminCommand } from '../../src/cli/admin.js';
import { hostsFileResolver } from '../../src/config/resolver.js';
import type { AdminRequest } from '../../src/engine/admin.js';
import { loadState, saveState, HEALTH_MAX_AGE_MS } from '../../src/daemon/admin-store.js';

const dirs: string[] = [];
const servers: ControlServer[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The daemon's reply to a request sent, or the test fails with why none came. */
function replyOf(s: Awaited<ReturnType<typeof sendRequest>>): ControlReply {
  if ('reply' in s) return s.reply;
  throw new Error(`no reply: ${s.connectError}`);
}

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'admin-ctl-'));
  dirs.push(d);
  return d;
}

async function serve(extra: Partial<ConstructorParameters<typeof ControlServer>[0]> = {}) {
  const dir = tmp();
  const path = join(dir, 'ldirectord.t.cf.sock');
  const got: { req: AdminRequest; uid: number | undefined }[] = [];
  const logs: string[] = [];
  const s = new ControlServer({
    path,
    handle: async (req, uid): Promise<ControlReply> => {
      got.push({ req, uid });
      return req.real === '10.0.0.9:80' ? { ok: false, code: 'refused', message: 'no real server 10.0.0.9:80' } : { ok: true, message: `${req.op} done` };
    },
    log: (_l, m) => logs.push(m),
    ...extra,
  });
  servers.push(s);
  expect(await s.start()).toBe(true);
  return { dir, path, got, logs, s };
}

/** Writes raw bytes, collects every reply line until the daemon closes or `ms` pass. */
function raw(path: string, data: Buffer | string, ms = 3000, want = 1): Promise<string[]> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    let buf = '';
    const end = () => {
      clearTimeout(t);
      c.destroy();
      resolve(buf.split('\n').filter(Boolean));
    };
    const t = setTimeout(end, ms);
    c.on('connect', () => c.write(data));
    c.on('data', (d) => {
      buf += d;
      if (buf.split('\n').filter(Boolean).length >= want) end();
    });
    c.on('close', end);
    c.on('error', end);
  });
}

describe('control socket', () => {
  it('is created with mode 0600 and answers one JSON line per request line', async () => {
    const { path, got } = await serve();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).isSocket()).toBe(true);
    const r = await sendRequest(path, { op: 'drain', real: '10.0.0.2:80' });
    expect(r).toEqual({ reply: { ok: true, message: 'drain done' } });
    expect(got).toEqual([{ req: { op: 'drain', real: '10.0.0.2:80' }, uid: 0 }]);
    const lines = await raw(path, '{"op":"ready","real":"10.0.0.2:80"}\n{"op":"maint","real":"10.0.0.2:80","virtual":"7"}\n', 3000, 2);
    expect(lines.map((l) => JSON.parse(l).message)).toEqual(['ready done', 'maint done']);
  });

  it('junk, wrong shapes and oversized requests get an error reply and reach nothing; the server keeps serving', async () => {
    const { path, got } = await serve();
    const cases: [string | Buffer, string][] = [
      ['hello\n', 'bad-request'],
      ['[1,2]\n', 'bad-request'],
      ['null\n', 'bad-request'],
      ['{"op":"rm -rf /","real":"10.0.0.2:80"}\n', 'bad-request'],
      ['{"op":"weight","real":"10.0.0.2:80","weight":70000}\n', 'bad-request'],
      ['{"op":"drain","real":{"$gt":""}}\n', 'bad-request'],
      ['{"op":"drain","real":"10.0.0.2:80","__proto__":{"admin":true},"weight":1}\n', 'bad-request'],
      [Buffer.from([0xff, 0xfe, 0x00, 0x0a]), 'bad-request'],
      ['{"op":"drain","real":"' + 'x'.repeat(MAX_REQUEST_BYTES) + '"}\n', 'too-large'],
      ['{' + ' '.repeat(MAX_REQUEST_BYTES * 4), 'too-large'],
    ];
    for (const [data, code] of cases) {
      const lines = await raw(path, data);
      expect(lines.length, String(data).slice(0, 60)).toBe(1);
      expect(JSON.parse(lines[0])).toMatchObject({ ok: false, code });
    }
    // a connection that sends nothing, and one that sends half a line and hangs up
    await raw(path, '', 300, 1);
    await raw(path, '{"op":"dra', 300, 1);
    expect(got).toEqual([]);
    const r = await sendRequest(path, { op: 'drain', real: '10.0.0.9:80' });
    expect(r).toEqual({ reply: { ok: false, code: 'refused', message: 'no real server 10.0.0.9:80' } });
    expect(got.length).toBe(1);
  });

  it('a second server on the same path refuses to start while the first listens; a stale socket file is replaced', async () => {
    const { path } = await serve();
    const logs: string[] = [];
    const second = new ControlServer({ path, handle: async () => ({ ok: true, message: '' }), log: (_l, m) => logs.push(m) });
    expect(await second.start()).toBe(false);
    expect(logs.join()).toContain('another daemon listens');
    servers[0].close();
    expect(existsSync(path)).toBe(false);
    // stale: a socket file nobody listens on (its daemon was killed)
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(statSync(path).isSocket()).toBe(true);
    const third = new ControlServer({ path, handle: async () => ({ ok: true, message: 'third' }), log: () => {} });
    servers.push(third);
    expect(await third.start()).toBe(true);
    expect(replyOf(await sendRequest(path, { op: 'ready', real: '10.0.0.2:80' }))).toEqual({ ok: true, message: 'third' });
  });

  it.skipIf(process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0)(
    'a non-root peer: the socket mode keeps it out (EACCES, exit 4); with a wider mode the peer uid check refuses it (not-permitted, exit 4)',
    async () => {
      const { dir, path, got } = await serve();
      chmodSync(dir, 0o755);
      const client = join(dir, 'client.mjs');
      writeFileSync(
        client,
        `import net from 'node:net';
const c = net.connect(process.argv[2]);
c.on('connect', () => c.write(JSON.stringify({ op: 'drain', real: '10.0.0.2:80' }) + '\\n'));
c.on('data', (d) => { process.stdout.write(String(d)); c.destroy(); });
c.on('error', (e) => { process.stdout.write('ERR ' + e.code + '\\n'); });
`,
      );
      chmodSync(client, 0o644);
      // not spawnSync: the server answering is in this process
      const asNobody = () =>
        execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, client, path], { reject: false, timeout: 10_000 });
      let r = await asNobody();
      expect(r.stdout.trim()).toBe('ERR EACCES');
      chmodSync(path, 0o666); // as if an admin widened it by hand
      r = await asNobody();
      expect(JSON.parse(r.stdout)).toEqual({ ok: false, code: 'not-permitted', message: 'uid 65534 is not permitted (root only)' });
      expect(got).toEqual([]);
      // and root still may
      expect(replyOf(await sendRequest(path, { op: 'drain', real: '10.0.0.2:80' })).ok).toBe(true);
    },
  );
});

describe('admin command line', () => {
  const r = hostsFileResolver('10.0.0.9 web9\n', 'http 80/tcp www\n');
  it('resolves names and service ports; refuses bad values with one line', async () => {
    expect(await buildRequest('drain', ['web9:http'], r)).toEqual({ op: 'drain', real: '10.0.0.9:80' });
    expect(await buildRequest('weight', ['10.0.0.9', '7', '42'], r)).toEqual({ op: 'weight', real: '10.0.0.9', weight: 7, virtual: '42' });
    expect(await buildRequest('ready', ['[::1]:80', 'web9:80'], r)).toEqual({ op: 'ready', real: '[::1]:80', virtual: '10.0.0.9:80' });
    await expect(buildRequest('weight', ['10.0.0.9:80', '65536'], r)).rejects.toThrow(/bad weight "65536"/);
    await expect(buildRequest('weight', ['10.0.0.9:80', '-1'], r)).rejects.toThrow(/bad weight/);
    await expect(buildRequest('drain', ['nosuch:80'], r)).rejects.toThrow(/can not resolve nosuch/);
    await expect(buildRequest('drain', [], r)).rejects.toThrow(/usage: ldirectord \[configfile\] drain REAL \[VIRTUAL\]/);
  });

  it('exit codes: 0 done, 1 refused, 3 no daemon, with the messages on the right stream', async () => {
    const { path } = await serve();
    const run = async (verb: 'drain' | 'weight', args: string[], socketPath = path) => {
      let out = '';
      let err = '';
      const code = await adminCommand({ verb, args, cfgName: 't.cf', configPath: './t.cf', resolver: r, socketPath, out: (s) => (out += s), err: (s) => (err += s) });
      return { code, out, err };
    };
    expect(await run('drain', ['10.0.0.2:80'])).toEqual({ code: 0, out: 'drain done\n', err: '' });
    expect(await run('drain', ['10.0.0.9:80'])).toEqual({ code: 1, out: '', err: 'ldirectord: no real server 10.0.0.9:80\n' });
    expect(await run('weight', ['10.0.0.2:80', 'x'])).toEqual({ code: 1, out: '', err: 'ldirectord: bad weight "x": expected an integer from 0 to 65535\n' });
    expect(await run('drain', ['10.0.0.2:80'], join(tmp(), 'none.sock'))).toEqual({ code: 3, out: 'ldirectord is stopped for ./t.cf\n', err: '' });
  });
});

describe('admin state file', () => {
  const log: string[] = [];
  const l = (_lv: string, m: string) => void log.push(m);
  it('round trip; written atomically with mode 0600; health kept only while young', () => {
    const dir = tmp();
    const p = join(dir, 'sub', 'ldirectord.t.cf.admin.json');
    const now = 10_000_000;
    saveState(p, {
      version: 1, config: '/etc/ha.d/t.cf', savedAt: now,
      admin: [{ virtual: 'tcp:10.0.0.1:80', real: '10.0.0.2:80', state: 'drain', uid: 0, at: 5 }],
      health: {
        stoppedAt: now,
        reals: [{ virtual: 'tcp:10.0.0.1:80', real: '10.0.0.2:80', digest: 'abc' }, { virtual: 'tcp:10.0.0.1:80', real: '10.0.0.3:80', digest: 'def', rampedMs: 4000 }],
      },
    });
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['ldirectord.t.cf.admin.json']);
    const s = loadState(p, now + 1000, l);
    expect(s.admin).toEqual([{ virtual: 'tcp:10.0.0.1:80', real: '10.0.0.2:80', state: 'drain', uid: 0, at: 5 }]);
    expect([...s.health]).toEqual([['tcp:10.0.0.1:80|10.0.0.2:80', 'abc'], ['tcp:10.0.0.1:80|10.0.0.3:80', 'def']]);
    expect([...s.ramps]).toEqual([['tcp:10.0.0.1:80|10.0.0.3:80', 4000]]);
    const old = loadState(p, now + HEALTH_MAX_AGE_MS + 1, l);
    expect(old.health.size).toBe(0);
    expect(old.ramps.size).toBe(0);
    expect(old.admin.length).toBe(1);
  });

  it('a corrupt or malformed file is logged, moved aside, and the start goes on without it', () => {
    const dir = tmp();
    const p = join(dir, 'ldirectord.t.cf.admin.json');
    const badRamp = '{"version":1,"admin":[],"health":{"stoppedAt":1,"reals":[{"virtual":"x","real":"y","digest":"d","rampedMs":-5}]}}';
    for (const junk of ['{not json', '{"version":1,"admin":[{"virtual":"x","real":"y","state":"explode","at":1}]}', '{"version":2,"admin":[]}', '\u0000\u0001', badRamp]) {
      writeFileSync(p, junk);
      log.length = 0;
      const s = loadState(p, 42, l);
      expect(s.admin).toEqual([]);
      expect(existsSync(p)).toBe(false);
      expect(readFileSync(`${p}.corrupt-42`, 'utf8')).toBe(junk);
      expect(log.join('\n')).toMatch(/Corrupt admin state file .*starting without it/);
      rmSync(`${p}.corrupt-42`);
    }
    expect(loadState(join(dir, 'missing.json'), 1, l).admin).toEqual([]);
  });
});
