/**
 * The status data: every virtual and every real as the status page, `/status.json` and `show --json`
 * present them. buildStatus() is a pure function of the director's snapshot, the last IPVS table read,
 * the running configuration and the recent check history; it does no I/O and reads no clock.
 *
 * Field names are stable (documented in ldirectord(8)); new fields may be added, none renamed.
 */
import type { Config, Forward, VirtualService } from '../model/config.js';
import type { DirectorSnapshot, RealSnapshot } from '../engine/types.js';
import type { IpvsTable, SyncDaemon } from '../ipvs/types.js';
import { canonicalAddrPort, kernelDestOf, serviceKey } from '../ipvs/plan.js';

/** Admin state of a real (set at run time by drain/maint/weight); `none` = health-driven. */
export type AdminState = 'none' | 'drain' | 'maint';

/** Drain progress of a real (issue 18). */
export interface DrainProgress {
  readonly state: 'draining' | 'drained';
  readonly activeConn: number;
  readonly inactConn: number;
}

/** One past check of a real. */
export interface StatusCheck {
  /** When it ended (ISO 8601). */
  readonly at: string;
  readonly ok: boolean;
  readonly latencyMs: number;
}

export interface StatusReal {
  /** `ip:port` as the config names it (`[v6]:port`). */
  readonly real: string;
  /** Health state. */
  readonly state: RealSnapshot['state'];
  readonly admin: AdminState;
  /** The weight an admin set (`weight` command), null when none. */
  readonly adminWeight: number | null;
  /** While admin is `drain`: `draining` with the connections left in the table, or `drained`; else null. */
  readonly drain: DrainProgress | null;
  /** The weight the director gives it in the table now (0 when quiesced, removed or drained). */
  readonly weight: number;
  /** The weight the config gives it; null when the config is not known. */
  readonly configuredWeight: number | null;
  /** slowstart (ours): while the weight ramps up, the weight it ramps to; else null. */
  readonly rampTarget: number | null;
  /** Consecutive failed checks. */
  readonly failures: number;
  /** When the last check ended (ISO 8601), null before the first. */
  readonly lastCheck: string | null;
  readonly latencyMs: number | null;
  /** The last check's result: ok, the layer that failed (or `ok`), and the real's answer or the error. */
  readonly result: { readonly ok: boolean; readonly status: string; readonly message: string } | null;
  /** The last failure's layer and message while the last check failed (as `show --json` always gave it). */
  readonly reason: { readonly layer: string; readonly message: string } | null;
  /** From the last table read; null when the real is not in the table or no table was read. */
  readonly activeConns: number | null;
  readonly inactConns: number | null;
  /** The last checks, oldest first. */
  readonly history: readonly StatusCheck[];
}

export interface StatusVirtual {
  /** The original's virtual id, `tcp:1.2.3.4:80`, `fwm:42`. */
  readonly virtual: string;
  /** The service address as ipvsadm shows it (`1.2.3.4:80`, `[::1]:80`, or the mark). */
  readonly address: string;
  readonly protocol: 'tcp' | 'udp' | 'fwm' | null;
  readonly scheduler: string | null;
  /** Persistence timeout in seconds, null when not persistent. */
  readonly persistent: number | null;
  readonly netmask: string | null;
  readonly checktype: string | null;
  readonly service: string | null;
  readonly checkinterval: number | null;
  readonly checktimeout: number | null;
  readonly failurecount: number | null;
  readonly quiescent: boolean | null;
  readonly realsUp: number;
  readonly realsTotal: number;
  /** The fallback server (`ip:port`), null when the virtual has none. */
  readonly fallback: string | null;
  readonly fallbackActive: boolean;
  readonly reals: readonly StatusReal[];
}

/**
 * A configured connection-sync daemon (`syncdaemon =` lines) as the daemon last saw it: `running` (as
 * configured), `missing`, `differs` (the role runs with other parameters) or `error` (not known).
 */
