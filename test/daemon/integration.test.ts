// The daemon with the real parser, director, checks and the simulated IPVS table (LDIRECTORD_SIM_STATE
// makes the daemon save the simulated table to a file after each change): health checks drive the
// table, a bad config on reload leaves the table as it was, a good one changes it, stop cleans up.
import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import http from 'node:http';
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { build, ld, tmp, until, read, killPidFile, httpOk as listen, closeHttp as close, ROOT } from '../cli/helpers.js';

const ready = ['dist/engine/director.js', 'dist/ipvs-sim/sim-driver.js'].every((p) => existsSync(join(ROOT, p)) || existsSync(join(ROOT, p.replace('dist/', 'src/').replace(/\.js$/, '.ts'))));
if (!ready) console.warn('daemon integration tests skipped: the director or the simulated IPVS driver is not built yet');

interface Table {
  services: { service: { vaddr: string }; dests: { rs: string; weight: number }[] }[];
}

describe.skipIf(!ready)('daemon over the simulated table', () => {
  let dir: string;
  const servers: http.Server[] = [];
  beforeAll(() => build());
  afterEach(async () => {
    killPidFile(join(dir, 'ldirectord.i.cf.pid'));
    await Promise.all(servers.splice(0).map(close));
  });

  it('checks drive the table; a bad reload leaves it unchanged; a good one applies; stop cleans up', async () => {
    dir = tmp();
    const a = await listen('127.0.0.2', 0);
    servers.push(a);
    const port = (a.address() as { port: number }).port;
    const b = await listen('127.0.0.3', port);
    servers.push(b);
    const log = join(dir, 'ld.log');
    const state = join(dir, 'table.json');
    const conf = (reals: string[], extra = '') =>
      `logfile="${log}"\ncheckinterval=1\nchecktimeout=1\nnegotiatetimeout=1\n${extra}virtual=127.0.0.1:${port}\n` +
      reals.map((r) => `\treal=${r}:${port} masq\n`).join('') +
      `\tservice=http\n\trequest="health"\n\treceive="OK"\n`;
    writeFileSync(join(dir, 'i.cf'), conf(['127.0.0.2', '127.0.0.3']));
    const env = { LDIRECTORD_RUNDIR: dir, LDIRECTORD_SIM_STATE: state };
    const table = (): Table => JSON.parse(read(state) || '{"table":{"services":[]}}').table;
    const up = () => table().services.flatMap((s) => s.dests.filter((d) => d.weight > 0).map((d) => d.rs)).sort();

    expect((await ld(['./i.cf', 'start'], { cwd: dir, env })).code).toBe(0);
    await until(() => up().join() === `127.0.0.2:${port},127.0.0.3:${port}`, 20_000, 'both reals in the table');

    // A real that stops answering leaves the table.
    await close(b);
    await until(() => up().join() === `127.0.0.2:${port}`, 20_000, 'the stopped real removed');

    // show --json reads the running daemon's state: which real is down, and why.
    await until(() => read(join(dir, 'ldirectord.i.cf.state.json')).includes('"down"'), 10_000, 'state file updated');
    const shown = await ld(['./i.cf', 'show', '--json'], { cwd: dir, env });
    expect(shown.code).toBe(0);
    const reals = JSON.parse(shown.stdout).virtuals[0].reals as { real: string; state: string; reason: { layer: string } | null }[];
    expect(reals.find((x) => x.real === `127.0.0.2:${port}`)).toMatchObject({ state: 'up', reason: null });
    expect(reals.find((x) => x.real === `127.0.0.3:${port}`)).toMatchObject({ state: 'down', reason: { layer: 'l4-refused' } });

    // A bad config on reload: logged with FILE:LINE, the table stays as it is.
    const before = read(state);
    writeFileSync(join(dir, 'i.cf'), conf(['127.0.0.2']) + 'bogus=1\n');
    expect((await ld(['./i.cf', 'reload'], { cwd: dir, env })).code).toBe(2); // the command parses it too
    const pid = Number(read(join(dir, 'ldirectord.i.cf.pid')));
    process.kill(pid, 'SIGHUP');
    await until(() => /i\.cf:\d+: .*bogus/.test(read(log)), 10_000, 'bad reload logged');
    await new Promise((r) => setTimeout(r, 2500));
    expect(JSON.parse(read(state)).table).toEqual(JSON.parse(before).table);

    // A good one: the virtual now has only 127.0.0.2.
    writeFileSync(join(dir, 'i.cf'), conf(['127.0.0.2']));
    process.kill(pid, 'SIGHUP');
    await until(() => table().services.length === 1 && table().services[0].dests.length === 1, 20_000, 'reloaded table');

    expect((await ld(['./i.cf', 'stop'], { cwd: dir, env })).code).toBe(0);
    await until(() => !existsSync(join(dir, 'ldirectord.i.cf.pid')), 10_000, 'stopped');
    // cleanstop (default yes): the virtual is gone from the table.
    expect(table().services).toHaveLength(0);
    expect(read(log)).toContain('Linux Director Daemon terminated on signal: TERM');
  });

  it('the state file: a completed cycle alone is rewritten every 5 s at most; a real going down is written at once', async () => {
    dir = tmp();
    const a = await listen('127.0.0.2', 0);
    servers.push(a);
    const port = (a.address() as { port: number }).port;
    writeFileSync(join(dir, 'i.cf'), `checkinterval=1\nchecktimeout=1\nvirtual=127.0.0.1:${port}\n\treal=127.0.0.2:${port} masq\n\tchecktype=connect\n`);
    const env = { LDIRECTORD_RUNDIR: dir, LDIRECTORD_SIM_STATE: join(dir, 'table.json') };
    const statePath = join(dir, 'ldirectord.i.cf.state.json');
    const file = (): { writtenAt: number; snapshot: { cycle: { count: number }; reals: { state: string }[] } } | undefined => {
      try {
        return JSON.parse(read(statePath));
      } catch {
        return undefined; // not there yet
      }
    };
    expect((await ld(['./i.cf', 'start'], { cwd: dir, env })).code).toBe(0);
    await until(() => file()?.snapshot.reals[0]?.state === 'up', 20_000, 'the real up in the state file');
    // Cycles run each second; the file follows them every 5 s at most.
    const writes: { at: number; cycle: number }[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 11_000) {
      const f = file();
      if (f && f.writtenAt !== writes.at(-1)?.at) writes.push({ at: f.writtenAt, cycle: f.snapshot.cycle.count });
      await new Promise((r) => setTimeout(r, 100));
    }
    const later = writes.slice(1);
    expect(later.length, JSON.stringify(writes)).toBeGreaterThanOrEqual(1);
    for (let i = 1; i < writes.length; i++) expect(writes[i]!.at - writes[i - 1]!.at, JSON.stringify(writes)).toBeGreaterThanOrEqual(4500);
    expect(writes.at(-1)!.cycle).toBeGreaterThan(writes[0]!.cycle);
    // A state change does not wait for that: closed right after a write, the real's fall is in the next one,
    // long before 5 s (a refused connect, failurecount=1: the next cycle; the daemon's 1 s tick writes it).
    await until(() => file()!.writtenAt !== writes.at(-1)!.at, 20_000, 'the next write');
    const lastWrite = file()!.writtenAt;
    await close(a);
    servers.splice(servers.indexOf(a), 1);
    await until(() => file()?.snapshot.reals[0]?.state === 'down', 20_000, 'the real down in the state file');
    const down = file()!;
    expect(down.snapshot.cycle.count).toBeGreaterThan(0);
    expect(down.writtenAt - lastWrite).toBeGreaterThan(0);
    expect(down.writtenAt - lastWrite).toBeLessThan(4500);
    expect((await ld(['./i.cf', 'stop'], { cwd: dir, env })).code).toBe(0);
  }, 60_000);
});
