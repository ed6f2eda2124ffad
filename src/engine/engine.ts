/**
 * The engine: a pure state machine (no I/O, injected clock) that turns a config, the IPVS table read at
 * start and a stream of check results into the managed part of the table (a DesiredTable) and the
 * original's events (log texts, fallback transitions, fallbackcommand runs).
 *
 * It mirrors the original's subs: ld_start (start/reload sync), service_set/_service_up/_service_down
 * (shared failure count, soft failures), _restore_service/_remove_service (Added/Restored/Quiescent/
 * Deleted), fallback_on/fallback_off/do_fallback_command, ld_stop (cleanstop). The engine keeps its own
 * model of the managed table (what it decided), which is the desired table; the director applies it
 * and repairs drift.
 *
 * Decisions:
 * - A real shared by several virtuals (same real id, get_real_id_str) has one failure count, bumped once
 *   per sharing virtual per result, exactly as the original (so table outcomes match it).
 * - Destinations are keyed by their kernel form (kernelDest), so gate/ipip reals configured with another
 *   port neither flap at start nor stay quiesced forever (the original's quirk 9 is not kept).
 * - Start over an existing table goes straight to the original's final outcome without its
 *   add-then-remove flap: a missing or weight-0 real is down (quiescent: present at weight 0;
 *   otherwise absent) until its first check. The original's start-up "down" map keyed by ip:port
 *   across virtuals (quirk 4) is not kept: each virtual's real is judged on its own entry.
 * - Reload is a diff: reals whose virtual and kernel destination are unchanged keep their state and
 *   failure count; the fallbackcommand memory survives reload (no duplicate start/stop).
 * - A global fallback on a fwm virtual (the original's bogus `-r :0`) is ignored.
 */
import type { CheckJob, CheckResult } from '../checks/types.js';
import { buildCheckJobs } from '../checks/scheduler.js';
import { realIdString, serverString } from '../checks/target.js';
import type { Config, FallbackServer, Forward, RealServer, VirtualService } from '../model/config.js';
import { canonicalAddrPort, serviceKey } from '../ipvs/plan.js';
import { kernelDest } from '../ipvs/normalize.js';
import type { DesiredTable, IpvsDest, IpvsProto, IpvsService, IpvsTable } from '../ipvs/types.js';
import type { Clock } from '../util/clock.js';
import { formatMonitorLine } from './monitor-line.js';
import type { EngineEvent, EngineInit, HealthEntry, RealSnapshot } from './types.js';
import {
  adminKey,
  parseEndpoint,
  realDigest,
  virtualMatches,
  type AdminChange,
  type AdminEntry,
  type AdminReply,
  type AdminRequest,
  type AdminState,
} from './admin.js';

export type { EngineInit, HealthEntry } from './types.js';

export interface EngineOptions {
  readonly clock: Clock;
  readonly hostname?: string;
  /** Pid written in monitorfile lines (default process.pid). */
  readonly pid?: number;
}

/**
 * What one engine step produced. The managed table itself is not part of it: building a whole table per
 * check result would cost O(reals) each, O(reals^2) per cycle; whoever applies it asks `desired()` once
 * when it syncs (the director coalesces the changes of many steps into one sync).
 */
export interface EngineOutput {
  readonly events: readonly EngineEvent[];
  /** Whether the desired table changed in this step. */
  readonly changed: boolean;
}

/** The output of a step that changed nothing (shared: its events array is frozen). */
const NO_OUTPUT: EngineOutput = Object.freeze({ events: Object.freeze([]) as readonly EngineEvent[], changed: false });

/** A destination the engine puts in (or keeps in) a service: _restore_service's arguments. */
interface RestoreArgs {
  /** `<server>:<port>` as the original logs it. */
  readonly literal: string;
  /** The destination's kernel form. */
  readonly dest: string;
  readonly forward: Forward;
  readonly weight: number;
  readonly lower: number;
  readonly upper: number;
  /** A real (its state events carry it) or the fallback server (fallback events, no real). */
  readonly tag: 'real' | 'fallback';
  readonly rs?: RealState;
}

/** A destination the engine quiesces or deletes: _remove_service's arguments. */
interface RemoveArgs {
  readonly literal: string;
  readonly dest: string;
  readonly forward: Forward;
  readonly tag: 'real' | 'fallback';
  readonly rs?: RealState;
}

export interface EngineSnapshot {
  readonly reals: readonly RealSnapshot[];
  readonly fallbacks: readonly { readonly vid: string; readonly active: boolean }[];
}

interface RealState {
  readonly real: RealServer;
  readonly key: string;
  /** Kernel form of the destination (`ip:port` as ipvsadm -n lists it). */
  readonly dest: string;
  /** `<server>:<port>` as the original logs it (configured port). */
  readonly literal: string;
  up: boolean;
  maintenance: boolean;
  checked: boolean;
  lastCheck?: number;
  lastResult?: CheckResult;
  /** risecount (ours): successful checks in a row while down. */
  successes: number;
  /** Made by start() and not checked yet: its first result follows the original's start (no rise, no ramp). */
  fromStart: boolean;
  /** slowstart (ours): when its weight began to ramp up (clock ms); undefined = not ramping. */
  rampFrom?: number;
  /** slowstart (ours): made by start() while the previous daemon's ramp of it was unfinished (ms done): resumed when it comes up. */
  resumeRampMs?: number;
}

