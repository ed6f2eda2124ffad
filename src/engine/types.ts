import type { Config } from '../model/config.js';
import type { CheckResult } from '../checks/types.js';
import type { AdminEntry, AdminReply, AdminRequest } from './admin.js';

/** What a start carries over from the previous run (the daemon's state file). */
export interface EngineInit {
  /** Admin decisions, applied before the first table write. */
  readonly admin?: readonly AdminEntry[];
  /**
   * Reals that were up when the previous daemon stopped (adminKey -> realDigest then), already filtered
   * for age by the caller: one still in the table with the same digest is taken as up until its first
   * check (no flap).
   */
  readonly health?: ReadonlyMap<string, string>;
  /**
   * slowstart (ours): reals whose weight was ramping up when the previous daemon stopped (adminKey -> ms
   * of the ramp done then), filtered like health. Their ramp resumes where it was instead of starting
   * over or being skipped as the start's own reals' ramp is.
   */
  readonly ramps?: ReadonlyMap<string, number>;
}

/** One real's health for the state file at stop. */
export interface HealthEntry {
  readonly virtual: string;
  readonly real: string;
  readonly digest: string;
  /** slowstart (ours): how far its weight's ramp had gone (ms) when it is still ramping; absent otherwise. */
  readonly rampedMs?: number;
}

/**
 * EngineEvent is something the engine decided that the outside world acts on: a log line with the
 * original's text, an alert, a fallbackcommand to run. The daemon subscribes a logger to them; the
 * engine itself performs no I/O.
 */
export type EngineEvent =
  | { readonly type: 'log'; readonly level: 'info' | 'warn' | 'error' | 'debug'; readonly message: string }
  | {
      readonly type: 'real-state';
      /** Original-style id `<rs> (<vaddr>)`. */
      readonly id: string;
      readonly vid: string;
      readonly rs: string;
      /**
       * 'removed': purged by a start, reload or stop ("Purged real server (start|stop): ...").
       * 'admin': an operator's drain/maint/ready/weight (not a health transition: no resend of down mails).
       */
      readonly state: 'up' | 'down' | 'quiescent' | 'removed' | 'maintenance' | 'admin';
      /** The log text, which is also an alert's subject (e.g. "Quiescent real server: ..."). */
      readonly message: string;
    }
  | { readonly type: 'fallback'; readonly vid: string; readonly active: boolean; readonly message: string }
  | {
      readonly type: 'fallback-command';
      /** The command as configured, and the arguments the original appends: start|stop <vserver>:<vport> <protocol>. */
      readonly command: string;
      readonly args: readonly string[];
    }
  | { readonly type: 'monitor'; readonly file: string; readonly line: string };

/** RealSnapshot is the observable state of one real in one virtual (for `show`). */
export interface RealSnapshot {
  readonly vid: string;
  readonly rs: string;
  readonly state: 'up' | 'down' | 'quiescent' | 'maintenance' | 'unknown';
  readonly weight: number;
  readonly failures: number;
  readonly lastCheck?: number;
  readonly lastResult?: CheckResult;
  /** Admin state (drain/maint at run time; 'none' without one). Always set by the engine. */
  readonly admin?: 'none' | 'drain' | 'maint';
  /** The admin weight replacing the configured one while healthy, null without one. Always set by the engine. */
  readonly adminWeight?: number | null;
  /** While admin is 'drain': the real's connections in the table, and 'drained' once both are 0. */
  readonly drain?: { readonly state: 'draining' | 'drained'; readonly activeConn: number; readonly inactConn: number };
  /** slowstart (ours): while the real's weight ramps up, the weight it ramps to. */
  readonly rampTarget?: number;
}

/** DirectorSnapshot is what `show` prints. */
export interface DirectorSnapshot {
  readonly reals: readonly RealSnapshot[];
  readonly fallbacks: readonly { readonly vid: string; readonly active: boolean }[];
  readonly cycle: { readonly count: number; readonly lastDurationMs: number; readonly lagMs: number };
  readonly ipvsadm: { readonly runs: number; readonly failures: number };
}

/**
 * Director runs the engine against real checks and a real (or simulated) IPVS driver. The daemon
 * creates one, calls start() once, reload() on HUP, stop() on TERM.
 */
export interface Director {
  /** Starts; `init` carries the admin state and the health saved by the previous run (issue 18). */
  start(config: Config, init?: EngineInit): Promise<void>;
  /** Applies a new config as a diff: unchanged reals keep their state. */
  reload(config: Config): Promise<void>;
  /** Stops checking; with cleanstop, removes what the config manages. */
  stop(): Promise<void>;
  onEvent(listener: (e: EngineEvent) => void): void;
  snapshot(): DirectorSnapshot;
  /** Check cycles completed so far (cheap: snapshot() copies every real). */
  cycleCount(): number;
  /** Applies an operator's drain/maint/ready/weight; resolves once the table has been written. */
  admin(req: AdminRequest): Promise<AdminReply>;
  /** The admin decisions in force (for the state file). */
  adminEntries(): AdminEntry[];
  /** The reals up now, with their config digest (for the state file at stop). */
  healthEntries(): HealthEntry[];
}
