// The OCF resource agents, driven as pacemaker drives them: compat/ocf/ldirectord (ours) and the
// stock ocf:heartbeat:ldirectord (Debian resource-agents) pointed at our command, each action run
// as a process, then pacemaker's own ocf-tester against both.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, cliWorks, makeInstance, waitFor, which, type Instance } from './helpers.js';
import { processBudgetMs } from '../support/load.js';

const OURS = join(ROOT, 'compat/ocf/ldirectord');
const STOCK = '/usr/lib/ocf/resource.d/heartbeat/ldirectord';
// ocf-tester validates the meta-data with xmllint; without it every run fails with rc=127 on meta-data.
const XMLLINT = which('xmllint');
const OCF_TESTER = XMLLINT ? which('ocf-tester') : undefined;
const cli = cliWorks();
if (!cli.ok) console.warn(`compat/ocf: daemon tests skipped: ${cli.why}`);
if (!OCF_TESTER) console.warn(`compat/ocf: ocf-tester tests skipped: ${XMLLINT ? 'ocf-tester' : 'xmllint'} not installed (Debian package ${XMLLINT ? 'resource-agents' : 'libxml2-utils'})`);
if (!existsSync(STOCK)) console.warn(`compat/ocf: stock agent tests skipped: ${STOCK} missing (Debian package resource-agents)`);

/**
 * Each agent action runs our command (a node process) once or more, start also the daemon and the fake
 * ipvsadm's processes: the tests' bounds count those starts at this machine's current start time, so a
 * busy machine stretches them (two CPU hogs took a five-action test past a fixed 60 s).
 */
const ACTION_STARTS = 4;
const budget = (actions: number, baseMs: number) => processBudgetMs(actions * ACTION_STARTS, baseMs);

const OCF = { NOT_RUNNING: 7, SUCCESS: 0, ERR_GENERIC: 1, ERR_INSTALLED: 5, ERR_CONFIGURED: 6, ERR_UNIMPLEMENTED: 3 };

