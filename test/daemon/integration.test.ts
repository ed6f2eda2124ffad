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
});