interface VirtualState {
  readonly v: VirtualService;
  readonly service: IpvsService;
  readonly skey: string;
  readonly reals: RealState[];
  /** The engine's model of this service's destinations in the kernel (= desired). */
  readonly present: Map<string, IpvsDest>;
  fallbackActive: boolean;
  fallbackCommand?: 'start' | 'stop';
}

interface Shared {
  failcount: number;
}

/** ipvsService gives the IPVS service a virtual asks for. */
export function ipvsService(v: VirtualService): IpvsService {
  return {
    proto: v.protocol as IpvsProto,
    vaddr: v.vaddr,
    ...(v.protocol === 'fwm' && v.family === 6 ? { ipv6Fwm: true } : {}),
    scheduler: v.scheduler,
    ...(v.persistent !== undefined ? { persistent: v.persistent } : {}),
    ...(v.persistent !== undefined && v.netmask !== undefined ? { netmask: v.netmask } : {}),
    ...(v.schedflags ? { schedflags: v.schedflags } : {}),
    ...(v.ops ? { ops: true } : {}),
  };
}

function vskey(v: VirtualService): string {
  return serviceKey(v.protocol as IpvsProto, v.vaddr, v.protocol === 'fwm' && v.family === 6);
}

function destKey(v: VirtualService, ip: string, port: number, forward: Forward): string {
  return canonicalAddrPort(kernelDest(v.protocol as IpvsProto, v.vaddr, ip, port, forward));
}

/** Whether the original writes a monitorfile line for this check (do_log): not for checktype=on, external-perl, nor a ping failure. */
function logsToMonitor(v: VirtualService, res: CheckResult): boolean {
  if (res.status === 'maintenance') return true;
  if (v.checktype === 'on' || v.checktype === 'off' || v.checktype === 'external-perl') return false;
  const ping = v.checktype === 'ping' || (v.checktype === 'connect' && v.protocol === 'udp');
  return !(ping && !res.ok);
}

/** usableFallback: the original's fallback_find, minus the bogus empty server of a global fallback on fwm. */
function usableFallback(v: VirtualService): FallbackServer | undefined {
  const fb = v.fallback;
  if (!fb || fb.ip === '') return undefined;
  return fb;
}

export class Engine {
  private readonly clock: Clock;
  readonly hostname: string;
  private config?: Config;
  private vs: VirtualState[] = [];
  private shared = new Map<string, Shared>();
  private removed = new Map<string, { proto: IpvsProto; vaddr: string; ipv6Fwm?: boolean }>();
  private events: EngineEvent[] = [];
  /** Real id -> the (virtual, real) pairs listing it, in table order; built on demand, dropped when this.vs changes. */
  private byKey?: Map<string, [VirtualState, RealState][]>;
  private jobsFor?: Config;
  private jobList: readonly CheckJob[] = [];
  private dirty = false;
  private stopped = false;
  /** Admin decisions by adminKey(vid, dest). */
  private adminMap = new Map<string, AdminEntry>();
  /** Saved health, used by the next start only. */
  private health?: ReadonlyMap<string, string>;
  /** Saved unfinished slowstart ramps, used by the next start only. */
  private savedRamps?: ReadonlyMap<string, number>;
  /** While an admin change is applied, table changes are logged, not reported as health transitions. */
  private quiet = false;
  /** slowstart (ours): the reals whose weight is ramping up, with their virtual. */
  private ramps = new Map<RealState, VirtualState>();
  /** While rampStep() runs: a weight change is a slow-start step, not a restore. */
  private stepping = false;
  /** While start() runs: the reals it makes are the start's. */
  private starting = false;

  private readonly pid: number;

  constructor(opts: EngineOptions) {
    this.clock = opts.clock;
    this.pid = opts.pid ?? process.pid;
    this.hostname = opts.hostname ?? 'localhost';
  }

  /** start: the original's ld_start over the table read at start. */
  start(config: Config, table: IpvsTable, init: EngineInit = {}): EngineOutput {
    this.stopped = false;
    this.adminMap = new Map((init.admin ?? []).map((e) => [adminKey(e.virtual, e.real), e]));
    this.health = init.health;
    this.savedRamps = init.ramps;
    this.starting = true;
    try {
      this.sync(config, table, new Map());
    } finally {
      this.starting = false;
    }
    this.health = undefined;
    this.savedRamps = undefined;
    this.pruneAdmin();
    return this.output();
  }

  /** reload: a diff against the running state; unchanged reals keep state and failure count. */
  reload(config: Config, table: IpvsTable): EngineOutput {
    const old = new Map(this.vs.map((s) => [s.skey, s]));
    this.stopped = false;
    this.sync(config, table, old);
    this.pruneAdmin();
    return this.output();
  }

