/**
 * The running daemon: the director started with the config, signals (TERM/INT… stop, HUP reloads), the
 * config file watched (the original's mtime + MD5 rule, autoreload, callback), execute= instances kept
 * in step, and the engine's events turned into the original's log lines, monitorfile lines and mails.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync, accessSync, constants as fsc, writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import type { Config, DaemonStatus } from '../model/config.js';
import type { Director, EngineEvent } from '../engine/types.js';
import type { IpvsDriver, IpvsCommand, SyncDaemon } from '../ipvs/types.js';
import { ConfigError } from '../util/errors.js';
import { systemClock } from '../util/clock.js';
import { destinationFor, type LdLogger } from '../log/logger.js';
import { removeOwnPidFile, runDir } from './pidfile.js';
import { systemHost } from './host.js';
import { wire, type Wiring } from './wiring.js';
import type { IpvsDriverSelection } from '../ipvs/select.js';
import { processRunner, type ProcessRunner } from '../util/process.js';
import { MonitorWriter } from '../alerts/monitor.js';
import { AlertManager } from '../alerts/mail.js';
import { setPingNotice } from '../checks/ping.js';
import { stateFilePath, writeStateFile } from '../observe/show.js';
import { renderMetrics, writeMetricsFile } from '../observe/metrics.js';
import { httpSpec, serveStatus, type StatusServer } from '../observe/http.js';
import { RecordingDriver } from '../ipvs/recording.js';
import { statusConfig } from '../observe/status.js';
import { LagMonitor, SystemdNotifier, isAlive } from '../observe/watchdog.js';
import { AdminService } from './admin-service.js';
import { SyncDaemonKeeper } from './sync-daemons.js';

/** Signals that stop the daemon (those of the original that Node can catch). */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGABRT', 'SIGXCPU', 'SIGXFSZ'];

export interface DaemonOptions {
  config: Config;
  /** The config path as the lookup resolved it (used in messages and passed to callback). */
  configPath: string;
  /** An absolute path to re-read it from after chdir("/"). */
  configReadPath: string;
  cfgName: string;
  debug: boolean;
  logger: LdLogger;
  /** The pid file this daemon owns (none with -d or supervised). */
  pidFile?: string;
  /** This program as invoked, for execute= instances. */
  self: string;
  /** ipvsadm found by the lookup. */
  ipvsadm: string;
  /** The parser, director and drivers (tests pass scripted ones; default: the real parts). */
  wiring?: Partial<Wiring>;
  /** Runs callback=, execute= and (through the director) fallbackcommand (default: the real runner). */
  runner?: ProcessRunner;
}

/** Bounds on the programs the daemon runs (the original's system() waits without one). */
export const CALLBACK_TIMEOUT_MS = 60_000;
/** An execute= instance's start waits for its daemon to report ready (itself bounded at 60 s). */
export const INSTANCE_TIMEOUT_MS = 120_000;

/** The environment changes for programs we start: never marked as our daemon child. */
export const CHILD_ENV: Readonly<Record<string, undefined>> = { LDIRECTORD_DAEMON_CHILD: undefined, LDIRECTORD_READY_FD: undefined };

/**
 * The driver the daemon uses: netlink or ipvsadm (src/ipvs/select.ts, LDIRECTORD_IPVS_DRIVER), or the
 * simulated table when LDIRECTORD_SIM_STATE names a file.
 */
