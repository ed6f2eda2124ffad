/**
 * The admin state file (issue 18): `<statedir>/ldirectord.<CFGNAME>.admin.json`, statedir being
 * $LDIRECTORD_STATEDIR or /var/lib/ldirectord (see stateDir). It holds the admin decisions (drain, maint, weight) and,
 * written at stop, which reals were up then (with a digest of their config, and how far a slowstart ramp
 * had gone), so that a restart neither forgets an operator's decision nor flaps a real that was up nor
 * gives a ramping real its full weight at once.
 *
 * Written atomically: a temporary file beside it, fsync, rename, fsync of the directory. A file that
 * cannot be read or parsed is logged and moved aside (`.corrupt-<ms>`); the daemon starts without it.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AdminEntry, AdminState } from '../engine/admin.js';
import { adminKey, MAX_ADMIN_WEIGHT } from '../engine/admin.js';
import type { HealthEntry } from '../engine/engine.js';

/**
 * How old a saved health state may be and still be trusted at start (ms). A restart or an upgrade takes
 * seconds; after five minutes the reals may have changed without the daemon seeing it.
 */
export const HEALTH_MAX_AGE_MS = 5 * 60_000;

/** Most entries read from a file (a hand-edited or hostile file must not cost unbounded memory). */
const MAX_ENTRIES = 200_000;

export interface SavedState {
  readonly version: 1;
  /** The config file the daemon ran (informational). */
  readonly config: string;
  readonly savedAt: number;
  readonly admin: readonly AdminEntry[];
  /** Written at stop only: the reals up then. */
  readonly health?: { readonly stoppedAt: number; readonly reals: readonly HealthEntry[] };
}

/**
 * The state directory: $LDIRECTORD_STATEDIR, else /var/lib/ldirectord; but when only $LDIRECTORD_RUNDIR
 * is set (a daemon run in a private directory, as tests do), that directory, so that such a daemon never
 * shares state with the system's.
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const d = env.LDIRECTORD_STATEDIR || env.LDIRECTORD_RUNDIR;
  return d && d !== '' ? d.replace(/\/+$/, '') || '/' : '/var/lib/ldirectord';
}

/** The state file of a config name. */
export function adminStatePath(cfgName: string, env: NodeJS.ProcessEnv = process.env): string {
  return `${stateDir(env)}/ldirectord.${cfgName}.admin.json`;
}

const STATES: readonly AdminState[] = ['none', 'drain', 'maint'];

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function checkEntry(x: unknown): AdminEntry | undefined {
  if (!isObj(x)) return undefined;
  const { virtual, real, state, weight, uid, at } = x;
  if (typeof virtual !== 'string' || typeof real !== 'string' || typeof state !== 'string' || !STATES.includes(state as AdminState)) return undefined;
  if (typeof at !== 'number') return undefined;
  if (weight !== undefined && (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > MAX_ADMIN_WEIGHT)) return undefined;
  if (state === 'none' && weight === undefined) return undefined;
  if (uid !== undefined && (typeof uid !== 'number' || !Number.isInteger(uid))) return undefined;
  return { virtual, real, state: state as AdminState, ...(weight !== undefined ? { weight } : {}), ...(uid !== undefined ? { uid } : {}), at };
}

function checkHealth(x: unknown): HealthEntry | undefined {
  if (!isObj(x) || typeof x.virtual !== 'string' || typeof x.real !== 'string' || typeof x.digest !== 'string') return undefined;
  const { rampedMs } = x;
  if (rampedMs !== undefined && (typeof rampedMs !== 'number' || !Number.isFinite(rampedMs) || rampedMs < 0)) return undefined;
  return { virtual: x.virtual, real: x.real, digest: x.digest, ...(rampedMs !== undefined ? { rampedMs } : {}) };
}