  /** result applies one check result to every virtual listing the real id `key` (service_set). */
  result(key: string, res: CheckResult): EngineOutput {
    if (this.stopped) return this.output();
    const now = this.clock.now();
    const shared = this.shared.get(key);
    if (!shared) return this.output();
    for (const [vs, rs] of this.listing(key)) {
      if (this.adminOf(vs, rs) === 'maint') continue; // its checks pause; a shared real's result is not its
      // risecount counts only for a real that failed a check: the first result since the start (or since
      // admin maintenance), and the end of a maintenance file, bring it up at once as in the original.
      const rises = rs.checked && !rs.maintenance;
      // slowstart: not for the start's own reals at their first result (as the original's start), unless
      // the previous daemon stopped in the middle of their ramp: it resumes where it was.
      const rampDone = rs.fromStart && !rs.checked ? rs.resumeRampMs : 0;
      rs.resumeRampMs = undefined;
      rs.checked = true;
      rs.fromStart = false;
      rs.lastCheck = now;
      rs.lastResult = res;
      rs.maintenance = res.status === 'maintenance';
      if (res.ok) this.serviceUp(vs, rs, shared, false, rises, rampDone);
      else this.serviceDown(vs, rs, shared, rs.maintenance);
      if (vs.v.monitorfile && logsToMonitor(vs.v, res)) {
        const line = formatMonitorLine(now, this.pid, key, res.ok, monitorMessage(vs.v, res));
        this.events.push({ type: 'monitor', file: vs.v.monitorfile, line });
      }
    }
    return this.output();
  }

  /** stop: ld_stop; with cleanstop (virtual else global) the managed services leave the table. */
  stop(): EngineOutput {
    this.stopped = true;
    const keep: VirtualState[] = [];
    // fallbackcommandonstop (ours, off by default): undo a fallback command still in force, since the
    // daemon that started it will not be there to stop it (the original never does).
    for (const vs of this.vs) if (vs.v.fallbackcommandonstop && vs.fallbackCommand === 'start') this.fallbackCommand(vs, 'stop');
    for (const vs of this.vs) {
      if (!vs.v.cleanstop) {
        keep.push(vs);
        continue;
      }
      for (const rs of vs.reals) {
        if (!rs.up) continue;
        rs.up = false;
        this.realState(vs, rs, 'removed', `Purged real server (stop): ${rs.literal} (${vs.v.vaddr})`);
      }
      this.log(`Purged virtual server (stop): ${vs.v.vaddr}`);
      this.removed.set(vs.skey, { proto: vs.service.proto, vaddr: vs.service.vaddr, ...(vs.service.ipv6Fwm ? { ipv6Fwm: true } : {}) });
      this.dirty = true;
    }
    this.vs = keep;
    this.byKey = undefined;
    this.ramps.clear();
    return this.output();
  }

  /**
   * rampStep (slowstart, ours): moves every ramping real's weight to where its ramp is now; the director
   * calls it once per check cycle, so the steps go to the kernel with that cycle's changes. A real whose
   * ramp is over gets its weight and leaves the ramp.
   */
  rampStep(): EngineOutput {
    if (this.stopped || this.ramps.size === 0) return this.output();
    const now = this.clock.now();
    this.stepping = true;
    try {
      for (const [rs, vs] of [...this.ramps]) {
        if (!rs.up || rs.rampFrom === undefined) {
          this.ramps.delete(rs);
          rs.rampFrom = undefined;
          continue;
        }
        const over = now - rs.rampFrom >= (vs.v.slowstart ?? 0) * 1000;
        if (over) {
          rs.rampFrom = undefined;
          this.ramps.delete(rs);
        }
        this.place(vs, rs);
        if (over) this.log(`Slow start ended real server: ${rs.literal} (${vs.v.vaddr}) (Weight set to ${this.weightOf(vs, rs)})`);
      }
    } finally {
      this.stepping = false;
    }
    return this.output();
  }

  /** desired: the managed part of the table as it should be now. */
  desired(): DesiredTable {
    return {
      services: this.vs.map((s) => ({ service: s.service, dests: [...s.present.values()] })),
      remove: [...this.removed.values()],
    };
  }

  /**
   * forgetRemoved: the services of `remove` are gone from the kernel (the caller applied them); they
   * leave the desired table's remove list, so a service an admin later adds by hand is left alone.
   */
  forgetRemoved(remove: DesiredTable['remove']): void {
    for (const r of remove) this.removed.delete(serviceKey(r.proto, r.vaddr, r.ipv6Fwm));
  }

  /** jobs: one per real id (the original's per-pass dedupe); checktype=off reals are never checked. */
  jobs(): readonly CheckJob[] {
    if (!this.config || this.stopped) return [];
    // Built once per config (the real-id strings of 10 000 reals each cycle were measurable garbage).
    if (this.jobsFor !== this.config) {
      this.jobsFor = this.config;
      this.jobList = buildCheckJobs(this.config.virtuals.filter((v) => v.checktype !== 'off'), { dedupe: true });
    }
    // Reals in admin maintenance are not checked (unless another virtual listing the same real needs it).
    if (![...this.adminMap.values()].some((e) => e.state === 'maint')) return this.jobList;
    return this.jobList.filter((j) => this.listing(j.key).some(([vs, rs]) => this.adminOf(vs, rs) !== 'maint'));
  }