export interface SyncDaemonReport {
  readonly role: 'master' | 'backup';
  /** As configured (unset fields: the kernel's defaults). */
  readonly configured: SyncDaemon;
  /** false: left running when the daemon stops (`cleanstop=no`). */
  readonly cleanstop: boolean;
  readonly state: 'running' | 'missing' | 'differs' | 'error';
  /** As the kernel reported it at the last read; null when not running or not read. */
  readonly running: SyncDaemon | null;
  /** The last failure (ipvsadm's or netlink's message), null when none. */
  readonly error: string | null;
  /** When it was last read (ms since the epoch), null before the first read. */
  readonly checkedAt: number | null;
}

/** A SyncDaemonReport in the status data (checkedAt as ISO 8601). */
export type StatusSyncDaemon = Omit<SyncDaemonReport, 'checkedAt'> & { readonly checkedAt: string | null };

export interface StatusData {
  readonly version: 1;
  readonly pid: number | null;
  readonly config: string;
  /** starting, running, reloading, stopping. */
  readonly status: string;
  /** When these data were put together (ISO 8601). */
  readonly generatedAt: string;
  readonly cycle: DirectorSnapshot['cycle'];
  readonly ipvsadm: DirectorSnapshot['ipvsadm'];
  /** The IPVS driver the daemon chose and why (netlink or ipvsadm), null when not known. */
  readonly ipvsDriver: IpvsDriverInfo | null;
  /** When the connection counts were read from the table, null when never. */
  readonly tableReadAt: string | null;
  readonly totals: { readonly virtuals: number; readonly reals: number; readonly up: number; readonly down: number };
  readonly virtuals: readonly StatusVirtual[];
  /** The configured connection-sync daemons, master first; empty without `syncdaemon` lines. */
  readonly syncDaemons: readonly StatusSyncDaemon[];
}

/** The part of a virtual's config the status uses. */
export type StatusVirtualConfig = Pick<
  VirtualService,
  | 'vid' | 'vaddr' | 'protocol' | 'family' | 'scheduler' | 'persistent' | 'netmask' | 'checktype' | 'service'
  | 'checkinterval' | 'checktimeout' | 'failurecount' | 'quiescent'
> & {
  readonly fallback?: { readonly ip: string; readonly port: number };
  readonly reals: readonly { readonly ip: string; readonly port: number; readonly weight: number; readonly forward: Forward }[];
};

/** The part of a Config the status uses (a Config is one). */
export interface StatusConfig {
  readonly virtuals: readonly StatusVirtualConfig[];
}

const projected = new WeakMap<object, StatusConfig>();

/**
 * The StatusConfig of a Config as plain data, small enough for the state file (`show --json`); the
 * same object for the same config (it changes only on reload).
 */
export function statusConfig(config: StatusConfig): StatusConfig {
  let p = projected.get(config);
  if (!p) {
    p = project(config);
    projected.set(config, p);
  }
  return p;
}

function project(config: StatusConfig): StatusConfig {
  return {
    virtuals: config.virtuals.map((v) => ({
      vid: v.vid, vaddr: v.vaddr, protocol: v.protocol, family: v.family, scheduler: v.scheduler,
      ...(v.persistent !== undefined ? { persistent: v.persistent } : {}),
      ...(v.netmask !== undefined ? { netmask: v.netmask } : {}),
      checktype: v.checktype, service: v.service, checkinterval: v.checkinterval, checktimeout: v.checktimeout,
      failurecount: v.failurecount, quiescent: v.quiescent,
      ...(v.fallback ? { fallback: { ip: v.fallback.ip, port: v.fallback.port } } : {}),
      reals: v.reals.map((r) => ({ ip: r.ip, port: r.port, weight: r.weight, forward: r.forward })),
    })),
  };
}

/** The IPVS driver the daemon chose (src/ipvs/select.ts). */
export interface IpvsDriverInfo {
  readonly driver: string;
  readonly requested: string;
  readonly reason: string;
  readonly ipvsadm?: string;
}

/** What buildStatus reads. */
export interface StatusInput {
  readonly snapshot: DirectorSnapshot;
  /** The last table read and when (ms since the epoch); undefined when none. */
  readonly table?: { readonly table: IpvsTable; readonly at: number };
  readonly config?: StatusConfig | Config;
  readonly history?: CheckHistory;
  readonly pid?: number;
  readonly ipvsDriver?: IpvsDriverInfo;
  readonly configPath: string;
  readonly status: string;
  /** ms since the epoch. */
  readonly now: number;
  /** Leave the history out (the page's updates carry only the last check). */
  readonly withHistory?: boolean;
  /** The configured sync daemons as last seen. */
  readonly syncDaemons?: readonly SyncDaemonReport[];
}

