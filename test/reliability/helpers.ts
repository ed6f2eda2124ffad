/**
 * Helpers of the reliability suite: the built command run as a user would (detached `start` with its
 * pid file in a temp run directory), the fake ipvsadm, in-test servers on 127.0.0.x, RSS sampling.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { tmp as hostTmp } from '../support/host.js';
export { freePort } from '../support/net.js';
import { build, ld, until, read, alive, ROOT, BIN, type RunResult } from '../cli/helpers.js';
import { installFakeIpvsadm, readFakeLog, readFakeTable, type FakeInvocation } from '../fake-ipvsadm/install.js';

export { build, ld, until, read, alive, ROOT, BIN, readFakeLog, readFakeTable };
export type { RunResult, FakeInvocation };

/**
 * Why the daemon cannot run over ipvsadm yet (undefined when it can): the director must have landed
 * and the daemon's driver import must resolve.
 */
export function daemonSkipReason(): string | undefined {
  if (!existsSync(join(ROOT, 'src/engine/director.ts'))) return 'src/engine/director.ts (createDirector) has not landed';
  if (!existsSync(join(ROOT, 'src/ipvs/ipvsadm-driver.ts'))) return 'src/ipvs/ipvsadm-driver.ts has not landed';
  return undefined;
}

export function skipNote(what: string, reason: string | undefined): boolean {
  if (reason) console.warn(`${what} skipped: ${reason}`);
  return reason !== undefined;
}

export function tmp(prefix = 'ldrel-'): string {
  return hostTmp(prefix);
}

/** A daemon under test: its directory, config, fake ipvsadm files, log. */
export class Rig {
  readonly dir: string;
  readonly cfg: string;
  readonly state: string;
  readonly fakeLog: string;
  readonly log: string;
  readonly ipvsadm: string;
  readonly pidFile: string;
  readonly stateFile: string;
  constructor(
    readonly name = 'r.cf',
    dir?: string,
  ) {
    this.dir = dir ?? tmp();
    this.cfg = join(this.dir, name);
    this.state = join(this.dir, 'ipvs.json');
    this.fakeLog = join(this.dir, 'ipvsadm.log');
    this.log = join(this.dir, 'ld.log');
    this.ipvsadm = join(this.dir, 'bin', 'ipvsadm');
    this.pidFile = join(this.dir, `ldirectord.${name}.pid`);
    this.stateFile = join(this.dir, `ldirectord.${name}.state.json`);
    this.setFaults({});
  }

  /** (Re)installs the fake with these fault variables, atomically (a running daemon sees old or new). */
  setFaults(env: Record<string, string>): void {
    const side = join(this.dir, 'bin.next');
    mkdirSync(side, { recursive: true });
    const p = installFakeIpvsadm(side, { state: this.state, log: this.fakeLog, env });
    mkdirSync(join(this.dir, 'bin'), { recursive: true });
    renameSync(p, this.ipvsadm);
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return { LDIRECTORD_RUNDIR: this.dir, LDIRECTORD_IPVSADM: this.ipvsadm, ...extra };
  }

  run(args: string[], extra: Record<string, string> = {}): Promise<RunResult> {
    return ld([this.cfg, ...args], { cwd: this.dir, env: this.env(extra) });
  }

  async start(extra: Record<string, string> = {}): Promise<number> {
    const r = await this.run(['start'], extra);
    if (r.code !== 0) throw new Error(`start failed (${r.code}): ${r.stdout}${r.stderr}\n${read(this.log)}`);
    await until(() => this.pid() > 0, 10_000, 'pid file');
    return this.pid();
  }

  pid(): number {
    return Number(read(this.pidFile).trim()) || 0;
  }

  /** Reals with weight > 0 in the fake's table, as "vaddr>rs" sorted. */
  up(): string[] {
    return this.entries().filter((e) => e.weight > 0).map((e) => e.key);
  }

  entries(): { key: string; weight: number }[] {
    return readFakeTable(this.state).services.flatMap((s) => s.dests.map((d) => ({ key: `${s.service.vaddr}>${d.rs}`, weight: d.weight }))).sort((a, b) => a.key.localeCompare(b.key));
  }

  invocations(): FakeInvocation[] {
    return readFakeLog(this.fakeLog);
  }

  logText(): string {
    return read(this.log);
  }

  /**
   * Kills the daemon and what it started (SIGKILL to its process group: it runs in its own session, so
   * an ipvsadm it spawned dies with it instead of writing into the directory being removed), then
   * removes the directory, retrying while a straggler still renames files into it.
   */
  cleanup(): void {
    const pid = this.pid();
    if (pid > 0) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          /* gone, or not a group leader */
        }
      }
      const end = Date.now() + 2000;
      while (running(pid) && Date.now() < end) spawnSync('sleep', ['0.02']);
    }
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
  }
}

/** Alive and not a zombie (a killed detached daemon may wait unreaped where pid 1 does not reap). */
function running(pid: number): boolean {
  if (!alive(pid)) return false;
  const stat = read(`/proc/${pid}/stat`);
  return !/\) Z /.test(stat);
}

/** A TCP listener on ip:port answering nothing special (connect checks). */
export function tcpListen(ip: string, port: number, onConn?: (s: net.Socket) => void): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const sockets = new Set<net.Socket>();
    const srv = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      if (onConn) onConn(s);
      else s.end();
    });
    (srv as net.Server & { destroyAll?: () => void }).destroyAll = () => {
      for (const s of sockets) s.destroy();
    };
    srv.once('error', reject);
    srv.listen(port, ip, () => resolve(srv));
  });
}

export function closeServer(s: net.Server | undefined): Promise<void> {
  if (!s) return Promise.resolve();
  (s as net.Server & { destroyAll?: () => void }).destroyAll?.();
  return new Promise((r) => s.close(() => r()));
}

/** VmRSS of a process in kB (from /proc). */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pids of live fake ipvsadm processes of this state file (found by their environment). */
export function fakeProcesses(state: string, extra = ''): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const env = readFileSync(`/proc/${d}/environ`, 'utf8');
      if (env.includes(`FAKE_IPVSADM_STATE=${state}\0`) && env.includes(extra)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}
