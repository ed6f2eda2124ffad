/**
 * The director glues the pure Engine to the outside world: an IpvsDriver (ipvsadm or simulated), a
 * check runner, a clock, the host's files and names for maintenance files (MaintenanceHost), and
 * (optionally) a ProcessRunner for fallbackcommand. It does no file-system or DNS work itself.
 *
 * Loop: each real id is checked every checkinterval (the virtual's effective one); results are fed to
 * the engine as they arrive; desired-table changes are coalesced and synced through the driver at once
 * (a fast real's recovery is not held up by a slow check), with at most one sync in flight. Every sync
 * reads the table first, so what a previous batch failed to do is repaired by the next one.
 */
import { hostname as osHostname } from 'node:os';
import { runCheck } from '../checks/index.js';
import { runCycle } from '../checks/scheduler.js';
import type { CheckJob, CheckResult } from '../checks/types.js';
import type { Config } from '../model/config.js';
import { canonicalAddrPort, planChanges, serviceKey } from '../ipvs/plan.js';
import type { DesiredTable, IpvsCommandResult, IpvsDriver, IpvsTable } from '../ipvs/types.js';
import { systemClock, type Clock } from '../util/clock.js';
import { LdirError } from '../util/errors.js';
import type { ProcessRunner } from '../util/process.js';
import { Engine, type EngineInit, type EngineOutput, type HealthEntry } from './engine.js';
import { maintenanceLookup, type MaintenanceHost, type MaintenanceLookup } from './maintenance.js';
import type { Director, DirectorSnapshot, EngineEvent, RealSnapshot } from './types.js';
import type { AdminEntry, AdminReply, AdminRequest } from './admin.js';

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

/** Runs one check; must resolve (never reject) once the signal aborts. */
export type DirectorRunCheck = (job: CheckJob, signal: AbortSignal) => Promise<CheckResult>;

/** Runs one cycle of jobs, calling onResult as each result arrives; resolves when all reported. */
export type ScheduleCycle = (
  jobs: readonly CheckJob[],
  run: DirectorRunCheck,
  onResult: (job: CheckJob, result: CheckResult) => void,
  signal: AbortSignal,
) => Promise<void>;

export interface DirectorOptions {
  readonly driver: IpvsDriver;
  readonly clock?: Clock;
  readonly hostname?: string;
  readonly log?: LogFn;
  /** The check runner (default: src/checks runCheck with the cycle's signal). */
  readonly runCheck?: DirectorRunCheck;
  /** The cycle scheduler (default: src/checks runCycle, bounded concurrency). */
  readonly scheduleCycle?: ScheduleCycle;
  /** Bound on checks in flight for the default scheduler. */
  readonly concurrency?: number;
  /**
   * When given, the director runs fallbackcommand itself (argv split on blanks, no shell); the daemon
   * passes the one process runner. Without it the 'fallback-command' event is only emitted.
   */
  readonly runner?: ProcessRunner;
  /** The host's files and names, for maintenance files (the daemon gives src/daemon/host.ts's). */
  readonly host: MaintenanceHost;
  /** Replaces the maintenance-file lookup built on `host` (tests). */
  readonly maintenance?: MaintenanceLookup;
  /**
   * How often the table is read back and repaired even when nothing changed (ms, default 30 000; 0 =
   * never): an entry an admin deleted or edited by hand in a managed service converges back. The
   * original never looks again until its next change.
   */
  verifyMs?: number;
}

const MAINTENANCE_RESULT: CheckResult = { ok: false, status: 'maintenance', message: 'Server in maintenance', durationMs: 0 };