  snapshot(): EngineSnapshot {
    const reals: RealSnapshot[] = [];
    for (const vs of this.vs) {
      for (const rs of vs.reals) {
        const d = vs.present.get(rs.dest);
        const state: RealSnapshot['state'] = rs.maintenance
          ? 'maintenance'
          : rs.up
            ? rs.checked
              ? 'up'
              : 'unknown'
            : d
              ? 'quiescent'
              : 'down';
        const a = this.adminMap.get(adminKey(vs.v.vid, rs.dest));
        reals.push({
          vid: vs.v.vid,
          rs: rs.literal,
          state,
          admin: a?.state ?? 'none',
          adminWeight: a?.state === 'none' && a.weight !== undefined ? a.weight : null,
          weight: d?.weight ?? 0,
          failures: this.shared.get(rs.key)?.failcount ?? 0,
          ...(rs.lastCheck !== undefined ? { lastCheck: rs.lastCheck } : {}),
          ...(rs.lastResult ? { lastResult: rs.lastResult } : {}),
          ...(rs.rampFrom !== undefined && rs.up ? { rampTarget: this.targetWeight(vs, rs) } : {}),
        });
      }
    }
    return { reals, fallbacks: this.vs.filter((s) => usableFallback(s.v)).map((s) => ({ vid: s.v.vid, active: s.fallbackActive })) };
  }

  /** The admin decisions in force (for the state file). */
  adminEntries(): AdminEntry[] {
    return [...this.adminMap.values()];
  }

  /** The reals that are up now, with their config digest (for the state file at stop). */
  healthEntries(): HealthEntry[] {
    const out: HealthEntry[] = [];
    const now = this.clock.now();
    for (const vs of this.vs) {
      for (const rs of vs.reals) {
        if (!rs.up || !rs.checked) continue;
        const rampedMs = rs.rampFrom !== undefined ? Math.max(0, now - rs.rampFrom) : undefined;
        out.push({ virtual: vs.v.vid, real: rs.dest, digest: realDigest(vs.v, rs.real), ...(rampedMs !== undefined ? { rampedMs } : {}) });
      }
    }
    return out;
  }

  /** The kernel destinations of reals being drained, by service key (for drain progress). */
  draining(): { vid: string; rs: string; skey: string; dest: string }[] {
    const out: { vid: string; rs: string; skey: string; dest: string }[] = [];
    for (const vs of this.vs) for (const rs of vs.reals) if (this.adminOf(vs, rs) === 'drain') out.push({ vid: vs.v.vid, rs: rs.literal, skey: vs.skey, dest: rs.dest });
    return out;
  }

  /**
   * admin applies an operator's drain/maint/ready/weight to the reals it names (every virtual listing the
   * real, or the one VIRTUAL names). Refused, with a one-line reason and no change, when it names none or
   * an ip alone is ambiguous in a virtual.
   */
  admin(req: AdminRequest): { reply: AdminReply; output: EngineOutput } {
    const refuse = (message: string) => ({ reply: { ok: false as const, message }, output: this.output() });
    if (!this.config || this.stopped) return refuse('the daemon is not running a configuration');
    const e = parseEndpoint(req.real);
    if (!e) return refuse(`bad real server ${JSON.stringify(req.real)}: expected ip:port`);
    let vss = this.vs;
    if (req.virtual !== undefined) {
      vss = vss.filter((vs) => virtualMatches(vs.v, req.virtual!));
      if (vss.length === 0) return refuse(`no virtual service ${req.virtual} in ${this.config.file}`);
    }
    const targets: [VirtualState, RealState][] = [];
    for (const vs of vss) {
      const hits = vs.reals.filter((rs) => {
        const p = parseEndpoint(rs.dest);
        const ip = rs.real.family === 6 ? parseEndpoint(`[${rs.real.ip}]`)?.ip : rs.real.ip;
        return ip === e.ip && (e.port === undefined || e.port === rs.real.port || e.port === p?.port);
      });
      if (hits.length > 1 && e.port === undefined) {
        return refuse(`real server ${req.real} is ambiguous in ${vs.v.vid} (${hits.map((h) => h.literal).join(', ')}): give ip:port`);
      }
      for (const rs of hits) targets.push([vs, rs]);
    }
    if (targets.length === 0) {
      return refuse(`no real server ${req.real} in ${req.virtual !== undefined ? `virtual service ${req.virtual}` : 'any virtual service'} of ${this.config.file}`);
    }
    const now = this.clock.now();
    const changes: AdminChange[] = [];
    for (const [vs, rs] of targets) {
      const key = adminKey(vs.v.vid, rs.dest);
      const before = this.adminMap.get(key);
      const state: AdminState = req.op === 'drain' ? 'drain' : req.op === 'maint' ? 'maint' : 'none';
      const weight = req.op === 'weight' ? req.weight : undefined;
      const same = (before?.state ?? 'none') === state && before?.weight === weight;
      if (!same) this.applyAdmin(vs, rs, before, state, weight, req, now);
      changes.push({ virtual: vs.v.vid, real: rs.literal, admin: state, adminWeight: weight ?? null, changed: !same });
    }
    const n = changes.filter((c) => c.changed).length;
    const what = req.op === 'weight' ? `weight ${req.weight}` : req.op;
    const message = n === 0 ? `${what}: already so (${changes.length} real${changes.length === 1 ? '' : 's'})` : `${what}: ${n} real${n === 1 ? '' : 's'} changed`;
    return { reply: { ok: true, message, changes }, output: this.output() };
  }
  // ---- internals ----

  /** output hands over the step's events and whether the desired table changed. */
  private output(): EngineOutput {
    // Most check results change nothing: they share one empty output instead of two new objects each.
    if (this.events.length === 0 && !this.dirty) return NO_OUTPUT;
    const events = this.events;
    this.events = [];
    const changed = this.dirty;
    this.dirty = false;
    return { events, changed };
  }

