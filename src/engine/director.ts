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
import { CheckLimiter, nextSlot, spreadOffset } from '../checks/pacing.js';
import { serverString } from '../checks/target.js';
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
   * How often the table is read back and repaired even when nothing changed (ms; 0 = never), in place
   * of the config's `readbackinterval` (tests). Default: that directive, absent = 0, as the original,
   * which never looks again until its next change.
   */
  verifyMs?: number;
}

const MAINTENANCE_RESULT: CheckResult = { ok: false, status: 'maintenance', message: 'Server in maintenance', durationMs: 0 };

/** A check that never started: its cycle was cancelled while it waited for a slot (reported, then ignored). */
const CANCELLED_RESULT: CheckResult = { ok: false, status: 'internal', message: 'cancelled before it started', durationMs: 0 };

/** checkspread: due checks are gathered at most this often (ms), so a large table costs few wake-ups. */
const SPREAD_QUANTUM_MS = 20;

/** checkspread (ours): the job's fixed offset in its interval. */
function jobOffset(j: CheckJob): number {
  return spreadOffset(j.virtual.vid, j.key, j.virtual.checkinterval * 1000);
}

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
  /** The cycles in flight (one at a time, several with checkspread), to cancel them. */
  private readonly cycleAcs = new Set<AbortController>();
  private readonly due = new Map<string, number>();
  /** maxconcurrentchecks (ours): the director's limit on checks in flight; undefined = none. */
  private limiter?: CheckLimiter;
  /** Checks that started later than their checkinterval in the current burst (0 = none). */
  private lateStarts = 0;
  /**
   * checkspread (ours) on some virtual: the loop starts due checks without waiting for the checks
   * already running (one slow real delays nobody); the keys being checked and the running batches.
   */
  private spreadLoop = false;
  private readonly inFlight = new Set<string>();
  private readonly batches = new Set<Promise<void>>();
  private wakeLoop?: () => void;
  /** When the loop last did its per-cycle work (ramp step, repair, verify) in the spread loop. */
  private lastRound = 0;
  /** The shortest checkinterval of the config (ms): the spread loop's cycle. */
  private shortestMs = 1000;
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
  /**
   * The table start or reload has just read: the sync that follows plans against it instead of reading
   * it again at once (one ipvsadm process fewer on the way to the first table write).
   */
  private justRead?: IpvsTable;
  /**
   * The table as the last batch left it, listed back by the driver in the same step (appliedTable()),
   * kept only when every command of the batch took effect: the next change is planned against it instead
   * of a new read (one ipvsadm process instead of two per change). A real read still comes whenever a
   * sync failed or a real drains (connection counts), and every readbackinterval when that is set.
   */
  private applied?: IpvsTable;
  /** When the table was last read (clock ms): the verify interval counts from it. */
  private lastReadAt = 0;
  /** The periodic read back (ms; 0 = none): `verifyMs`, else the config's readbackinterval. */
  private verifyMs = 0;
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
    this.pace(config);
    this.applied = undefined;
    const table = await this.readOrEmpty();
    this.noteConns(table);
    this.justRead = this.needRepair ? undefined : table;
    this.handle(this.engine.start(config, table, init));
    await this.flush();
    this.justRead = undefined;
    // The original's initial full pass while still "starting" (reals of checkspread virtuals: at their slots).
    await this.cycle(this.firstChecks(this.engine.jobs()));
    await this.flush();
    this.running = true;
    this.startLoop();
  }

  async reload(config: Config): Promise<void> {
    await this.stopLoop();
    this.config = config;
    this.pace(config);
    this.epoch++;
    this.applied = undefined;
    const table = await this.readOrEmpty();
    this.justRead = this.needRepair ? undefined : table;
    this.handle(this.engine.reload(config, table));
    await this.flush();
    this.justRead = undefined;
    const keys = new Set(this.engine.jobs().map((j) => j.key));
    for (const k of [...this.due.keys()]) if (!keys.has(k)) this.due.delete(k);
    for (const k of [...this.timedOut]) if (!keys.has(k)) this.timedOut.delete(k);
    // New reals are due now (with checkspread: at their slot); kept ones keep their schedule.
    await this.cycle(this.firstChecks(this.engine.jobs().filter((j) => !this.due.has(j.key))));
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
    for (const ac of this.cycleAcs) ac.abort(new LdirError('LDIR_ERR_DAEMON', 'stopped'));
    await this.loopDone;
    while (this.batches.size) await Promise.all([...this.batches]);
    this.loopAc = undefined;
    this.loopDone = undefined;
    await this.syncing;
  }

  /** The pacing directives of a (new) config: the check limiter, and the loop checkspread needs. */
  private pace(config: Config): void {
    const max = config.global.maxconcurrentchecks;
    if (max === undefined) this.limiter = undefined;
    else if (this.limiter?.max !== max) this.limiter = new CheckLimiter(max);
    this.spreadLoop = config.virtuals.some((v) => v.checkspread === true);
    this.verifyMs = this.o.verifyMs ?? (config.global.readbackinterval ?? 0) * 1000;
    let shortest = Infinity;
    for (const v of config.virtuals) shortest = Math.min(shortest, v.checkinterval * 1000);
    this.shortestMs = Number.isFinite(shortest) ? Math.max(1000, shortest) : 1000;
  }

  /**
   * The jobs to check at once at a start or for the new reals of a reload. Those of checkspread virtuals
   * are not among them: each gets its first slot, within one checkinterval from now.
   */
  private firstChecks(jobs: readonly CheckJob[]): readonly CheckJob[] {
    if (!this.spreadLoop) return jobs;
    const now = this.clock.now();
    const out: CheckJob[] = [];
    for (const j of jobs) {
      if (j.virtual.checkspread) this.due.set(j.key, nextSlot(now, jobOffset(j), j.virtual.checkinterval * 1000));
      else out.push(j);
    }
    return out;
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
      if (!this.spreadLoop) {
        for (const j of jobs) next = Math.min(next, this.due.get(j.key) ?? now);
        if (next > now) await this.sleep(next - now, signal);
        if (signal.aborted) return;
        const t = this.clock.now();
        this.lagMs = Math.max(0, t - next);
        const dueJobs = jobs.filter((j) => (this.due.get(j.key) ?? t) <= t);
        await this.cycle(dueJobs);
        this.round();
        continue;
      }
      // checkspread: the due checks start now, whatever is still running; one pass over the jobs takes the
      // due ones and finds the next slot; the loop then sleeps until that slot (at least SPREAD_QUANTUM_MS,
      // so a large table costs few wake-ups) or until a batch ends. The per-cycle work is done once per
      // shortest checkinterval.
      const dueJobs: CheckJob[] = [];
      let earliest = Infinity;
      for (const j of jobs) {
        if (this.inFlight.has(j.key)) continue;
        const at = this.due.get(j.key) ?? now;
        if (at <= now) {
          dueJobs.push(j);
          if (at < earliest) earliest = at;
        } else if (at < next) next = at;
      }
      if (dueJobs.length) {
        this.lagMs = Math.max(0, now - earliest);
        this.launch(dueJobs);
      }
      if (now - this.lastRound >= this.shortestMs) this.round();
      const wait = next === Infinity ? this.shortestMs : Math.max(next - now, SPREAD_QUANTUM_MS);
      await this.sleep(wait, signal, true);
    }
  }

  /** The work of each cycle after its checks: slow-start steps, repair, drain progress, the periodic verify. */
  private round(): void {
    this.lastRound = this.clock.now();
    this.handle(this.engine.rampStep());
    const verifyMs = this.verifyMs;
    // While a real drains, each cycle reads the table for its connection counts.
    const draining = this.engine.draining().length > 0;
    if (this.needRepair || draining || (verifyMs > 0 && this.clock.now() - this.lastReadAt >= verifyMs)) this.requestSync();
  }

  /** checkspread: checks `jobs` without holding up the loop; it wakes the loop when they are done. */
  private launch(jobs: readonly CheckJob[]): void {
    for (const j of jobs) this.inFlight.add(j.key);
    const batch: Promise<void> = this.cycle(jobs)
      .catch((e) => this.log('error', `Check cycle failed: ${e instanceof Error ? e.stack : String(e)}`))
      .finally(() => {
        for (const j of jobs) this.inFlight.delete(j.key);
        this.batches.delete(batch);
        this.wakeLoop?.();
      });
    this.batches.add(batch);
  }

  /**
   * clock.sleep that also ends (resolves) when the signal aborts, whatever the clock does with it; with
   * `wakeable`, also when a checkspread batch ends (its reals are due again).
   */
  private sleep(ms: number, signal: AbortSignal, wakeable = false): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = wakeable ? new AbortController() : undefined;
      const done = (): void => {
        signal.removeEventListener('abort', done);
        if (timer) {
          if (this.wakeLoop === done) this.wakeLoop = undefined;
          timer.abort();
        }
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      if (timer) this.wakeLoop = done;
      this.clock.sleep(ms, timer?.signal ?? signal).then(done, done);
    });
  }

  /** Runs one pass over `jobs`; results go to the engine as they arrive. */
  private async cycle(jobs: readonly CheckJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const started = this.clock.now();
    const epoch = this.epoch;
    const ac = new AbortController();
    this.cycleAcs.add(ac);
    const maintDir = this.config?.global.maintenancedir;
    const lookup = this.maintenance;
    // runCheck's options: one object per signal (the scheduler's, one per cycle), not one per check.
    let lastOpts: { signal: AbortSignal; hostname: string; combinedState: Map<string, number> } | undefined;
    const base: DirectorRunCheck =
      this.o.runCheck ??
      ((job, signal) => runCheck(job, lastOpts?.signal === signal ? lastOpts : (lastOpts = { signal, hostname: this.hostname, combinedState: this.combinedState })));
    const limiter = this.limiter;
    const checked: DirectorRunCheck = limiter
      ? async (job, signal) => {
          // maxconcurrentchecks: wait for a slot; the check (and its timeout) starts once it has one.
          let release: () => void;
          try {
            release = await limiter.acquire(signal);
          } catch {
            return CANCELLED_RESULT;
          }
          try {
            this.noteStart(job, started, limiter);
            return await base(job, signal);
          } finally {
            release();
            if (this.lateStarts > 0 && limiter.waiting === 0 && limiter.active === 0) this.endLateBurst(limiter);
          }
        }
      : base;
    const run: DirectorRunCheck = maintDir
      ? async (job, signal) => ((await lookup(maintDir, job.real)) ? MAINTENANCE_RESULT : checked(job, signal))
      : checked;
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
      this.cycleAcs.delete(ac);
    }
    const ended = this.clock.now();
    this.lastDurationMs = ended - started;
    this.cycles++;
    for (const j of jobs) {
      const interval = j.virtual.checkinterval * 1000;
      if (j.virtual.checkspread) {
        // checkspread: the next slot of its own after this check (a check longer than the interval skips slots).
        const slot = this.due.get(j.key) ?? started;
        this.due.set(j.key, nextSlot(Math.max(ended, slot + 1), jobOffset(j), interval));
      }
      // The original sleeps checkinterval after the pass: the period is pass duration + interval.
      else this.due.set(j.key, ended + interval);
    }
    await this.syncing;
  }

  /** maxconcurrentchecks: a check that waited longer than its checkinterval for a slot is logged, once per burst. */
  private noteStart(job: CheckJob, enqueued: number, limiter: CheckLimiter): void {
    const waited = this.clock.now() - enqueued;
    if (waited <= job.virtual.checkinterval * 1000) {
      // A check on time again: the burst is over.
      if (this.lateStarts > 0) this.endLateBurst(limiter);
      return;
    }
    if (this.lateStarts++ > 0) return;
    this.log(
      'warn',
      `Checks wait longer than their checkinterval for one of maxconcurrentchecks=${limiter.max} slots: ` +
        `${serverString(job.real.ip, job.real.family)}:${job.real.port} (${job.virtual.vid}) started ${(waited / 1000).toFixed(1)} s late, ${limiter.waiting} more waiting`,
    );
  }

  private endLateBurst(limiter: CheckLimiter): void {
    const n = this.lateStarts;
    this.lateStarts = 0;
    this.log('info', `Check queue caught up: ${n} check${n === 1 ? '' : 's'} started later than their checkinterval (maxconcurrentchecks=${limiter.max})`);
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
    this.lastReadAt = this.clock.now();
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
        // One more pass when a batch's own listing shows the table was changed behind us (syncOnce's
        // drift): at most one per request, so a table that never settles waits for the next change (or
        // the readbackinterval read).
        let driftPass = false;
        do {
          this.syncAgain = false;
          const drift = await this.syncOnce();
          if (drift && !driftPass) {
            driftPass = true;
            this.syncAgain = true;
          }
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

  /**
   * Reads (or reuses) the table, plans and applies. Resolves true when the batch was planned against an
   * earlier batch's listing and its own listing shows that the table had changed meanwhile (an entry
   * deleted or edited by hand): what was planned is in, but the table is not yet as desired.
   */
  private async syncOnce(): Promise<boolean> {
    // Let results of the same tick coalesce, then read the table and plan against the freshest
    // desired state (changes that arrived while the read was running go in this batch too).
    await new Promise<void>((r) => setImmediate(r));
    const driver = this.o.driver;
    let results: readonly IpvsCommandResult[];
    let desired: DesiredTable;
    const now = this.clock.now();
    const verifyMs = this.verifyMs;
    const applied = this.applied;
    this.applied = undefined;
    const reuse =
      applied && !this.needRepair && (verifyMs <= 0 || now - this.lastReadAt < verifyMs) && this.engine.draining().length === 0 ? applied : undefined;
    const fresh = this.justRead ?? reuse;
    this.justRead = undefined;
    let current: IpvsTable;
    try {
      if (fresh) current = fresh;
      else {
        current = await driver.read();
        this.lastReadAt = now;
        this.noteConns(current);
      }
      desired = this.engine.desired();
      const cmds = planChanges(current, desired);
      results = cmds.length ? await driver.apply(cmds) : [];
    } catch (e) {
      this.needRepair = true;
      this.ipvsFailures++;
      this.log('error', `IPVS sync failed: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
    if (results.length) this.ipvsRuns++;
    const failed = results.filter((r) => !r.ok);
    this.needRepair = failed.length > 0;
    // Nothing to write: the table planned against is still the table; else the batch's own listing.
    if (!this.needRepair && driver.appliedTable) this.applied = results.length ? driver.appliedTable() : current;
    if (!this.needRepair && desired.remove.length) this.engine.forgetRemoved(desired.remove);
    for (const f of failed) {
      this.ipvsFailures++;
      this.log('error', `system(${f.commandLine}) failed: ${f.error ?? 'refused'}`);
    }
    // Planned against an earlier listing (not a read of this sync): does this batch's listing show what
    // was desired? If not, someone changed the table in between, and the next pass plans against it.
    return current === reuse && results.length > 0 && this.applied !== undefined && this.applied !== current && planChanges(this.applied, desired).length > 0;
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
