/**
 * The daemon's side of issue 18: loads the admin state file at start (before the first table write),
 * serves the control socket, hands each request to the director through the daemon's queue of
 * operations (never in the middle of a reload or stop), and saves the file after every change, after a
 * reload and, with the reals that are up, at stop.
 */
import type { Director } from '../engine/types.js';
import type { EngineInit } from '../engine/engine.js';
import type { HealthEntry } from '../engine/engine.js';
import { adminStatePath, loadState, saveState } from './admin-store.js';
import { ControlServer, controlSocketPath, type ControlReply } from './control.js';
import { runDir } from './pidfile.js';

type Log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

export interface AdminServiceOptions {
  readonly cfgName: string;
  readonly configPath: string;
  readonly log: Log;
  /** Runs f in the daemon's queue of operations; undefined when the daemon is stopping. */
  readonly enqueue: <T>(f: () => Promise<T>) => Promise<T | undefined>;
  readonly director: () => Director;
  readonly now?: () => number;
  /** Called once a verb changed something, before the reply goes out (the daemon writes its state file). */
  readonly changed?: () => Promise<void>;
}

export class AdminService {
  readonly statePath: string;
  readonly socketPath: string;
  private server?: ControlServer;
  private readonly now: () => number;
  private rewrite = false;

  constructor(private readonly o: AdminServiceOptions) {
    this.statePath = adminStatePath(o.cfgName);
    this.socketPath = controlSocketPath(runDir(), o.cfgName);
    this.now = o.now ?? Date.now;
  }

  /** Reads the state file for the director's start. */
  load(): EngineInit {
    const s = loadState(this.statePath, this.now(), this.o.log);
    this.rewrite = s.hadHealth || s.admin.length > 0;
    return { admin: s.admin, health: s.health, ramps: s.ramps };
  }

  /**
   * After the start: rewrites the file as it now is (admin entries of reals no longer configured
   * dropped, the health section gone, so that a crash never leaves it to be trusted later); nothing to
   * do when the file held nothing.
   */
  started(): void {
    if (this.rewrite) this.save();
  }

  /** Starts the control socket (a failure is logged; the daemon runs on without it). */
  async listen(): Promise<void> {
    const server = new ControlServer({ path: this.socketPath, log: this.o.log, handle: (req, uid) => this.handle(req, uid) });
    if (await server.start()) this.server = server;
  }

  /** Writes the state file: the admin entries, and at stop the reals up then. Failures are logged. */
  save(health?: readonly HealthEntry[]): void {
    let admin;
    try {
      admin = this.o.director().adminEntries();
    } catch {
      return; // a director without admin state
    }
    const now = this.now();
    try {
      saveState(this.statePath, {
        version: 1,
        config: this.o.configPath,
        savedAt: now,
        admin,
        ...(health ? { health: { stoppedAt: now, reals: health } } : {}),
      });
    } catch (e) {
      this.o.log('error', `Can not write the admin state file ${this.statePath}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** The reals up now (for save at stop), or undefined. */
  health(): HealthEntry[] | undefined {
    try {
      return this.o.director().healthEntries();
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.server?.close();
    this.server = undefined;
  }

  private async handle(req: Parameters<Director['admin']>[0], uid: number | undefined): Promise<ControlReply> {
    const what = `${req.op}${req.op === 'weight' ? ` ${req.weight}` : ''} ${req.real}${req.virtual !== undefined ? ` ${req.virtual}` : ''}`;
    const r = await this.o.enqueue(async () => {
      const reply = await this.o.director().admin({ ...req, ...(uid !== undefined ? { uid } : {}) });
      if (reply.ok && reply.changes.some((c) => c.changed)) this.save();
      return reply;
    });
    if (r?.ok && r.changes.some((c) => c.changed)) await this.o.changed?.().catch(() => undefined);
    if (r === undefined) return { ok: false, code: 'busy', message: 'the daemon is stopping' };
    if (!r.ok) {
      this.o.log('info', `Admin request refused (uid ${uid ?? 'unknown'}): ${what}: ${r.message}`);
      return { ok: false, code: 'refused', message: r.message };
    }
    return { ok: true, message: r.message, changes: r.changes };
  }
}