  /** listing: the (virtual, real) pairs whose real has id `key` (the original's service_set walks them all). */
  private listing(key: string): readonly [VirtualState, RealState][] {
    if (!this.byKey) {
      this.byKey = new Map();
      for (const vs of this.vs) {
        for (const rs of vs.reals) {
          const l = this.byKey.get(rs.key);
          if (l) l.push([vs, rs]);
          else this.byKey.set(rs.key, [[vs, rs]]);
        }
      }
    }
    return this.byKey.get(key) ?? [];
  }

  private log(message: string, level: 'info' | 'warn' | 'error' | 'debug' = 'info'): void {
    this.events.push({ type: 'log', level, message });
  }

  private realState(vs: VirtualState, rs: RealState, state: 'up' | 'down' | 'quiescent' | 'removed' | 'maintenance', message: string): void {
    if (this.quiet) return this.log(message);
    this.events.push({ type: 'real-state', id: `${rs.literal} (${vs.v.vaddr})`, vid: vs.v.vid, rs: rs.literal, state, message });
  }

  private sync(config: Config, table: IpvsTable, old: Map<string, VirtualState>): void {
    this.config = config;
    const kernel = new Map<string, Map<string, IpvsDest>>();
    for (const s of table.services) {
      const m = new Map<string, IpvsDest>();
      for (const d of s.dests) m.set(canonicalAddrPort(d.rs), d);
      kernel.set(serviceKey(s.service.proto, s.service.vaddr, s.service.ipv6Fwm), m);
    }
    const oldShared = this.shared;
    this.shared = new Map();
    this.ramps = new Map();
    const next: VirtualState[] = [];
    const queuedDown: [VirtualState, RealState][] = [];

    // Services first (ld_start: -E for an existing one, -A otherwise).
    for (const v of config.virtuals) {
      const skey = vskey(v);
      if (next.some((s) => s.skey === skey)) continue; // a duplicate virtual: the first wins
      const prev = old.get(skey);
      const inKernel = kernel.get(skey);
      const service = ipvsService(v);
      if (inKernel || prev) this.log(`Changed virtual server: ${v.vaddr}`);
      else this.log(`Added virtual server: ${v.vaddr}`);
      this.removed.delete(skey);
      const present = new Map<string, IpvsDest>(prev ? prev.present : inKernel ?? []);
      const vs: VirtualState = { v, service, skey, reals: [], present, fallbackActive: prev?.fallbackActive ?? false, fallbackCommand: prev?.fallbackCommand };
      next.push(vs);
      this.dirty = true;
    }

    for (const vs of next) {
      const v = vs.v;
      const prev = old.get(vs.skey);
      const fb = usableFallback(v);
      const fbDest = fb ? destKey(v, fb.ip, fb.port, fb.forward) : undefined;
      const prevFb = prev ? usableFallback(prev.v) : undefined;
      const prevFbDest = prev && prevFb ? destKey(prev.v, prevFb.ip, prevFb.port, prevFb.forward) : undefined;
      const configured = new Set<string>();
      for (const real of v.reals) {
        const key = realIdString(v, real);
        const dest = destKey(v, real.ip, real.port, real.forward);
        if (configured.has(dest)) continue; // the kernel holds one destination per address
        configured.add(dest);
        const rs: RealState = {
          real,
          key,
          dest,
          literal: `${serverString(real.ip, real.family)}:${real.port}`,
          up: false,
          maintenance: false,
          checked: false,
          successes: 0,
          fromStart: this.starting,
        };
        vs.reals.push(rs);
        const before = prev?.reals.find((r) => r.dest === dest);
        if (!this.shared.has(key)) {
          const carried = oldShared.get(key) ?? (before ? oldShared.get(before.key) : undefined);
          this.shared.set(key, { failcount: carried?.failcount ?? 0 });
        }
        const shared = this.shared.get(key)!;
        if (before) {
          // Reload of a kept real: keep its state, apply changed weight, forwarding, thresholds.
          rs.up = before.up;
          rs.checked = before.checked;
          rs.maintenance = before.maintenance;
          rs.lastCheck = before.lastCheck;
          rs.lastResult = before.lastResult;
          rs.successes = before.successes;
          rs.fromStart = before.fromStart;
          if (before.rampFrom !== undefined && rs.up && (v.slowstart ?? 0) > 0) {
            rs.rampFrom = before.rampFrom;
            this.ramps.set(rs, vs);
          }
          if (rs.up) this.place(vs, rs);
          // A real that is down is weight 0 or absent in the table: the original's ld_start queues it like
          // any such real (forced up, then down, with their log lines and mails).
          else queuedDown.push([vs, rs]);
          continue;
        }
        const d = vs.present.get(dest);
        const savedKey = adminKey(v.vid, dest);
        const saved = this.health?.get(savedKey);
        const rampedMs = this.savedRamps?.get(savedKey);
        // slowstart: a ramp the previous daemon left unfinished, for the same config, resumes where it was.
        if (rampedMs !== undefined && saved === realDigest(v, real) && rampedMs < (v.slowstart ?? 0) * 1000) {
          rs.resumeRampMs = rampedMs;
          this.log(`Slow start of real server: ${rs.literal} (${v.vaddr}) resumes at ${Math.round(rampedMs / 1000)}s of ${v.slowstart}s when it is up`);
        }
        if (this.adminOf(vs, rs) === 'maint') {
          queuedDown.push([vs, rs]);
        } else if (d && (d.weight > 0 || saved === realDigest(v, real))) {
          // In the table and up (weight > 0, or up at the previous daemon's stop with the same config: its
          // weight 0 is an admin drain or weight): up until its first check says otherwise.
          this.serviceUp(vs, rs, shared, true, false, rs.resumeRampMs);
          rs.resumeRampMs = undefined;
        } else {
          queuedDown.push([vs, rs]);
        }
      }
      // Destinations the config does not list: purged (the fallback's own one excepted).
      for (const [dest] of [...vs.present]) {
        if (configured.has(dest)) continue;
        if (dest === fbDest && (vs.fallbackActive || !prev)) continue; // ld_start drops the fallback from its snapshot
        if (prev && dest === prevFbDest) {
          vs.present.delete(dest);
          vs.fallbackActive = false;
          this.events.push({ type: 'fallback', vid: v.vid, active: false, message: `Deleted fallback server: ${dest} (${v.vaddr})` });
          this.dirty = true;
          continue;
        }
        vs.present.delete(dest);
        this.dirty = true;
        // Mailed like the original's purge_untracked_service (an untracked entry: no real state of its own).
        this.events.push({ type: 'real-state', id: `${dest} (${v.vaddr})`, vid: v.vid, rs: dest, state: 'removed', message: `Purged real server (start): ${dest} (${v.vaddr})` });
      }
      if (!fb) vs.fallbackActive = false;
      this.fallbackOn(vs);
    }

    // ld_start's queued reals: with readdquiescent=no the original forces each one up (added or restored
    // with full weight), then down. Both happen inside this one step, so the desired table only ever
    // holds the outcome (no traffic flap), while the log lines and alert mails are the original's.
    for (const [vs, rs] of queuedDown) {
      const shared = this.shared.get(rs.key)!;
      const maintenance = rs.maintenance;
      const successes = rs.successes; // a kept real's risecount progress survives the reload
      if (!config.global.readdquiescent) this.serviceUp(vs, rs, shared, true);
      rs.maintenance = maintenance;
      this.serviceDown(vs, rs, shared, true);
      rs.successes = successes;
    }

    // Virtuals of the old config that the new one drops.
    const keys = new Set(next.map((s) => s.skey));
    for (const [skey, s] of old) {
      if (keys.has(skey)) continue;
      this.removed.set(skey, { proto: s.service.proto, vaddr: s.service.vaddr, ...(s.service.ipv6Fwm ? { ipv6Fwm: true } : {}) });
      this.log(`Purged virtual server (start): ${s.v.vaddr}`);
      this.dirty = true;
    }
    this.vs = next;
    this.byKey = undefined;
  }