class DirectorImpl implements Director {
  private readonly o: DirectorOptions;
  private readonly clock: Clock;
  private readonly hostname: string;
  private readonly engine: Engine;
  private readonly maintenance: MaintenanceLookup;
  private readonly listeners: ((e: EngineEvent) => void)[] = [];
  private config?: Config;
  private running = false;
  private loopAc?: AbortController;
  private loopDone?: Promise<void>;
  private cycleAc?: AbortController;
  private readonly due = new Map<string, number>();
  /**
   * Reals whose last check ran into its timeout. Each cycle starts them first: they will take the whole
   * timeout again if still dead, and started first that wait overlaps the other checks instead of
   * following them (1000 reals with 100 silent ones: the cycle is the timeout, not the timeout plus the
   * time to start 900 checks).
   */
  private readonly timedOut = new Set<string>();
  private readonly combinedState = new Map<string, number>();
  private syncing?: Promise<void>;
  private syncAgain = false;
  private needRepair = false;
  /** When the table was last read and planned (clock ms). */
  private lastSyncAt = 0;
  /**
   * The table start or reload has just read: the sync that follows plans against it instead of reading
   * it again at once (one ipvsadm process fewer on the way to the first table write).
   */
  private justRead?: IpvsTable;
  private cycles = 0;
  private lastDurationMs = 0;
  private lagMs = 0;
  private ipvsRuns = 0;
  private ipvsFailures = 0;
  /** Serialises start/reload/stop against the loop's own engine updates. */
  private epoch = 0;
  /** ActiveConn/InActConn per `<service key>|<dest>` from the last table read (drain progress). */
  private conns = new Map<string, { active: number; inact: number }>();

  constructor(o: DirectorOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.hostname = o.hostname ?? osHostname();
    this.engine = new Engine({ clock: this.clock, hostname: this.hostname });
    this.maintenance = o.maintenance ?? maintenanceLookup(o.host);
  }

  onEvent(listener: (e: EngineEvent) => void): void {
    this.listeners.push(listener);
  }

  async start(config: Config, init?: EngineInit): Promise<void> {
    this.config = config;
    const table = await this.readOrEmpty();
    this.noteConns(table);
    this.justRead = this.needRepair ? undefined : table;
    this.handle(this.engine.start(config, table, init));
    await this.flush();
    this.justRead = undefined;
    // The original's initial full pass while still "starting".
    await this.cycle(this.engine.jobs());
    await this.flush();
    this.running = true;
    this.startLoop();
  }

  async reload(config: Config): Promise<void> {
    await this.stopLoop();
    this.config = config;
    this.epoch++;
    const table = await this.readOrEmpty();
    this.justRead = this.needRepair ? undefined : table;
    this.handle(this.engine.reload(config, table));
    await this.flush();
    this.justRead = undefined;
    const keys = new Set(this.engine.jobs().map((j) => j.key));
    for (const k of [...this.due.keys()]) if (!keys.has(k)) this.due.delete(k);
    for (const k of [...this.timedOut]) if (!keys.has(k)) this.timedOut.delete(k);
    // New reals are due now; kept ones keep their schedule.
    await this.cycle(this.engine.jobs().filter((j) => !this.due.has(j.key)));
    await this.flush();
    this.running = true;
    this.startLoop();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.stopLoop();
    this.epoch++;
    this.handle(this.engine.stop());
    await this.flush();
  }

  async admin(req: AdminRequest): Promise<AdminReply> {
    const { reply, output } = this.engine.admin(req);
    this.handle(output);
    await this.flush();
    return reply;
  }

  adminEntries(): AdminEntry[] {
    return this.engine.adminEntries();
  }

  healthEntries(): HealthEntry[] {
    return this.engine.healthEntries();
  }

  snapshot(): DirectorSnapshot {
    const s = this.engine.snapshot();
    let reals = s.reals;
    const draining = this.engine.draining();
    if (draining.length) {
      const at = new Map(draining.map((d) => [`${d.vid}|${d.rs}`, `${d.skey}|${d.dest}`]));
      reals = reals.map((r): RealSnapshot => {
        const k = r.admin === 'drain' ? at.get(`${r.vid}|${r.rs}`) : undefined;
        if (k === undefined) return r;
        const c = this.conns.get(k) ?? { active: 0, inact: 0 };
        return { ...r, drain: { state: c.active + c.inact === 0 ? 'drained' : 'draining', activeConn: c.active, inactConn: c.inact } };
      });
    }
    return {
      reals,
      fallbacks: s.fallbacks,
      cycle: { count: this.cycles, lastDurationMs: this.lastDurationMs, lagMs: this.lagMs },
      ipvsadm: { runs: this.ipvsRuns, failures: this.ipvsFailures },
    };
  }

  cycleCount(): number {
    return this.cycles;
  }

  /** The engine's desired table (for tests and `show`). */
  desired(): DesiredTable {
    return this.engine.desired();
  }

  // ---- loop ----