/** A real as the engine snapshot may give it once admin state exists there. */
type RealIn = RealSnapshot & { readonly admin?: AdminState; readonly adminWeight?: number | null; readonly drain?: DrainProgress };

function iso(t: number | undefined): string | null {
  return t === undefined || !Number.isFinite(t) ? null : new Date(t).toISOString();
}

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Connection counts by service key and canonical destination. */
function indexConns(table: IpvsTable): Map<string, Map<string, { a: number; i: number }>> {
  const out = new Map<string, Map<string, { a: number; i: number }>>();
  for (const e of table.services) {
    const dests = new Map<string, { a: number; i: number }>();
    for (const d of e.dests) dests.set(canonicalAddrPort(d.rs), { a: d.activeConns ?? 0, i: d.inactConns ?? 0 });
    out.set(serviceKey(e.service.proto, e.service.vaddr, e.service.ipv6Fwm), dests);
  }
  return out;
}

/** Builds the status data. Pure: the same input gives the same output. */
export function buildStatus(input: StatusInput): StatusData {
  const { snapshot } = input;
  const withHistory = input.withHistory ?? true;
  const byVid = new Map<string, RealIn[]>();
  for (const r of snapshot.reals as readonly RealIn[]) {
    const list = byVid.get(r.vid);
    if (list) list.push(r);
    else byVid.set(r.vid, [r]);
  }
  const fallbackActive = new Map(snapshot.fallbacks.map((f) => [f.vid, f.active]));
  const conns = input.table ? indexConns(input.table.table) : undefined;
  const configured = input.config?.virtuals ?? [];
  const vids = [...configured.map((v) => v.vid)];
  const known = new Set(vids);
  for (const vid of [...byVid.keys(), ...fallbackActive.keys()]) {
    if (!known.has(vid)) {
      known.add(vid);
      vids.push(vid);
    }
  }
  const vconf = new Map(configured.map((v) => [v.vid, v]));
  let up = 0;
  let down = 0;
  let total = 0;
  const virtuals = vids.map((vid): StatusVirtual => {
    const v = vconf.get(vid);
    const reals = byVid.get(vid) ?? [];
    const weights = new Map<string, { weight: number; forward: Forward }>();
    for (const r of v?.reals ?? []) {
      const lit = hostPort(r.ip, r.port);
      if (!weights.has(lit)) weights.set(lit, { weight: r.weight, forward: r.forward });
    }
    const proto = v ? (v.protocol as 'tcp' | 'udp' | 'fwm') : null;
    const svcConns = v && conns ? conns.get(serviceKey(v.protocol, v.vaddr, v.protocol === 'fwm' && v.family === 6)) : undefined;
    let vUp = 0;
    const out = reals.map((r): StatusReal => {
      const w = weights.get(r.rs);
      let c: { a: number; i: number } | undefined;
      if (svcConns && v) {
        const dest = kernelDestOf(v.protocol, v.vaddr, {
          rs: r.rs,
          forward: w?.forward ?? 'gate',
          weight: 0,
          upperThreshold: 0,
          lowerThreshold: 0,
        });
        c = svcConns.get(canonicalAddrPort(dest.rs));
      }
      if (r.state === 'up') vUp++;
      const res = r.lastResult;
      // A maintenance file (maintenancedir) is an admin decision too: shown as maint.
      const admin: AdminState = r.admin && r.admin !== 'none' ? r.admin : r.state === 'maintenance' ? 'maint' : 'none';
      return {
        real: r.rs,
        state: r.state,
        admin,
        adminWeight: r.adminWeight ?? null,
        drain: r.drain ?? null,
        weight: r.weight,
        configuredWeight: w ? w.weight : null,
        rampTarget: r.rampTarget ?? null,
        failures: r.failures,
        lastCheck: iso(r.lastCheck),
        latencyMs: res ? res.durationMs : null,
        result: res ? { ok: res.ok, status: res.status, message: res.message } : null,
        reason: res && !res.ok ? { layer: res.status, message: res.message } : null,
        activeConns: c ? c.a : null,
        inactConns: c ? c.i : null,
        history: withHistory && input.history ? input.history.of(vid, r.rs) : [],
      };
    });
    total += out.length;
    up += vUp;
    down += out.filter((r) => r.state === 'down' || r.state === 'quiescent').length;
    return {
      virtual: vid,
      address: v?.vaddr ?? vid.replace(/^[a-z0-9]+:/, ''),
      protocol: proto,
      scheduler: v?.scheduler ?? null,
      persistent: v?.persistent ?? null,
      netmask: v && v.persistent !== undefined ? (v.netmask ?? null) : null,
      checktype: v?.checktype ?? null,
      service: v?.service ?? null,
      checkinterval: v?.checkinterval ?? null,
      checktimeout: v?.checktimeout ?? null,
      failurecount: v?.failurecount ?? null,
      quiescent: v?.quiescent ?? null,
      realsUp: vUp,
      realsTotal: out.length,
      fallback: v?.fallback && v.fallback.ip ? hostPort(v.fallback.ip, v.fallback.port) : null,
      fallbackActive: fallbackActive.get(vid) ?? false,
      reals: out,
    };
  });
  return {
    version: 1,
    pid: input.pid ?? null,
    config: input.configPath,
    status: input.status,
    generatedAt: new Date(input.now).toISOString(),
    cycle: snapshot.cycle,
    ipvsadm: snapshot.ipvsadm,
    ipvsDriver: input.ipvsDriver ?? null,
    tableReadAt: iso(input.table?.at),
    totals: { virtuals: virtuals.length, reals: total, up, down },
    virtuals,
    syncDaemons: (input.syncDaemons ?? []).map((d) => ({ ...d, checkedAt: iso(d.checkedAt ?? undefined) })),
  };
}