  /** Up for the fallback: healthy and neither drained nor in admin maintenance. */
  private anyUp(vs: VirtualState): boolean {
    if (this.adminMap.size === 0) return vs.reals.some((r) => r.up);
    return vs.reals.some((r) => r.up && this.adminOf(vs, r) === 'none');
  }

  private adminOf(vs: VirtualState, rs: RealState): AdminState {
    // Without admin decisions (the usual case) no key is built: this runs for each check result, each
    // job list and each placement, a throw-away string each time.
    if (this.adminMap.size === 0) return 'none';
    return this.adminMap.get(adminKey(vs.v.vid, rs.dest))?.state ?? 'none';
  }

  /** The weight a healthy real gets: 0 while drained, the admin weight, else the configured one. */
  private weightOf(vs: VirtualState, rs: RealState): number {
    const target = this.targetWeight(vs, rs);
    return rs.rampFrom === undefined ? target : rampedWeight(target, this.clock.now() - rs.rampFrom, (vs.v.slowstart ?? 0) * 1000);
  }

  /** The weight a healthy real has once any slowstart ramp is over. */
  private targetWeight(vs: VirtualState, rs: RealState): number {
    if (this.adminMap.size === 0) return rs.real.weight;
    const a = this.adminMap.get(adminKey(vs.v.vid, rs.dest));
    if (a?.state === 'drain') return 0;
    return a?.state === 'none' && a.weight !== undefined ? a.weight : rs.real.weight;
  }

  /** slowstart: the real's weight ramps from now, or `doneMs` into its ramp (when its virtual has one). */
  private startRamp(vs: VirtualState, rs: RealState, doneMs = 0): void {
    if ((vs.v.slowstart ?? 0) <= 0) return;
    rs.rampFrom = this.clock.now() - doneMs;
    this.ramps.set(rs, vs);
  }

  private stopRamp(rs: RealState): void {
    rs.rampFrom = undefined;
    this.ramps.delete(rs);
  }

  /** Puts a real where health and admin state say: in at its weight, or out (quiesced or deleted). */
  private place(vs: VirtualState, rs: RealState): void {
    if (rs.up && this.adminOf(vs, rs) !== 'maint') this.restore(vs, { ...realArgs(rs), weight: this.weightOf(vs, rs) });
    else this.remove(vs, { literal: rs.literal, dest: rs.dest, forward: rs.real.forward, tag: 'real', rs });
  }