  private startLoop(): void {
    const ac = new AbortController();
    this.loopAc = ac;
    this.loopDone = this.loop(ac.signal).catch((e) => {
      if (!ac.signal.aborted) this.log('error', `Director loop failed: ${e instanceof Error ? e.stack : String(e)}`);
    });
  }

  private async stopLoop(): Promise<void> {
    this.loopAc?.abort(new LdirError('LDIR_ERR_DAEMON', 'stopped'));
    this.cycleAc?.abort(new LdirError('LDIR_ERR_DAEMON', 'stopped'));
    await this.loopDone;
    this.loopAc = undefined;
    this.loopDone = undefined;
    await this.syncing;
  }

  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.running) {
      const jobs = this.engine.jobs();
      if (jobs.length === 0) {
        await this.sleep(1000, signal);
        continue;
      }
      const now = this.clock.now();
      let next = Infinity;
      for (const j of jobs) next = Math.min(next, this.due.get(j.key) ?? now);
      if (next > now) await this.sleep(next - now, signal);
      if (signal.aborted) return;
      const t = this.clock.now();
      this.lagMs = Math.max(0, t - next);
      const dueJobs = jobs.filter((j) => (this.due.get(j.key) ?? t) <= t);
      await this.cycle(dueJobs);
      const verifyMs = this.o.verifyMs ?? 30_000;
      // While a real drains, each cycle reads the table for its connection counts.
      const draining = this.engine.draining().length > 0;
      if (this.needRepair || draining || (verifyMs > 0 && this.clock.now() - this.lastSyncAt >= verifyMs)) this.requestSync();
    }
  }

  /** clock.sleep that also ends (resolves) when the signal aborts, whatever the clock does with it. */
  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      this.clock.sleep(ms, signal).then(done, done);
    });
  }

  /** Runs one pass over `jobs`; results go to the engine as they arrive. */
  private async cycle(jobs: readonly CheckJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const started = this.clock.now();
    const epoch = this.epoch;
    const ac = new AbortController();
    this.cycleAc = ac;
    const maintDir = this.config?.global.maintenancedir;
    const lookup = this.maintenance;
    const base: DirectorRunCheck =
      this.o.runCheck ?? ((job, signal) => runCheck(job, { signal, hostname: this.hostname, combinedState: this.combinedState }));
    const run: DirectorRunCheck = maintDir
      ? async (job, signal) => ((await lookup(maintDir, job.real)) ? MAINTENANCE_RESULT : base(job, signal))
      : base;
    const onResult = (job: CheckJob, result: CheckResult): void => {
      // A reload or stop came in between; or it is cancelling this cycle right now (it aborts the cycle
      // before it moves the epoch on): a cancelled check reports down, and that is not the real's health.
      if (epoch !== this.epoch || ac.signal.aborted) return;
      if (result.status.endsWith('-timeout')) this.timedOut.add(job.key);
      else this.timedOut.delete(job.key);
      this.handle(this.engine.result(job.key, result));
    };
    const ordered = this.timedOut.size === 0 ? jobs : slowFirst(jobs, this.timedOut);
    try {
      await (this.o.scheduleCycle ?? this.defaultSchedule)(ordered, run, onResult, ac.signal);
    } finally {
      if (this.cycleAc === ac) this.cycleAc = undefined;
    }
    const ended = this.clock.now();
    this.lastDurationMs = ended - started;
    this.cycles++;
    // The original sleeps checkinterval after the pass: the period is pass duration + interval.
    for (const j of jobs) this.due.set(j.key, ended + j.virtual.checkinterval * 1000);
    await this.syncing;
  }

  private defaultSchedule: ScheduleCycle = async (jobs, run, onResult, signal) => {
    await runCycle(jobs, {
      runCheck: (job, o) => run(job, o.signal),
      onResult,
      signal,
      hostname: this.hostname,
      ...(this.o.concurrency ? { concurrency: this.o.concurrency } : {}),
    });
  };

  // ---- engine output, table sync ----

  private handle(out: EngineOutput): void {
    for (const e of out.events) {
      for (const l of this.listeners) {
        try {
          l(e);
        } catch (err) {
          this.log('error', `event listener failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (e.type === 'fallback-command' && this.o.runner) void this.runFallbackCommand(e.command, e.args);
    }
    if (out.changed) this.requestSync();
  }

  private async runFallbackCommand(command: string, args: readonly string[]): Promise<void> {
    const argv = command.trim().split(/\s+/);
    const line = [command, ...args].join(' ');
    this.log('debug', `Running system(${line})`);
    // Output to /dev/null as system() in a daemon: a server it starts in the background keeps no pipe of ours.
    const r = await this.o.runner!(argv[0], [...argv.slice(1), ...args], { timeoutMs: 60_000, discardOutput: true });
    if (r.spawnError) this.log('info', `system(${line}) failed: ${r.osError ?? r.spawnError}`);
    else if (r.exitCode !== 0) this.log('info', `system(${line}) failed: exit status ${r.exitCode ?? r.signal}`);
  }

  /**
   * The table at start or reload. When ipvsadm cannot list it (no IPVS module yet, a broken binary), the
   * original goes on as over an empty table and its commands fail one by one; so does this: the failure is
   * logged, the engine starts from an empty table, and every cycle retries the sync until one succeeds.
   */
  private async readOrEmpty(): Promise<IpvsTable> {
    try {
      return await this.o.driver.read();
    } catch (e) {
      this.needRepair = true;
      this.ipvsFailures++;
      this.log('error', `Can not read the IPVS table (will retry): ${e instanceof Error ? e.message : String(e)}`);
      return { services: [] };
    }
  }

  /** Coalesces sync requests: at most one in flight; one more runs after it when asked meanwhile. */
  private requestSync(): void {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = (async () => {
      try {
        do {
          this.syncAgain = false;
          await this.syncOnce();
        } while (this.syncAgain);
      } finally {
        this.syncing = undefined;
      }
    })();
  }

  /** Waits until every requested sync is done. */
  private async flush(): Promise<void> {
    while (this.syncing) await this.syncing;
  }

  private async syncOnce(): Promise<void> {
    // Let results of the same tick coalesce, then read the table and plan against the freshest
    // desired state (changes that arrived while the read was running go in this batch too).
    await new Promise<void>((r) => setImmediate(r));
    const driver = this.o.driver;
    let results: readonly IpvsCommandResult[];
    let desired: DesiredTable;
    this.lastSyncAt = this.clock.now();
    const fresh = this.justRead;
    this.justRead = undefined;
    try {
      const current = fresh ?? (await driver.read());
      if (!fresh) this.noteConns(current);
      desired = this.engine.desired();
      const cmds = planChanges(current, desired);
      results = cmds.length ? await driver.apply(cmds) : [];
    } catch (e) {
      this.needRepair = true;
      this.ipvsFailures++;
      this.log('error', `IPVS sync failed: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (results.length) this.ipvsRuns++;
    const failed = results.filter((r) => !r.ok);
    this.needRepair = failed.length > 0;
    if (!this.needRepair && desired.remove.length) this.engine.forgetRemoved(desired.remove);
    for (const f of failed) {
      this.ipvsFailures++;
      this.log('error', `system(${f.commandLine}) failed: ${f.error ?? 'refused'}`);
    }
  }

  /** Keeps the connection counts of the destinations of a table read (drain progress). */
  private noteConns(table: IpvsTable): void {
    const m = new Map<string, { active: number; inact: number }>();
    for (const s of table.services) {
      const sk = serviceKey(s.service.proto, s.service.vaddr, s.service.ipv6Fwm);
      for (const d of s.dests) if (d.activeConns || d.inactConns) m.set(`${sk}|${canonicalAddrPort(d.rs)}`, { active: d.activeConns ?? 0, inact: d.inactConns ?? 0 });
    }
    this.conns = m;
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    if (this.o.log) this.o.log(level, msg);
    else for (const l of this.listeners) l({ type: 'log', level, message: msg });
  }
}

/** createDirector: the Director the daemon runs (start once, reload on HUP, stop on TERM). */
export function createDirector(opts: DirectorOptions): Director & { desired(): DesiredTable } {
  return new DirectorImpl(opts);
}

/** slowFirst: the jobs whose key is in `first`, then the others, each part in its given order. */
function slowFirst(jobs: readonly CheckJob[], first: ReadonlySet<string>): CheckJob[] {
  const a: CheckJob[] = [];
  const b: CheckJob[] = [];
  for (const j of jobs) (first.has(j.key) ? a : b).push(j);
  return a.concat(b);
}
