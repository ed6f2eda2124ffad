/**
 * The connection-sync daemons the config names (`syncdaemon =` lines, ours), kept running by the daemon
 * through the IPVS driver (ipvsadm or netlink: IpvsSyncDaemons). No line: nothing here runs, no
 * ipvsadm process is started, the daemon behaves as the original.
 *
 * - start (after the first table write) and reload: each configured role is started unless it runs as
 *   configured; one that runs with other parameters is stopped and started as configured. A role whose
 *   line a reload removed is stopped.
 * - check (every global checkinterval): one read; a configured role that vanished or changed is started
 *   again (logged once per occurrence); a refused start is logged once per distinct error and retried at
 *   the next check. Nothing here throws.
 * - stop: the configured roles are stopped, except those with `cleanstop=no`, left running (a standby
 *   director where ldirectord is stopped keeps receiving connections).
 *
 * Which daemons are ldirectord's: the roles named by a `syncdaemon` line of the running config, or of
 * an earlier config of this process (until stopped). A role no line named is never touched, even when
 * it runs: a sync daemon an admin started by hand stays.
 */
import type { SyncDaemonConfig } from '../model/config.js';
import { formatSyncDaemon, SYNC_ROLES, syncDaemonMatches, toSyncDaemon } from '../ipvs/sync.js';
import type { IpvsSyncDaemons, SyncDaemon } from '../ipvs/types.js';
import type { SyncDaemonReport } from '../observe/status.js';

type Role = SyncDaemon['role'];
type Log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

/** How a configured daemon was last seen (running, missing, differs, error). */
export type SyncDaemonState = SyncDaemonReport['state'];

export interface SyncDaemonKeeperOptions {
  /** The driver's sync daemons; undefined when the driver cannot manage them. */
  readonly ops?: IpvsSyncDaemons;
  readonly log: Log;
  readonly now?: () => number;
}