  private applyAdmin(vs: VirtualState, rs: RealState, before: AdminEntry | undefined, state: AdminState, weight: number | undefined, req: AdminRequest, now: number): void {
    const key = adminKey(vs.v.vid, rs.dest);
    if (req.op === 'ready') this.adminMap.delete(key);
    else this.adminMap.set(key, { virtual: vs.v.vid, real: rs.dest, state, ...(weight !== undefined ? { weight } : {}), ...(req.uid !== undefined ? { uid: req.uid } : {}), at: now });
    const who = `admin, uid ${req.uid ?? 'unknown'}`;
    const where = `${rs.literal} (${vs.v.vaddr})`;
    const message =
      req.op === 'drain'
        ? `Draining real server: ${where} (${who})`
        : req.op === 'maint'
          ? `Maintenance real server: ${where} (${who})`
          : req.op === 'weight'
            ? `Admin weight real server: ${where} (Weight set to ${weight} while healthy) (${who})`
            : `Ready real server: ${where} (${who})`;
    this.events.push({ type: 'real-state', id: `${rs.literal} (${vs.v.vaddr})`, vid: vs.v.vid, rs: rs.literal, state: 'admin', message });
    if (before?.state === 'maint' && state !== 'maint') {
      // Its checks paused: out until a check says it is up again.
      rs.up = false;
      rs.checked = false;
      rs.fromStart = false; // its comeback is a recovery (slowstart), even before its first check
    }
    if (state === 'maint') this.stopRamp(rs);
    // slowstart: a real leaving drain had no new connections; it ramps up as a recovered one.
    if (before?.state === 'drain' && state !== 'drain' && state !== 'maint' && rs.up) this.startRamp(vs, rs);
    if (vs.v.monitorfile) {
      const up = rs.up && state !== 'maint';
      this.events.push({ type: 'monitor', file: vs.v.monitorfile, line: formatMonitorLine(now, this.pid, rs.key, up, message) });
    }
    this.quiet = true;
    try {
      this.place(vs, rs);
      if (this.anyUp(vs)) this.fallbackOff(vs);
      else this.fallbackOn(vs);
    } finally {
      this.quiet = false;
    }
  }

  /** Drops (and logs) admin decisions about reals the config no longer has. */
  private pruneAdmin(): void {
    if (this.adminMap.size === 0) return;
    const known = new Set<string>();
    for (const vs of this.vs) for (const rs of vs.reals) known.add(adminKey(vs.v.vid, rs.dest));
    for (const [key, e] of [...this.adminMap]) {
      if (known.has(key)) continue;
      this.adminMap.delete(key);
      this.log(`Dropped admin state of a real server no longer configured: ${e.real} (${e.virtual}) was ${e.state === 'none' ? `weight ${e.weight}` : e.state}`);
    }
  }

  /**
   * _service_up. With `rises` (a real that failed a check) it comes back only after risecount successes
   * in a row; with `rampDone` its weight ramps up over slowstart seconds, from that many ms into the ramp
   * (both ours, off by default).
   */
  private serviceUp(vs: VirtualState, rs: RealState, shared: Shared, force: boolean, rises = false, rampDone?: number): void {
    if (shared.failcount > 0) this.log(`Resetting soft failure count: ${rs.literal} (${vs.v.vid})`);
    shared.failcount = 0;
    if (rs.up && !force) return;
    const need = vs.v.risecount ?? 1;
    if (!force && rises && need > 1) {
      rs.successes++;
      if (rs.successes < need) {
        this.log(`Soft recovery real server: ${rs.literal} (${vs.v.vid}) success ${rs.successes}/${need}`);
        return;
      }
    }
    rs.successes = 0;
    if (rampDone !== undefined) this.startRamp(vs, rs, rampDone);
    rs.up = true;
    rs.maintenance = false;
    this.place(vs, rs);
    if (this.anyUp(vs)) this.fallbackOff(vs);
  }

  /** _service_down */
  private serviceDown(vs: VirtualState, rs: RealState, shared: Shared, force: boolean): void {
    rs.successes = 0;
    if (!rs.up && !force) return;
    shared.failcount++;
    if (!force && rs.up && shared.failcount < vs.v.failurecount) {
      this.log(`Soft failure real server: ${rs.literal} (${vs.v.vid}) failure ${shared.failcount}/${vs.v.failurecount}`);
      return;
    }
    rs.up = false;
    this.stopRamp(rs);
    this.remove(vs, { literal: rs.literal, dest: rs.dest, forward: rs.real.forward, tag: 'real', rs });
    this.fallbackOn(vs);
  }

  /** _restore_service: edit when weight, thresholds or forwarding differ, add when absent. */
  private restore(vs: VirtualState, { literal, dest, forward, weight, lower, upper, tag, rs }: RestoreArgs): void {
    const want: IpvsDest = { rs: dest, forward, weight, upperThreshold: upper, lowerThreshold: lower };
    const d = vs.present.get(dest);
    let verb: string;
    if (d) {
      if (d.weight === weight && d.forward === forward && d.upperThreshold === upper && d.lowerThreshold === lower) return;
      verb = 'Restored';
    } else verb = 'Added';
    vs.present.set(dest, want);
    this.dirty = true;
    if (this.stepping && d && rs) {
      this.log(`Slow start real server: ${literal} (${vs.v.vaddr}) (Weight set to ${weight})`, 'debug');
      return;
    }
    const message = `${verb} ${tag} server: ${literal} (${vs.v.vaddr}) (Weight set to ${weight})`;
    if (tag === 'fallback') this.events.push({ type: 'fallback', vid: vs.v.vid, active: true, message });
    else if (rs) this.realState(vs, rs, 'up', message);
    else this.log(message);
  }

