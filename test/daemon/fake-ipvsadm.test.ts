// The daemon driving the project's fake ipvsadm (test/fake-ipvsadm): through LDIRECTORD_IPVSADM when
// detached, and through ./ipvsadm under -d as the original does. The kernel table is read from the fake's
// state file: health drives it, a bad reload leaves it unchanged, a good one edits it, stop cleans up.
import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import http from 'node:http';
import { writeFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { build, ld, tmp, until, read, killPidFile, httpOk as listen, closeHttp as close, ROOT, BIN } from '../cli/helpers.js';
import { nodeStartMs } from '../support/load.js';
import { installFakeIpvsadm, readFakeTable, fakeSave } from '../fake-ipvsadm/install.js';

const ready = existsSync(join(ROOT, 'src/engine/director.ts')) && existsSync(join(ROOT, 'src/ipvs/ipvsadm-driver.ts'));
if (!ready) console.warn('fake-ipvsadm daemon tests skipped: the director or the ipvsadm driver is missing');

describe.skipIf(!ready)('daemon over the fake ipvsadm', () => {
  let dir: string;
  const servers: http.Server[] = [];
  // Measured once, before any real server listens: measuring blocks this process (spawnSync), and the
  // real servers below live in it: a 1 s check timing out during a measurement removed the reals.
  let startMs = 0;
  const budget = (starts: number, baseMs: number) => baseMs + starts * startMs;
  beforeAll(() => {
    build();
    startMs = nodeStartMs();
  });
  afterEach(async () => {
    killPidFile(join(dir, 'ldirectord.f.cf.pid'));
    await Promise.all(servers.splice(0).map(close));
  });

  async function twoServers(): Promise<number> {
    const a = await listen('127.0.0.2', 0);
    servers.push(a);
    const port = (a.address() as { port: number }).port;
    servers.push(await listen('127.0.0.3', port));
    return port;
  }
  const conf = (log: string, port: number, reals: string[]) =>
    `logfile="${log}"\ncheckinterval=1\nchecktimeout=1\nnegotiatetimeout=1\nvirtual=127.0.0.1:${port}\n` +
    reals.map((r) => `\treal=${r}\n`).join('') +
    `\tservice=http\n\trequest="/"\n\treceive="OK"\n`;
  const dests = (state: string) =>
    readFakeTable(state).services.flatMap((s) => s.dests.map((d) => `${d.rs}/${d.weight}`)).sort().join();

  it('detached with LDIRECTORD_IPVSADM: a bad reload leaves the kernel table unchanged, a good one edits it', async () => {
    dir = tmp();
    const port = await twoServers();
    const state = join(dir, 'ipvs.json');
    const fake = installFakeIpvsadm(join(dir, 'bin'), { state });
    const log = join(dir, 'ld.log');
    writeFileSync(join(dir, 'f.cf'), conf(log, port, [`127.0.0.2:${port} masq`, `127.0.0.3:${port} masq`]));
    const env = { LDIRECTORD_RUNDIR: dir, LDIRECTORD_IPVSADM: fake };
    expect((await ld(['./f.cf', 'start'], { cwd: dir, env })).code).toBe(0);
    // Start to table: the daemon and its fake ipvsadm calls are ~8 Node processes (seconds each on a busy machine).
    await until(() => dests(state) === `127.0.0.2:${port}/1,127.0.0.3:${port}/1`, budget(8, 20_000), 'both reals in the fake table');
    const pid = Number(read(join(dir, 'ldirectord.f.cf.pid')));

    const before = fakeSave(state);
    writeFileSync(join(dir, 'f.cf'), conf(log, port, [`127.0.0.2:${port} masq 7`]) + 'bogus=1\n');
    process.kill(pid, 'SIGHUP');
    await until(() => /f\.cf:\d+: .*bogus/.test(read(log)), budget(2, 10_000), 'bad reload logged');
    await new Promise((r) => setTimeout(r, 2500));
    expect(fakeSave(state)).toBe(before);

    // Good: 127.0.0.3 dropped, 127.0.0.2's weight edited in place.
    writeFileSync(join(dir, 'f.cf'), conf(log, port, [`127.0.0.2:${port} masq 7`]));
    process.kill(pid, 'SIGHUP');
    await until(() => dests(state) === `127.0.0.2:${port}/7`, budget(6, 20_000), 'edited table');

    expect((await ld(['./f.cf', 'stop'], { cwd: dir, env })).code).toBe(0);
    await until(() => !existsSync(join(dir, 'ldirectord.f.cf.pid')), budget(4, 10_000), 'stopped');
    expect(readFakeTable(state).services).toHaveLength(0);
  });

  it('-d runs ./ipvsadm from the working directory, in the foreground, without a pid file', async () => {
    dir = tmp();
    const port = await twoServers();
    const state = join(dir, 'ipvs.json');
    installFakeIpvsadm(dir, { state });
    writeFileSync(join(dir, 'f.cf'), conf(join(dir, 'unused.log'), port, [`127.0.0.2:${port} masq`]));
    const env: NodeJS.ProcessEnv = { ...process.env, LDIRECTORD_RUNDIR: dir };
    delete env.LDIRECTORD_IPVSADM;
    const child = spawn(process.execPath, [BIN, '-d', './f.cf', 'start'], { cwd: dir, env });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    try {
      await until(() => dests(state) === `127.0.0.2:${port}/1`, budget(8, 20_000), 'real in the fake table');
      expect(existsSync(join(dir, 'ldirectord.f.cf.pid'))).toBe(false);
      expect(err).toContain(`Added real server: 127.0.0.2:${port}`);
      const code = new Promise((r) => child.on('exit', (c) => r(c)));
      child.kill('SIGTERM');
      expect(await code).toBe(0);
      expect(readFakeTable(state).services).toHaveLength(0);
      expect(err).toContain('Linux Director Daemon terminated on signal: TERM');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