/** Parses a state file's text; throws with the reason when it is not one. */
export function parseSavedState(text: string): SavedState {
  const x: unknown = JSON.parse(text);
  if (!isObj(x) || x.version !== 1) throw new Error('not an ldirectord state file (version 1)');
  if (!Array.isArray(x.admin) || x.admin.length > MAX_ENTRIES) throw new Error('admin: expected a list');
  const admin = x.admin.map((e, i) => {
    const ok = checkEntry(e);
    if (!ok) throw new Error(`admin entry ${i + 1} is malformed`);
    return ok;
  });
  let health: SavedState['health'];
  if (x.health !== undefined) {
    const h = x.health;
    if (!isObj(h) || typeof h.stoppedAt !== 'number' || !Array.isArray(h.reals) || h.reals.length > MAX_ENTRIES) throw new Error('health: malformed');
    health = {
      stoppedAt: h.stoppedAt,
      reals: h.reals.map((e, i) => {
        const ok = checkHealth(e);
        if (!ok) throw new Error(`health entry ${i + 1} is malformed`);
        return ok;
      }),
    };
  }
  return { version: 1, config: typeof x.config === 'string' ? x.config : '', savedAt: typeof x.savedAt === 'number' ? x.savedAt : 0, admin, ...(health ? { health } : {}) };
}

export interface LoadedState {
  readonly admin: readonly AdminEntry[];
  /** adminKey -> digest of the reals up at the last stop, when that stop is recent enough. */
  readonly health: ReadonlyMap<string, string>;
  /** adminKey -> ms done of the slowstart ramps unfinished at that stop (same age rule as health). */
  readonly ramps: ReadonlyMap<string, number>;
  /** Whether the file held a health section (the caller rewrites the file without it). */
  readonly hadHealth: boolean;
}

/**
 * Reads the state file at start. Missing: empty. Unreadable or corrupt: logged, moved aside, empty. A
 * health section older than HEALTH_MAX_AGE_MS (or from the future) is ignored, and logged.
 */
export function loadState(path: string, now: number, log: (level: 'info' | 'warn' | 'error', msg: string) => void): LoadedState {
  const empty: LoadedState = { admin: [], health: new Map(), ramps: new Map(), hadHealth: false };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return empty;
    log('error', `Can not read the admin state file ${path}: ${(e as Error).message}; starting without it`);
    moveAside(path, now, log);
    return empty;
  }
  let s: SavedState;
  try {
    s = parseSavedState(text);
  } catch (e) {
    log('error', `Corrupt admin state file ${path}: ${(e as Error).message}; starting without it`);
    moveAside(path, now, log);
    return empty;
  }
  const health = new Map<string, string>();
  const ramps = new Map<string, number>();
  if (s.health) {
    const age = now - s.health.stoppedAt;
    if (age >= 0 && age <= HEALTH_MAX_AGE_MS) {
      for (const h of s.health.reals) {
        health.set(adminKey(h.virtual, h.real), h.digest);
        if (h.rampedMs !== undefined) ramps.set(adminKey(h.virtual, h.real), h.rampedMs);
      }
    }
    else log('info', `Saved health state of ${Math.round(age / 1000)}s ago not used (older than ${HEALTH_MAX_AGE_MS / 1000}s): every real is judged by its first check`);
  }
  for (const e of s.admin) {
    log('info', `Admin state kept from the last run: ${e.real} (${e.virtual}) ${e.state === 'none' ? `weight ${e.weight}` : e.state}`);
  }
  return { admin: s.admin, health, ramps, hadHealth: s.health !== undefined };
}

function moveAside(path: string, now: number, log: (level: 'info' | 'warn' | 'error', msg: string) => void): void {
  const aside = `${path}.corrupt-${now}`;
  try {
    renameSync(path, aside);
    log('error', `Moved ${path} aside to ${aside}`);
  } catch (e) {
    log('error', `Can not move ${path} aside: ${(e as Error).message}`);
  }
}

/** Writes the state file atomically (temporary file, fsync, rename, directory fsync); mode 0600. */
export function saveState(path: string, state: SavedState): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(state, null, 1) + '\n');
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* gone */
    }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  try {
    const d = openSync(dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    /* some file systems refuse a directory fsync; the rename is done */
  }
}
