/**
 * Differential runtime harness: the Perl original (/usr/sbin/ldirectord) and our daemon
 * (`node bin/ldirectord.js -d <cfg> start`), each in its own temp dir with its own copy of the fake
 * ipvsadm, same config, same real servers (TCP listeners on 127.0.0.0/8 started here). At each
 * checkpoint both fakes' tables (`ipvsadm -S -n` text) must be equal once both daemons have settled.
 */
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fakeSave, installFakeIpvsadm, readFakeState } from '../../fake-ipvsadm/install.js';
import { build } from '../../cli/helpers.js';
import { nodeStartMsAsync } from '../../support/load.js';

export const ROOT = resolve(__dirname, '../../..');
export const ORIGINAL = '/usr/sbin/ldirectord';
export const OURS = join(ROOT, 'bin/ldirectord.js');

/** Why the suite cannot run here, or undefined. */
export function skipReason(): string | undefined {
  if (!existsSync(ORIGINAL)) return `${ORIGINAL} (Debian package ldirectord) is not installed`;
  try {
    execFileSync('perl', ['-e', '1']);
  } catch {
    return 'perl is missing';
  }
  return undefined;
}

/**
 * Builds dist/ unless it is newer than every source (the test scripts build first). It used to run tsc
 * every time: tsc rewrites every output file, and a daemon of another test file starting meanwhile read
 * a half-written module ("does not provide an export named ...").
 */
export function buildOnce(): void {
  build();
}

/** A TCP real server on 127.x that can be started and killed. */
export class Real {
  private server?: net.Server;
  private readonly socks = new Set<net.Socket>();
  constructor(
    readonly ip: string,
    readonly port: number,
  ) {}
  async listen(): Promise<void> {
    if (this.server) return;
    const s = net.createServer((c) => {
      this.socks.add(c);
      c.on('close', () => this.socks.delete(c));
      c.on('error', () => {});
      c.end();
    });
    this.server = s;
    await new Promise<void>((res, rej) => {
      s.once('error', rej);
      s.listen(this.port, this.ip, () => res());
    });
  }
  async kill(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    for (const c of this.socks) c.destroy();
    await new Promise<void>((res) => s.close(() => res()));
  }
}

export interface Side {
  readonly name: 'orig' | 'ours';
  readonly dir: string;
  readonly state: string;
  child?: ChildProcess;
  output: string;
}

export class Pair {
  readonly root: string;
  /**
   * The config's file name, unique per pair: both daemons name their run files after it
   * (/var/run/ldirectord.<name>.pid, .sock, .state.json), and the original quits at start when that pid
   * file names a live ldirectord, so a shared `ld.cf` let any other daemon on the machine (another
   * case, another suite) stop a case's original before it began.
   */
  readonly cfName: string;
  readonly sides: [Side, Side];
  /**
   * @param vars per-side placeholders replaced in the config besides @DIR@ (e.g. each side's own
   *   SMTP sink), at start and at every hup().
   */
  constructor(
    readonly cf: string,
    private readonly vars: Partial<Record<'orig' | 'ours', Record<string, string>>> = {},
  ) {
    this.root = mkdtempSync(join(tmpdir(), 'ld-diff-'));
    this.cfName = `${basename(this.root)}.cf`;
    const mk = (name: 'orig' | 'ours'): Side => {
      const dir = join(this.root, name);
      mkdirSync(dir);
      const state = join(dir, 'state.json');
      installFakeIpvsadm(dir, { state, log: join(dir, 'ipvsadm.log') });
      return { name, dir, state, output: '' };
    };
    this.sides = [mk('orig'), mk('ours')];
    for (const s of this.sides) writeFileSync(join(s.dir, this.cfName), this.subst(s, cf));
  }

  private subst(side: Side, cf: string): string {
    let text = cf.replaceAll('@DIR@', side.dir);
    for (const [k, v] of Object.entries(this.vars[side.name] ?? {})) text = text.replaceAll(k, v);
    return text;
  }

  /** Loads the same table into both fakes (ipvsadm -R), for a restart over an existing table. */
  preload(restore: string): void {
    for (const s of this.sides) execFileSync(join(s.dir, 'ipvsadm'), ['-R'], { input: restore, cwd: s.dir });
  }

  /** Per-side path inside its dir (e.g. its maintenance directory). */
  path(side: Side, p: string): string {
    return join(side.dir, p);
  }