function agent(path: string, action: string, inst: Instance | undefined, params: Record<string, string>, ocfRoot = '/usr/lib/ocf') {
  const env: NodeJS.ProcessEnv = { ...(inst ? inst.env : process.env), OCF_ROOT: ocfRoot, __OCF_ACTION: action };
  for (const [k, v] of Object.entries(params)) env[`OCF_RESKEY_${k}`] = v;
  const r = spawnSync(path, [action], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function ocfTester(path: string, inst: Instance): { code: number | null; out: string } {
  const r = spawnSync(OCF_TESTER as string, ['-v', '-n', 'lvs', '-o', `configfile=${inst.config}`, '-o', `ldirectord=${BIN}`, path], {
    env: inst.env,
    encoding: 'utf8',
    timeout: 170_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('compat/ocf/ldirectord without the daemon', () => {
  it('meta-data names the original parameters and defaults, and the actions', () => {
    const r = agent(OURS, 'meta-data', undefined, {});
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/<parameter name="configfile" unique="1">[\s\S]*?default="\/etc\/ha\.d\/ldirectord\.cf"/);
    expect(r.out).toMatch(/<parameter name="ldirectord">[\s\S]*?default="\/usr\/sbin\/ldirectord"/);
    for (const a of ['start', 'stop', 'monitor', 'validate-all', 'meta-data']) expect(r.out).toContain(`<action name="${a}"`);
  });

  it('usage is 0, an unknown action 3, a missing config or command 5 (also without ocf-shellfuncs)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ldts-ocf-'));
    try {
      for (const root of ['/usr/lib/ocf', dir]) {
        expect(agent(OURS, 'usage', undefined, {}, root).code).toBe(0);
        const params = { configfile: join(dir, 'none.cf'), ldirectord: BIN };
        expect(agent(OURS, 'monitor', undefined, params, root).code).toBe(OCF.ERR_INSTALLED);
        expect(agent(OURS, 'start', undefined, { configfile: BIN, ldirectord: join(dir, 'nobin') }, root).code).toBe(OCF.ERR_INSTALLED);
        expect(agent(OURS, 'frobnicate', undefined, { configfile: BIN, ldirectord: BIN }, root).code).toBe(OCF.ERR_UNIMPLEMENTED);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
    }
  });
});

describe.skipIf(!cli.ok)('compat/ocf/ldirectord driving our daemon', () => {
  let inst: Instance;
  beforeAll(async () => {
    inst = await makeInstance();
  });
  afterAll(async () => {
    await inst?.close();
    if (inst) rmSync(inst.dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
  });

  for (const root of ['/usr/lib/ocf', '/nonexistent-ocf-root']) {
    it(`start, monitor, start again, stop, monitor again, validate-all (OCF_ROOT=${root})`, async () => {
      const p = { configfile: inst.config, ldirectord: BIN };
      expect(agent(OURS, 'monitor', inst, p, root).code).toBe(OCF.NOT_RUNNING);
      expect(agent(OURS, 'start', inst, p, root).code).toBe(OCF.SUCCESS);
      expect(existsSync(join(inst.dir, 'ldirectord.ld.cf.pid'))).toBe(true);
      // the daemon really runs: the virtual is in the (fake) table and the listening real is added
      expect(await waitFor(() => inst.table().includes(`-a -t 127.0.0.10:8080 -r 127.0.0.2:${inst.port} -m`), budget(1, 10_000))).toBe(true);
      expect(agent(OURS, 'monitor', inst, p, root).code).toBe(OCF.SUCCESS);
      expect(agent(OURS, 'start', inst, p, root).code).toBe(OCF.SUCCESS);
      expect(agent(OURS, 'stop', inst, p, root).code).toBe(OCF.SUCCESS);
      // stop returns only once the daemon has removed its services and exited
      expect(inst.table()).not.toContain('127.0.0.10:8080');
      expect(existsSync(join(inst.dir, 'ldirectord.ld.cf.pid'))).toBe(false);
      expect(agent(OURS, 'monitor', inst, p, root).code).toBe(OCF.NOT_RUNNING);
      expect(agent(OURS, 'stop', inst, p, root).code).toBe(OCF.SUCCESS);
      expect(agent(OURS, 'validate-all', inst, p, root).code).toBe(OCF.SUCCESS);
      const bad = agent(OURS, 'validate-all', inst, { configfile: inst.badConfig, ldirectord: BIN }, root);
      expect(bad.code).toBe(OCF.ERR_CONFIGURED);
      expect(bad.out).toMatch(/bad\.cf:4/);
    }, budget(11, 60_000));
  }

  it('a stale pid file is "not running" (7) and start replaces it', () => {
    const p = { configfile: inst.config, ldirectord: BIN };
    // pid 1 is no ldirectord: the pid file is stale
    spawnSync('sh', ['-c', `echo 1 > '${join(inst.dir, 'ldirectord.ld.cf.pid')}'`]);
    expect(agent(OURS, 'monitor', inst, p).code).toBe(OCF.NOT_RUNNING);
    expect(agent(OURS, 'start', inst, p).code).toBe(OCF.SUCCESS);
    expect(agent(OURS, 'monitor', inst, p).code).toBe(OCF.SUCCESS);
    expect(agent(OURS, 'stop', inst, p).code).toBe(OCF.SUCCESS);
    expect(agent(OURS, 'monitor', inst, p).code).toBe(OCF.NOT_RUNNING);
  }, budget(5, 30_000));

  it.skipIf(!OCF_TESTER)('ocf-tester passes', () => {
    const r = ocfTester(OURS, inst);
    if (r.code !== 0) console.warn(r.out);
    expect(r.out).toContain('passed all tests');
    expect(r.code).toBe(0);
  }, 180_000);
});

describe.skipIf(!cli.ok || !existsSync(STOCK))('stock ocf:heartbeat:ldirectord driving our daemon unchanged', () => {
  let inst: Instance;
  beforeAll(async () => {
    inst = await makeInstance();
  });
  afterAll(async () => {
    await inst?.close();
    if (inst) rmSync(inst.dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
  });

  it('start, monitor, stop, monitor again; a bad config makes monitor fail (1)', async () => {
    const p = { configfile: inst.config, ldirectord: BIN };
    expect(agent(STOCK, 'monitor', inst, p).code).toBe(OCF.NOT_RUNNING);
    expect(agent(STOCK, 'start', inst, p).code).toBe(OCF.SUCCESS);
    expect(await waitFor(() => inst.table().includes('-A -t 127.0.0.10:8080'), budget(1, 10_000))).toBe(true);
    expect(agent(STOCK, 'monitor', inst, p).code).toBe(OCF.SUCCESS);
    expect(agent(STOCK, 'start', inst, p).code).toBe(OCF.SUCCESS);
    expect(agent(STOCK, 'stop', inst, p).code).toBe(OCF.SUCCESS);
    // `ldirectord stop` only signals (as the original): the daemon leaves shortly after
    expect(await waitFor(() => agent(STOCK, 'monitor', inst, p).code === OCF.NOT_RUNNING, 15_000)).toBe(true);
    expect(inst.table()).not.toContain('127.0.0.10:8080');
    expect(agent(STOCK, 'validate-all', inst, p).code).toBe(OCF.SUCCESS);
    const bad = agent(STOCK, 'monitor', inst, { configfile: inst.badConfig, ldirectord: BIN });
    expect(bad.code).toBe(OCF.ERR_GENERIC);
    expect(bad.out).toContain('has configuration errors');
  }, budget(9, 40_000));

  it('the daemon title holds "<bin> <config> start", which the stock stop fallback pgreps for', async () => {
    const p = { configfile: inst.config, ldirectord: BIN };
    expect(agent(STOCK, 'start', inst, p).code).toBe(OCF.SUCCESS);
    const pid = Number(spawnSync('cat', [join(inst.dir, 'ldirectord.ld.cf.pid')], { encoding: 'utf8' }).stdout.trim());
    expect(pid).toBeGreaterThan(1);
    // the daemon's title holds the text the stock agent's stop looks for
    const pg = spawnSync('pgrep', ['-f', `${BIN} ${inst.config} start`], { encoding: 'utf8' });
    expect(pg.stdout.split('\n').map(Number)).toContain(pid);
  }, budget(2, 30_000));

  it.skipIf(!OCF_TESTER)('ocf-tester passes on the stock agent (stop waits until the daemon is gone)', () => {
    spawnSync(process.execPath, [BIN, inst.config, 'stop'], { env: inst.env });
    const r = ocfTester(STOCK, inst);
    const failures = r.out.split('\n').filter((l) => /^\* rc=|failed/.test(l) && !/does not support/.test(l));
    expect(failures).toEqual([]);
    expect(r.out).toContain('passed all tests');
  }, 180_000);
});