/**
 * CheckHistory keeps the last `size` checks of every real (ring buffers in typed arrays: 10 000 reals
 * of 20 checks are about 2.6 MB). record() takes a snapshot and adds each real whose last check is
 * newer than the one it holds; reals gone from the snapshot are forgotten.
 */
export class CheckHistory {
  private readonly rings = new Map<string, { at: Float64Array; ms: Int32Array; ok: Uint8Array; n: number; head: number }>();

  constructor(readonly size = 20) {}

  record(snapshot: Pick<DirectorSnapshot, 'reals'>): void {
    const seen = new Set<string>();
    for (const r of snapshot.reals) {
      const key = `${r.vid}\t${r.rs}`;
      seen.add(key);
      let ring = this.rings.get(key);
      if (r.lastCheck === undefined || !r.lastResult) continue;
      if (!ring) {
        ring = { at: new Float64Array(this.size), ms: new Int32Array(this.size), ok: new Uint8Array(this.size), n: 0, head: 0 };
        this.rings.set(key, ring);
      }
      const last = ring.n > 0 ? ring.at[(ring.head + this.size - 1) % this.size] : undefined;
      if (last === r.lastCheck) continue;
      ring.at[ring.head] = r.lastCheck;
      ring.ms[ring.head] = Math.max(0, Math.min(2 ** 31 - 1, Math.round(r.lastResult.durationMs)));
      ring.ok[ring.head] = r.lastResult.ok ? 1 : 0;
      ring.head = (ring.head + 1) % this.size;
      ring.n = Math.min(this.size, ring.n + 1);
    }
    for (const k of this.rings.keys()) if (!seen.has(k)) this.rings.delete(k);
  }

  /** The real's last checks, oldest first. */
  of(vid: string, rs: string): StatusCheck[] {
    const ring = this.rings.get(`${vid}\t${rs}`);
    if (!ring) return [];
    const out: StatusCheck[] = [];
    for (let k = 0; k < ring.n; k++) {
      const i = (ring.head - ring.n + k + this.size) % this.size;
      out.push({ at: new Date(ring.at[i]).toISOString(), ok: ring.ok[i] === 1, latencyMs: ring.ms[i] });
    }
    return out;
  }
}