  /** _remove_service: quiesce (weight 0) or delete. */
  private remove(vs: VirtualState, { literal, dest, forward, tag, rs }: RemoveArgs): void {
    const quiescent = tag !== 'fallback' && vs.v.quiescent;
    const d = vs.present.get(dest);
    if (!d && !quiescent) return;
    if (quiescent && d && d.weight === 0 && d.forward === forward) return;
    const shown = d && dest !== canonicalAddrPort(literal) ? `${dest} mapped from ${literal}` : literal;
    const where = `${tag} server: ${shown} (${vs.v.vaddr})`;
    let message: string;
    let state: 'quiescent' | 'down' | 'maintenance';
    if (quiescent) {
      // The original quiesces with `ipvsadm -e|-a ... -r <rs> <fwd> -w 0` and no -x/-y: the kernel resets
      // what an edit does not carry, so the quiesced entry has both thresholds 0 (and the default tunnel).
      vs.present.set(dest, { rs: dest, forward, weight: 0, upperThreshold: 0, lowerThreshold: 0 });
      message = d || !this.config?.global.readdquiescent ? `Quiescent ${where} (Weight set to 0)` : `Readd Quiescent ${where} (Weight set to 0)`;
      state = 'quiescent';
    } else {
      vs.present.delete(dest);
      message = `Deleted ${where}`;
      state = 'down';
    }
    this.dirty = true;
    if (tag === 'fallback') this.events.push({ type: 'fallback', vid: vs.v.vid, active: false, message });
    else if (rs) this.realState(vs, rs, rs.maintenance ? 'maintenance' : state, message);
    else this.log(message);
  }

  /** fallback_on */
  private fallbackOn(vs: VirtualState): void {
    const fb = usableFallback(vs.v);
    if (fb && !this.anyUp(vs) && !vs.fallbackActive) {
      vs.fallbackActive = true;
      this.restore(vs, { ...fallbackDest(vs.v, fb), weight: 1, lower: 0, upper: 0, tag: 'fallback' });
    }
    if (!this.anyUp(vs)) this.fallbackCommand(vs, 'start');
  }

  /** fallback_off */
  private fallbackOff(vs: VirtualState): void {
    const fb = usableFallback(vs.v);
    if (fb && (this.anyUp(vs) || vs.fallbackActive)) {
      vs.fallbackActive = false;
      this.remove(vs, { ...fallbackDest(vs.v, fb), tag: 'fallback' });
    }
    if (this.anyUp(vs)) this.fallbackCommand(vs, 'stop');
  }

  /** do_fallback_command: once per transition, `<cmd> start|stop <vserver>:<vport> <protocol>`. */
  private fallbackCommand(vs: VirtualState, status: 'start' | 'stop'): void {
    if (vs.fallbackCommand === status) return;
    vs.fallbackCommand = status;
    const cmd = vs.v.fallbackcommand;
    if (!cmd) return;
    const server = vs.v.protocol === 'fwm' ? '' : serverString(vs.v.ip, vs.v.family);
    this.events.push({ type: 'fallback-command', command: cmd, args: [status, `${server}:${vs.v.port}`, vs.v.protocol] });
  }
}

/**
 * slowstart's weight `elapsedMs` into a ramp of `spanMs` towards `target`: at least 1 (weight 0 would take
 * the real out), rounded up, `target` once the ramp is over; a target of 0 or 1 has nothing to ramp.
 */
export function rampedWeight(target: number, elapsedMs: number, spanMs: number): number {
  if (target <= 1 || spanMs <= 0 || elapsedMs >= spanMs) return target;
  return Math.max(1, Math.min(target, Math.ceil((target * Math.max(0, elapsedMs)) / spanMs)));
}

/** A real's own destination, weight and thresholds, as _restore_service puts it in. */
function realArgs(rs: RealState): RestoreArgs {
  const r = rs.real;
  return { literal: rs.literal, dest: rs.dest, forward: r.forward, weight: r.weight, lower: r.lowerThreshold, upper: r.upperThreshold, tag: 'real', rs };
}

/** A virtual's fallback server: as logged, its kernel form, its forwarding. */
function fallbackDest(v: VirtualService, fb: FallbackServer): { literal: string; dest: string; forward: Forward } {
  return { literal: `${serverString(fb.ip, fb.family)}:${fb.port}`, dest: destKey(v, fb.ip, fb.port, fb.forward), forward: fb.forward };
}

/**
 * The message of a monitorfile line. The original writes one only for maintenance, the HTTP checks
 * (the status line) and LDAP; every other check logs `-` (a combined check's connect passes too), and
 * scripts that read monitor files rely on that, so only those checks carry our text.
 */
function monitorMessage(v: VirtualService, res: CheckResult): string {
  if (res.status === 'maintenance') return 'Server in maintenance';
  const negotiating = v.checktype === 'negotiate' || (v.checktype === 'combined' && res.pass !== 'connect');
  if (negotiating && ['http', 'https', 'http_proxy', 'ldap', 'ldaps'].includes(v.service)) return res.message;
  return '';
}