  start(): void {
    for (const s of this.sides) {
      const [cmd, args] = s.name === 'orig' ? [ORIGINAL, ['-d', this.cfName, 'start']] : [process.execPath, [OURS, '-d', this.cfName, 'start']];
      const c = spawn(cmd, args, { cwd: s.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: process.env.PATH } });
      c.stdout!.on('data', (b) => (s.output += b));
      c.stderr!.on('data', (b) => (s.output += b));
      s.child = c;
    }
  }

  /** Rewrites both configs and sends SIGHUP to both daemons (reload). */
  hup(cf: string): void {
    for (const s of this.sides) {
      writeFileSync(join(s.dir, this.cfName), this.subst(s, cf));
      s.child?.kill('SIGHUP');
    }
  }

  /** Stops both daemons and starts them again over the table they left. */
  async restart(): Promise<void> {
    await this.stop();
    this.start();
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.sides.map(
        (s) =>
          new Promise<void>((res) => {
            const c = s.child;
            if (!c || c.exitCode !== null || c.signalCode !== null) return res();
            // The original acts on TERM between two reals of a pass or in its sleep, and its stop runs
            // ipvsadm (a node process here) per entry: on a loaded machine that takes a while. It is
            // waited for as long as it makes progress (its output or its fake's log grows); a SIGKILL,
            // after 30 s without progress or 3 minutes in all, is noted in the side's output.
            const t0 = Date.now();
            let mark = '';
            let since = Date.now();
            const t = setInterval(() => {
              const now = `${s.output.length}/${fileSize(join(s.dir, 'ipvsadm.log'))}/${fileSize(s.state)}`;
              if (now !== mark) {
                mark = now;
                since = Date.now();
              }
              if (Date.now() - since < 30_000 && Date.now() - t0 < 180_000) return;
              clearInterval(t);
              s.output += `[harness: no exit ${Math.round((Date.now() - t0) / 1000)} s after SIGTERM (${Math.round((Date.now() - since) / 1000)} s without progress), SIGKILL]\n`;
              c.kill('SIGKILL');
            }, 500);
            c.once('exit', () => {
              clearInterval(t);
              res();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
  }

  /**
   * Both tables, every field of every entry: the `-S -n` lines (which leave out thresholds and tunnel
   * settings) and one line per destination with its forwarding, weight, upper/lower thresholds and
   * tunnel type/port/flags, sorted.
   */
  tables(): [string, string] {
    return [fullTable(this.sides[0].state), fullTable(this.sides[1].state)];
  }

  /**
   * Waits minMs, or less once both tables have changed since the call and are equal (both daemons
   * reacted: a step's effect shows within one check cycle, a second here, so the fixed wait is only the
   * bound for a step that changes nothing); then until both tables are equal and unchanged for stableMs.
   * While they differ it waits as long as either table still changes (a loaded machine slows the
   * original, which runs a node process per ipvsadm call), giving up after idleMs without a change or
   * maxMs in all. Returns both tables (the caller asserts equality, so a divergence shows as a diff).
   */
  async settle(minMs: number, stableMs = 2500, maxMs = 300_000, idleMs = 30_000, mustChange = false): Promise<[string, string]> {
    const t0 = Date.now();
    const [a0, b0] = this.tables();
    // mustChange (a start, which always writes the table): no fixed wait, only the change is awaited.
    while (Date.now() - t0 < (mustChange ? maxMs / 2 : minMs)) {
      const [a, b] = this.tables();
      if (a === b && a !== a0 && b !== b0) break;
      await sleep(250);
    }
    let last = '';
    let since = Date.now();
    // idleMs is the bound on an idle machine; once it has passed with the tables apart, ten process
    // starts at the machine's current start time are added (measured then, once, without blocking the
    // reals this process serves): beside a CPU hog the original, a Perl start and a node process per
    // ipvsadm call, went 30 s without a change mid-restart.
    let slowMs: number | undefined;
    for (;;) {
      const [a, b] = this.tables();
      const key = `${a}\u0000${b}`;
      if (key !== last) {
        last = key;
        since = Date.now();
      }
      if (a === b && Date.now() - since >= stableMs) return [a, b];
      if (a !== b && slowMs === undefined && Date.now() - since >= idleMs) slowMs = 10 * (await nodeStartMsAsync());
      if (a !== b && (Date.now() - since >= idleMs + (slowMs ?? 0) || Date.now() - t0 > maxMs)) return [a, b];
      for (const s of this.sides) if (s.child && s.child.exitCode !== null) return [a, b];
      await sleep(250);
    }
  }

  logs(): string {
    return this.sides.map((s) => `===== ${s.name}\n${s.output.split('\n').filter((l) => !/^DEBUG|uninitialized value/.test(l)).slice(-40).join('\n')}`).join('\n');
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
  }
}

/** fullTable: the `-S -n` lines and every field of every destination of a fake's state, sorted. */
export function fullTable(stateFile: string): string {
  const lines = [fakeSave(stateFile)];
  for (const s of readFakeState(stateFile).services) {
    const svc = s.fwmark ? `fwm ${s.fwmark}/${s.af}` : `${s.protocol} ${s.af === 6 ? `[${s.addr}]` : s.addr}:${s.port}`;
    for (const d of s.dests) {
      const rs = d.af === 6 ? `[${d.addr}]:${d.port}` : `${d.addr}:${d.port}`;
      lines.push(`= ${svc} -> ${rs} fwd=${d.fwd} w=${d.weight} x=${d.uthreshold} y=${d.lthreshold} tun=${d.tunType}/${d.tunPort}/${d.tunFlags}`);
    }
  }
  return norm(lines.join('\n'));
}

/** Sorted `-S -n` lines: the order of entries is the kernel's insertion order, which may differ. */
export function norm(save: string): string {
  return save
    .split('\n')
    .filter((l) => l.trim() !== '')
    .sort()
    .join('\n');
}

function fileSize(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return -1;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { readFileSync };