async function makeDriver(wiring: Wiring, ipvsadm: string, logger: LdLogger, onSelect: (s: IpvsDriverSelection) => void): Promise<IpvsDriver> {
  const simState = process.env.LDIRECTORD_SIM_STATE;
  if (!simState) {
    const { driver, selection } = await wiring.selectIpvsDriver({
      env: process.env,
      ipvsadm,
      log: (level, m) => logger[level](m),
    });
    onSelect(selection);
    return driver;
  }
  const sim = wiring.createSimDriver();
  const save = async () => {
    const table = await sim.read();
    const tmp = `${simState}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ table, render: sim.render() }, null, 1) + '\n');
    renameSync(tmp, simState);
  };
  await save();
  const daemons = sim.syncDaemons;
  return {
    read: () => sim.read(),
    apply: async (cmds: readonly IpvsCommand[]) => {
      const r = await sim.apply(cmds);
      await save();
      return r;
    },
    ...(daemons
      ? {
          syncDaemons: {
            read: () => daemons.read(),
            start: (d: SyncDaemon) => daemons.start(d),
            stop: (role: SyncDaemon['role']) => daemons.stop(role),
          },
        }
      : {}),
  };
}

/**
 * How often at most the state file is rewritten when the only change is a completed check cycle (its
 * counter, the reals' last-check times): 1 ms per real, between 5 and 10 s. The file holds every real
 * (about 300 bytes each), so with 10 000 reals a write each second was megabytes of garbage a second, and
 * at 200 reals with checkinterval=1 the write each second was ~8% of the daemon's CPU (bench/README.md);
 * a state change or a status change is still written within the second, an admin verb before its reply.
 * `show` says how old the file is; the status page and /status.json are always live.
 */
export function stateCycleWriteMs(reals: number): number {
  return Math.min(10_000, Math.max(5000, reals));
}

/** How long a stop waits for its alert mails to be delivered. */
const STOP_MAIL_DEADLINE_MS = 5000;

/** Daemon runs until stopped; run() resolves with the exit status. */
export class Daemon {
  private config: Config;
  private status: DaemonStatus = 'starting';
  private director!: Director;
  private ops: Promise<unknown> = Promise.resolve();
  private stopping?: string;
  private resolveRun!: (code: number) => void;
  private timers: NodeJS.Timeout[] = [];
  private cfgMtime?: number;
  private cfgDigest?: string;
  private readonly monitor: MonitorWriter;
  private readonly alerts: AlertManager;
  private readonly hostname: string;
  private readonly statePath: string;
  private stateDirty = false;
  /** A check cycle completed since the last write (the only change): written at most every stateCycleWriteMs. */
  private cycleDirty = false;
  private stateWrittenAt = 0;
  /** Reals in the last state file written. */
  private stateReals = 0;
  private stateWriting = false;
  /** The state file write under way, if any. */
  private stateWrite?: Promise<void>;
  private readonly lag = new LagMonitor(500);
  private readonly systemd = new SystemdNotifier();
  private httpServer?: StatusServer;
  /** The driver, keeping its last table read for the status page. */
  private driver?: RecordingDriver;
  private lastCycleCount = -1;
  private lastCycleAt?: number;
  private readonly startedAt = Date.now();
  private ipvsDriver?: IpvsDriverSelection;
  private admin?: AdminService;
  /** The configured connection-sync daemons (syncdaemon= lines); idle without them. */
  private syncKeeper?: SyncDaemonKeeper;
  private readonly wiring: Wiring;
  private readonly runner: ProcessRunner;

  constructor(private readonly o: DaemonOptions) {
    this.config = o.config;
    this.wiring = wire(o.wiring);
    const run = o.runner ?? processRunner;
    // Whatever we start is never taken for our own daemon child.
    this.runner = (file, args, opts = {}) => run(file, args, { ...opts, env: { ...CHILD_ENV, ...opts.env } });
    this.hostname = process.env.HOSTNAME || osHostname();
    this.monitor = new MonitorWriter((file, e) => o.logger.error(`Error writing monitorfile ${file}: ${String(e)}`));
    this.alerts = new AlertManager({
      clock: systemClock,
      hostname: this.hostname,
      log: (level, m) => o.logger[level](m),
    });
    this.statePath = stateFilePath(runDir(), o.cfgName);
  }

  /** Starts the director and runs until a stop signal. */
  async run(): Promise<number> {
    const { logger } = this.o;
    const done = new Promise<number>((r) => (this.resolveRun = r));
    for (const s of STOP_SIGNALS) process.on(s, () => this.onStopSignal(s.replace(/^SIG/, '')));
    process.on('SIGHUP', () => this.enqueue(() => this.onHup()));
    process.on('SIGPIPE', () => {});
    process.on('unhandledRejection', (e) => logger.error(`Internal error: ${e instanceof Error ? e.stack : String(e)}`));
    process.on('uncaughtException', (e) => {
      // The kernel table is left as it is (traffic keeps flowing); the pid file goes, so status says stopped.
      logger.error(`Internal error, exiting: ${e instanceof Error ? e.stack : String(e)}`);
      if (this.o.pidFile) removeOwnPidFile(this.o.pidFile);
      process.exit(1);
    });

    if (this.config.global.fork) logger.info('fork=yes: accepted; checks run concurrently in this process without forking');
    setPingNotice((m) => logger.info(m)); // once, if ping checks fall back to the system ping
    this.driver = new RecordingDriver(await makeDriver(this.wiring, this.o.ipvsadm, logger, (sel) => (this.ipvsDriver = sel)));
    // The director runs fallbackcommand through the same runner (logged as system(...) as the original does).
    this.director = this.wiring.createDirector({
      driver: this.driver,
      host: systemHost,
      hostname: this.hostname,
      clock: systemClock,
      log: (level: 'debug' | 'info' | 'warn' | 'error', m: string) => logger[level](m),
      runner: this.runner,
    });
    this.director.onEvent((e) => this.onEvent(e));
    this.syncKeeper = new SyncDaemonKeeper({ ops: this.driver.syncDaemons, log: (level, m) => logger[level](m) });
    this.alerts.setConfig(this.config);
    this.alerts.setStatus('starting');
    this.recordConfigFile();
    const admin = new AdminService({
      cfgName: this.o.cfgName,
      configPath: this.o.configPath,
      log: (level, m) => logger[level](m),
      enqueue: (f) => this.enqueue(f),
      director: () => this.director,
      // An admin verb's reply waits for the state file: `show` right after it sees the change.
      changed: () => this.flushState(),
    });
    this.admin = admin;

    await this.enqueue(async () => {
      try {
        // Admin state (and the health saved at the last stop) is applied before the first table write.
        await this.director.start(this.config, admin.load());
      } catch (e) {
        logger.error(`Start failed: ${e instanceof Error ? e.message : String(e)}`);
        await this.exit(1);
        return;
      }
      // The sync daemons after the first table write: the table is in place before connections sync.
      await this.syncDaemons(() => this.syncKeeper!.apply(this.config.global.syncdaemons ?? []));
      await this.instances('start', this.config.global.execute);
      this.setStatus('running');
      admin.started();
      await admin.listen();
    });
    this.startTimers();
    await this.startObservers();
    return await done;
  }

  /** The status page, JSON and metrics (opt-in by environment), the lag monitor and the systemd watchdog. */
  private async startObservers(): Promise<void> {
    const { logger } = this.o;
    this.lag.start();
    const spec = httpSpec(process.env);
    if (spec) {
      try {
        this.httpServer = await serveStatus(spec, {
          snapshot: () => this.director.snapshot(),
          cycleCount: () => this.director.cycleCount(),
          config: () => this.config,
          table: () => this.driver?.last(),
          // At most one extra table read per 5 s however many pages are open (the director reads it
          // for its changes, and every readbackinterval when that is set).
          refreshTable: () => void this.driver?.refresh(5000),
          daemonStatus: () => this.status,
          ipvsDriver: () => this.ipvsDriver,
          syncDaemons: () => this.syncKeeper?.status() ?? [],
          configPath: this.o.configPath,
          pid: process.pid,
          hostname: this.hostname,
          metrics: () => this.metricsText(),
        }, { log: (level, m) => logger[level](m) });
        logger.info(`Serving metrics and the status page on http://${spec}/ (/, /status.json, /metrics)`);
      } catch (e) {
        logger.error(`Can not serve HTTP on ${spec}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (this.systemd.enabled) {
      void this.systemd.ready();
      this.systemd.start(() => {
        const g = this.config.global;
        const longest = Math.max(g.checkinterval, ...this.config.virtuals.map((v) => v.checkinterval + Math.max(v.checktimeout, v.negotiatetimeout)));
        return isAlive(
          { lagMs: this.lag.lastLagMs, lastCycleAt: this.lastCycleAt, cycleDeadlineMs: 2 * longest * 1000 + 5000 },
          Date.now(),
          10_000,
          this.startedAt,
        );
      });
    }
  }

  private metricsText(): string {
    return renderMetrics(this.director.snapshot(), {
      schedulerLagMs: this.lag.lastLagMs,
      mailsSent: this.alerts.counters.sent,
      mailsFailed: this.alerts.counters.failed,
    });
  }

  private setStatus(s: DaemonStatus): void {
    this.status = s;
    this.alerts.setStatus(s);
    this.stateDirty = true;
  }

  private enqueue<T>(f: () => Promise<T>): Promise<T | undefined> {
    const p = this.ops.then(async () => (this.stopping && f !== this.stopFn ? undefined : await f()));
    this.ops = p.catch((e) => this.o.logger.error(`Internal error: ${e instanceof Error ? e.stack : String(e)}`));
    return p;
  }

  private stopFn = async (): Promise<void> => {
    const { logger } = this.o;
    this.setStatus('stopping');
    for (const t of this.timers) clearInterval(t);
    void this.systemd.stopping();
    this.admin?.close();
    await this.instances('stop', this.config.global.execute);
    const health = this.admin?.health();
    // A stop signal can arrive while the driver is still being chosen, before there is a director.
    const director = this.director as Director | undefined;
    try {
      await director?.stop();
    } catch (e) {
      logger.error(`Stop failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    await this.syncDaemons(() => this.syncKeeper?.stop() ?? Promise.resolve());
    this.admin?.save(health);
    // The stop phase's mails go out before the exit, bounded: a dead SMTP server delays stop by seconds.
    await this.alerts.flush(STOP_MAIL_DEADLINE_MS).catch(() => {});
    logger.info(`Linux Director Daemon terminated on signal: ${this.stopping}`);
    await this.exit(0);
  };

  private onStopSignal(name: string): void {
    if (this.stopping) {
      // The original dies at once on a second stop signal ("Exit Handler Repeatedly Called").
      this.o.logger.info('Exit Handler Repeatedly Called');
      if (this.o.pidFile) removeOwnPidFile(this.o.pidFile);
      process.exit(1);
    }
    this.stopping = name;
    void this.enqueue(this.stopFn);
  }

  private async exit(code: number): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.lag.stop();
    this.systemd.stop();
    void this.httpServer?.close();
    this.admin?.close();
    if (this.o.pidFile) removeOwnPidFile(this.o.pidFile);
    try {
      unlinkSync(this.statePath);
    } catch {
      /* none */
    }
    await this.o.logger.close();
    this.resolveRun(code);
  }

  private async onHup(): Promise<void> {
    this.o.logger.info('Reloading Linux Director Daemon config on signal');
    await this.reload();
  }

  /** Re-reads the config; a bad one is logged with FILE:LINE and the running one stays. */
  private async reload(): Promise<void> {
    const { logger } = this.o;
    this.setStatus('reloading');
    // As the original's read_config: forget the file's time and checksum, so that the next file check
    // records them without calling the file changed (and without reloading again under autoreload).
    this.cfgMtime = undefined;
    this.cfgDigest = undefined;
    try {
      let next: Config;
      try {
        next = await this.wiring.parseConfig(this.o.configReadPath, { debug: this.o.debug });
      } catch (e) {
        if (e instanceof ConfigError || (e instanceof Error && 'format' in e)) {
          logger.error(`Error [${process.pid}] ${(e as ConfigError).format()} (the running configuration is kept)`);
          return;
        }
        throw e;
      }
      for (const w of next.warnings) logger.warn(this.wiring.formatWarning(w));
      const old = new Set(this.config.global.execute);
      const neu = new Set(next.global.execute);
      await this.instances('stop', [...old].filter((n) => !neu.has(n)));
      await this.instances('reload_or_start', [...neu].filter((n) => old.has(n)));
      await this.instances('start', [...neu].filter((n) => !old.has(n)));
      await this.director.reload(next);
      await this.syncDaemons(() => this.syncKeeper!.apply(next.global.syncdaemons ?? []));
      this.admin?.save(); // entries of reals the new config dropped are gone
      this.config = next;
      this.alerts.setConfig(next);
      logger.setDestination(destinationFor(next.global.logfile, { debug: this.o.debug, supervised: next.global.supervised }));
      logger.reopen();
      this.restartTimers();
    } finally {
      this.setStatus('running');
    }
  }

  /** execute=: `<self> <name> <cmd>` for each instance, one after the other. */
  private async instances(cmd: string, names: readonly string[]): Promise<void> {
    for (const name of names) {
      if (cmd === 'reload_or_start') {
        if ((await this.runSelf(name, 'reload')) !== 0) await this.runSelf(name, 'start');
      } else await this.runSelf(name, cmd);
    }
  }

  private runSelf(name: string, cmd: string): Promise<number> {
    return this.system(process.execPath, [this.o.self, name, cmd], {
      line: `${this.o.self} ${name} ${cmd}`,
      timeoutMs: INSTANCE_TIMEOUT_MS,
      inheritOutput: this.o.debug,
    });
  }

  /**
   * The original's system(): runs a program (never through a shell) and logs `system(LINE) failed: ...`
   * when it cannot be started or does not exit 0; resolves with its status (127: not started).
   */
  private async system(file: string, args: readonly string[], o: { line: string; timeoutMs: number; inheritOutput?: boolean }): Promise<number> {
    const { logger } = this.o;
    if (this.o.debug) logger.info(`Running system(${o.line})`);
    if (o.inheritOutput) logger.flush(); // the child writes to the same stderr
    const r = await this.runner(file, args, { timeoutMs: o.timeoutMs, discardOutput: !o.inheritOutput, inheritOutput: o.inheritOutput });
    if (r.spawnError !== undefined) {
      logger.info(`system(${o.line}) failed: ${r.osError ?? r.spawnError}`);
      return 127;
    }
    if (r.timedOut) logger.info(`system(${o.line}) failed: no exit within ${o.timeoutMs / 1000} s, killed`);
    else if (r.exitCode !== 0) logger.info(`system(${o.line}) failed: exit status ${r.exitCode ?? r.signal}`);
    return r.exitCode ?? 1;
  }

  /** Runs a sync-daemon step; it logs its own failures, and nothing it does may stop the daemon. */
  private async syncDaemons(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (e) {
      this.o.logger.error(`syncdaemon: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.stateDirty = true;
  }

  private startTimers(): void {
    const everyS = Math.max(1, this.config.global.checkinterval);
    this.timers.push(setInterval(() => void this.enqueue(() => this.checkConfigFile()), everyS * 1000));
    // The sync daemons: one read per global checkinterval, only while syncdaemon lines exist.
    if (this.syncKeeper?.active) {
      this.timers.push(setInterval(() => void this.enqueue(() => this.syncDaemons(() => this.syncKeeper!.check())), everyS * 1000));
    }
    this.timers.push(
      setInterval(() => {
        this.alerts.tick();
        this.noteCycle();
        // Only when an event or a completed cycle changed it: the file holds every real, so rewriting
        // it each second for nothing costs a large installation megabytes of garbage a second.
        void this.writeState();
        const textfile = process.env.LDIRECTORD_METRICS_TEXTFILE;
        if (textfile) void writeMetricsFile(textfile, this.metricsText()).catch(() => {});
      }, 1000),
    );
    void this.writeState(true);
  }

  private restartTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.startTimers();
  }

  /** Notes when the director completed a check cycle (for the watchdog). */
  private noteCycle(): void {
    try {
      const n = this.director.cycleCount();
      if (n !== this.lastCycleCount) {
        this.lastCycleCount = n;
        this.lastCycleAt = Date.now();
        this.cycleDirty = true;
      }
    } catch {
      /* no snapshot yet */
    }
  }

  /** Writes the state file now, after the write under way if there is one. */
  private async flushState(): Promise<void> {
    while (this.stateWrite) await this.stateWrite;
    await this.writeState(true);
  }

  private writeState(force = false): Promise<void> {
    const busy = this.stateWriting;
    const w = this.writeStateOnce(force);
    if (!busy && this.stateWriting) {
      this.stateWrite = w;
      void w.finally(() => {
        if (this.stateWrite === w) this.stateWrite = undefined;
      });
    }
    return w;
  }

  private async writeStateOnce(force: boolean): Promise<void> {
    // (half a tick of slack: the 1 s timer that calls this must not skip a tick for a few ms)
    const cycleDue = this.cycleDirty && Date.now() - this.stateWrittenAt >= stateCycleWriteMs(this.stateReals) - 500;
    if (!force && !this.stateDirty && !cycleDue) return;
    if (this.stateWriting) {
      this.stateDirty = true; // one write at a time (they share the temporary file); the next tick writes
      return;
    }
    this.stateDirty = false;
    this.cycleDirty = false;
    this.stateWriting = true;
    try {
      const snapshot = this.director.snapshot();
      this.stateReals = snapshot.reals.length;
      this.stateWrittenAt = Date.now();
      await writeStateFile(this.statePath, {
        version: 1,
        pid: process.pid,
        config: this.o.configPath,
        writtenAt: Date.now(),
        status: this.status,
        ...(this.ipvsDriver ? { ipvsDriver: this.ipvsDriver } : {}),
        snapshot,
        model: statusConfig(this.config),
        ...(this.driver?.last() ? { table: this.driver.last() } : {}),
        ...(this.syncKeeper?.active ? { syncDaemons: this.syncKeeper.status() } : {}),
      });
    } catch {
      /* the run directory may not be writable (-d as a user): show then says stopped */
    } finally {
      this.stateWriting = false;
    }
  }

  private digest(): string | undefined {
    try {
      return createHash('md5').update(readFileSync(this.o.configReadPath)).digest('hex');
    } catch {
      return undefined;
    }
  }

  private recordConfigFile(): void {
    try {
      this.cfgMtime = statSync(this.o.configReadPath).mtimeMs;
    } catch {
      this.cfgMtime = undefined;
    }
    this.cfgDigest = this.digest();
  }

  /** The original's check_cfgfile: only a changed mtime leads to hashing; a changed digest acts. */
  private async checkConfigFile(): Promise<void> {
    const { logger } = this.o;
    let mtime: number;
    try {
      mtime = statSync(this.o.configReadPath).mtimeMs;
    } catch {
      logger.warn(`Warning [${process.pid}]: can not open file ${this.o.configPath} for checking`);
      return;
    }
    if (mtime === this.cfgMtime) return;
    this.cfgMtime = mtime;
    const d = this.digest();
    if (d === undefined) {
      logger.warn(`Warning [${process.pid}]: can not open file ${this.o.configPath} for checking`);
      return;
    }
    if (this.cfgDigest !== undefined && d !== this.cfgDigest) {
      logger.info(`Configuration file '${this.o.configPath}' has changed on disk`);
      const cb = this.config.global.callback;
      if (this.config.global.autoreload) {
        logger.info(' - reread new configuration');
        this.cfgDigest = d;
        await this.reload();
      } else {
        logger.info(' - ignore new configuration');
      }
      if (cb) this.runCallback(cb);
    }
    this.cfgDigest = d;
  }

  /** callback=: run with the config path as its only argument, without a shell, if executable. */
  private runCallback(cb: string): void {
    try {
      accessSync(cb, fsc.X_OK);
    } catch {
      return;
    }
    void this.system(cb, [this.o.configPath], { line: `${cb} ${this.o.configPath}`, timeoutMs: CALLBACK_TIMEOUT_MS });
  }

  private onEvent(e: EngineEvent): void {
    const { logger } = this.o;
    this.stateDirty = true;
    switch (e.type) {
      case 'log':
        logger[e.level](e.message);
        break;
      case 'real-state':
      case 'fallback':
        logger.info(e.message);
        break;
      case 'monitor':
        void this.monitor.write(e.file, e.line);
        break;
    }
    try {
      this.alerts.onEvent(e);
    } catch (err) {
      logger.error(`emailalert: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