interface Entry {
  want: SyncDaemonConfig;
  state: SyncDaemonState;
  running: SyncDaemon | null;
  error: string | null;
  checkedAt: number | null;
  /** The last problem logged for this role (to log each one once). */
  logged?: string;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class SyncDaemonKeeper {
  private entries = new Map<Role, Entry>();
  /** Roles a line of this process's configs named and that were not stopped since. */
  private readonly owned = new Set<Role>();
  private readLogged?: string;
  private readonly now: () => number;

  constructor(private readonly o: SyncDaemonKeeperOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Whether there is anything to keep (a configured role, or one a reload removed and not yet stopped). */
  get active(): boolean {
    return this.entries.size > 0 || this.owned.size > 0;
  }

  /** Start or reload: the configured daemons become `wanted`, and the kernel is brought to them. */
  async apply(wanted: readonly SyncDaemonConfig[]): Promise<void> {
    const next = new Map<Role, Entry>();
    for (const want of wanted) {
      const old = this.entries.get(want.role);
      next.set(want.role, old && sameConfig(old.want, want) ? { ...old, want } : { want, state: 'missing', running: null, error: null, checkedAt: null });
      this.owned.add(want.role);
    }
    this.entries = next;
    if (!this.active) return;
    await this.converge(true);
  }

  /** The periodic check: one read, and the repairs it shows are needed. */
  async check(): Promise<void> {
    if (!this.active) return;
    await this.converge(false);
  }

  /** At daemon stop: every owned role stopped, but those configured with cleanstop=no. */
  async stop(): Promise<void> {
    if (!this.active) return;
    const ops = this.o.ops;
    if (!ops) return;
    let running: readonly SyncDaemon[];
    try {
      running = await ops.read();
    } catch (e) {
      this.o.log('error', `Can not read the IPVS sync daemons at stop: ${message(e)}`);
      return;
    }
    for (const role of SYNC_ROLES) {
      if (!this.owned.has(role)) continue;
      const e = this.entries.get(role);
      const cur = running.find((d) => d.role === role);
      if (e && !e.want.cleanstop) {
        if (cur) this.o.log('info', `Leaving the ${formatSyncDaemon(cur)} running (cleanstop=no)`);
        continue;
      }
      if (!cur) continue;
      await this.stopRole(role, cur, 'ldirectord stops');
    }
  }

  /** The configured daemons, master first. */
  status(): SyncDaemonReport[] {
    return SYNC_ROLES.flatMap((role) => {
      const e = this.entries.get(role);
      if (!e) return [];
      return [{ role, configured: toSyncDaemon(e.want), cleanstop: e.want.cleanstop, state: e.state, running: e.running, error: e.error, checkedAt: e.checkedAt }];
    });
  }

  // ---- internals ----

  private async converge(initial: boolean): Promise<void> {
    const ops = this.o.ops;
    const at = this.now();
    if (!ops) {
      const why = 'the IPVS driver in use can not manage sync daemons';
      for (const e of this.entries.values()) Object.assign(e, { state: 'error', running: null, error: why, checkedAt: at });
      if (this.readLogged !== why) this.o.log('error', `syncdaemon: ${why}`);
      this.readLogged = why;
      return;
    }
    let running: readonly SyncDaemon[];
    try {
      running = await ops.read();
    } catch (err) {
      const why = message(err);
      for (const e of this.entries.values()) Object.assign(e, { state: 'error', running: null, error: `can not read the sync daemons: ${why}`, checkedAt: at });
      if (this.readLogged !== why) this.o.log('error', `Can not read the IPVS sync daemons (will retry): ${why}`);
      this.readLogged = why;
      return;
    }
    if (this.readLogged !== undefined) this.o.log('info', 'The IPVS sync daemons can be read again');
    this.readLogged = undefined;

    // Roles a reload removed: stopped if still running, then no longer ours.
    for (const role of SYNC_ROLES) {
      if (!this.owned.has(role) || this.entries.has(role)) continue;
      const cur = running.find((d) => d.role === role);
      if (!cur || (await this.stopRole(role, cur, 'no syncdaemon line names it any more'))) this.owned.delete(role);
    }

    const started: Role[] = [];
    for (const role of SYNC_ROLES) {
      const e = this.entries.get(role);
      if (!e) continue;
      const want = toSyncDaemon(e.want);
      const cur = running.find((d) => d.role === role) ?? null;
      e.checkedAt = at;
      e.running = cur;
      if (cur && syncDaemonMatches(want, cur)) {
        if (e.state !== 'running' && e.logged !== undefined) this.o.log('info', `The ${role} sync daemon runs as configured again: ${formatSyncDaemon(cur)}`);
        Object.assign(e, { state: 'running', error: null, logged: undefined });
        continue;
      }
      if (cur) {
        e.state = 'differs';
        this.once(e, `differs:${formatSyncDaemon(cur)}`, initial ? 'info' : 'warn', `The ${role} sync daemon runs as ${formatSyncDaemon(cur)}, not as configured at ${e.want.pos.file}:${e.want.pos.line} (${formatSyncDaemon(want)}): restarting it`);
        if (!(await this.stopRole(role, cur, 'its parameters differ from the configured ones', e))) continue;
        e.running = null;
        e.state = 'missing';
      } else {
        e.state = 'missing';
        if (!initial && e.error === null) this.once(e, 'vanished', 'warn', `The ${role} sync daemon is not running any more: starting it again`);
      }
      try {
        await ops.start(want);
      } catch (err) {
        const why = message(err);
        e.error = why;
        this.once(e, `start:${why}`, 'error', `Can not start the ${formatSyncDaemon(want)} (will retry): ${why}`);
        continue;
      }
      this.o.log('info', `Started the ${formatSyncDaemon(want)}`);
      Object.assign(e, { state: 'running', running: want, error: null, logged: undefined });
      started.push(role);
    }
    // What the kernel made of the starts (its defaults filled in): one more read, only after a start.
    if (started.length === 0) return;
    let after: readonly SyncDaemon[];
    try {
      after = await ops.read();
    } catch {
      return; // the next check reads again
    }
    for (const role of started) {
      const e = this.entries.get(role) as Entry;
      const cur = after.find((d) => d.role === role) ?? null;
      e.running = cur;
      if (!cur) e.state = 'missing';
      else if (!syncDaemonMatches(toSyncDaemon(e.want), cur)) e.state = 'differs';
    }
  }

  /** Stops a role; false (logged) when refused. */
  private async stopRole(role: Role, cur: SyncDaemon, why: string, e?: Entry): Promise<boolean> {
    try {
      await this.o.ops!.stop(role);
    } catch (err) {
      const msg = message(err);
      // Gone meanwhile: as good as stopped.
      if (/No daemon is running/.test(msg)) return true;
      if (e) {
        e.error = msg;
        this.once(e, `stop:${msg}`, 'error', `Can not stop the ${role} sync daemon (will retry): ${msg}`);
      } else this.o.log('error', `Can not stop the ${role} sync daemon (${why}): ${msg}`);
      return false;
    }
    this.o.log('info', `Stopped the ${formatSyncDaemon(cur)}: ${why}`);
    return true;
  }

  /** Logs a problem of a role once, until the role is fine again or another problem replaces it. */
  private once(e: Entry, key: string, level: 'info' | 'warn' | 'error', msg: string): void {
    if (e.logged === key) return;
    e.logged = key;
    this.o.log(level, msg);
  }
}

/** Whether two lines configure the same daemon (the line number aside). */
function sameConfig(a: SyncDaemonConfig, b: SyncDaemonConfig): boolean {
  return JSON.stringify({ ...toSyncDaemon(a), c: a.cleanstop }) === JSON.stringify({ ...toSyncDaemon(b), c: b.cleanstop });
}
