/**
 * Admin state (ours; the original has none): an operator's run-time decision about one real of one
 * virtual, given through `ldirectord drain|maint|ready|weight` and kept across reload and restart.
 *
 * Pure: no I/O, no time. The engine holds the entries and applies them; the daemon persists them.
 *
 * - `drain`: the real stays in the table at weight 0 while healthy (no new connections, existing ones
 *   finish); it does not count as up for the fallback server.
 * - `maint`: out of service as if failed (removed, or weight 0 with quiescent=yes); its checks pause.
 * - `none` with a weight: that weight replaces the configured one while the real is healthy.
 * - `ready` clears the entry: health decides again, at the configured weight.
 * Health wins downward: a failed real is out whatever its admin state.
 */
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { RealServer, VirtualService } from '../model/config.js';

export type AdminState = 'none' | 'drain' | 'maint';
export type AdminOp = 'drain' | 'maint' | 'ready' | 'weight';
export const ADMIN_OPS: readonly AdminOp[] = ['drain', 'maint', 'ready', 'weight'];

/** Highest weight an admin may set (ipvsadm's limit). */
export const MAX_ADMIN_WEIGHT = 65535;

/** One admin decision, keyed by virtual id and the real's kernel destination (see adminKey). */
export interface AdminEntry {
  /** The virtual's id as the original logs it, e.g. `tcp:10.0.0.1:80`, `fwm:7`. */
  readonly virtual: string;
  /** The real's kernel destination, `ip:port` / `[ip6]:port`. */
  readonly real: string;
  readonly state: AdminState;
  /** With state `none`: the weight replacing the configured one while healthy. */
  readonly weight?: number;
  /** Who made it (uid of the peer on the control socket; undefined when it could not be read). */
  readonly uid?: number;
  /** When (ms since the epoch). */
  readonly at: number;
}

/** An admin request as it reaches the engine (the daemon has checked its shape). */
export interface AdminRequest {
  readonly op: AdminOp;
  /** `ip:port`, `[ip6]:port`, or an ip alone. Names are resolved by the command line before sending. */
  readonly real: string;
  /** `ip:port`, `[ip6]:port`, or a fwmark number; undefined = every virtual with that real. */
  readonly virtual?: string;
  /** For `weight`: 0..65535. */
  readonly weight?: number;
  readonly uid?: number;
}

/** One real an admin request changed (or found already so). */
export interface AdminChange {
  readonly virtual: string;
  readonly real: string;
  readonly admin: AdminState;
  readonly adminWeight: number | null;
  readonly changed: boolean;
}

export type AdminReply =
  | { readonly ok: true; readonly message: string; readonly changes: readonly AdminChange[] }
  | { readonly ok: false; readonly message: string };

export function adminKey(vid: string, dest: string): string {
  return `${vid}|${dest}`;
}

/** An address and optional port as given on the command line (names already resolved). */
export interface Endpoint {
  readonly ip: string;
  readonly port?: number;
}

/** Parses `ip:port`, `[ip6]:port`, `ip`, `[ip6]` or a bare IPv6 address; undefined when it is none. */
export function parseEndpoint(text: string): Endpoint | undefined {
  let ip: string;
  let port: string | undefined;
  const br = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (br) {
    ip = br[1];
    port = br[2];
  } else if (isIPv6(text)) {
    ip = text;
  } else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(text);
    if (!m) return undefined;
    ip = m[1];
    port = m[2];
  }
  if (!isIPv4(ip) && !isIPv6(ip)) return undefined;
  if (port !== undefined) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 0 || n > 65535) return undefined;
    return { ip: isIPv6(ip) ? canonicalIPv6(ip) : ip, port: n };
  }
  return { ip: isIPv6(ip) ? canonicalIPv6(ip) : ip };
}

/** The compressed lower-case form Node prints (so that `::0001` and `::1` compare equal). */
function canonicalIPv6(ip: string): string {
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

/** Does virtual `v` match the VIRTUAL argument (`ip:port`, `[ip6]:port` or a fwmark number)? */
export function virtualMatches(v: VirtualService, spec: string): boolean {
  if (/^\d+$/.test(spec)) return v.protocol === 'fwm' && v.fwmark === Number(spec);
  const e = parseEndpoint(spec);
  if (!e || v.protocol === 'fwm') return false;
  const vip = v.family === 6 ? canonicalIPv6(v.ip) : v.ip;
  return vip === e.ip && (e.port === undefined || e.port === v.port);
}

/**
 * A digest of everything in the config that decides one real's health and entry: the virtual's settings
 * (its reals excepted) and the real's own. A saved health state is trusted only with the same digest.
 */
export function realDigest(v: VirtualService, real: RealServer): string {
  const { reals: _reals, pos: _pos, ...rest } = v;
  const { pos: _rpos, source: _src, ...r } = real;
  return createHash('sha256').update(JSON.stringify([rest, r])).digest('hex').slice(0, 32);
}

/** Checks the shape of an admin request received as JSON; a message when it is not one. */
export function checkAdminRequest(x: Record<string, unknown>): AdminRequest | string {
  const op = x.op;
  if (typeof op !== 'string' || !(ADMIN_OPS as readonly string[]).includes(op)) return `unknown op ${JSON.stringify(op)}`;
  if (typeof x.real !== 'string' || x.real === '' || x.real.length > 300) return 'real: expected ip:port';
  if (!parseEndpoint(x.real)) return `real ${JSON.stringify(x.real)}: expected ip:port or an ip`;
  if (x.virtual !== undefined && (typeof x.virtual !== 'string' || x.virtual.length > 300)) return 'virtual: expected ip:port or a fwmark';
  if (typeof x.virtual === 'string' && !/^\d+$/.test(x.virtual) && !parseEndpoint(x.virtual)) return `virtual ${JSON.stringify(x.virtual)}: expected ip:port or a fwmark`;
  let weight: number | undefined;
  if (op === 'weight') {
    if (typeof x.weight !== 'number' || !Number.isInteger(x.weight) || x.weight < 0 || x.weight > MAX_ADMIN_WEIGHT) {
      return `weight ${JSON.stringify(x.weight)}: expected an integer from 0 to ${MAX_ADMIN_WEIGHT}`;
    }
    weight = x.weight;
  } else if (x.weight !== undefined) return `weight is only for the weight op`;
  return {
    op: op as AdminOp,
    real: x.real,
    ...(typeof x.virtual === 'string' ? { virtual: x.virtual } : {}),
    ...(weight !== undefined ? { weight } : {}),
  };
}

/** The text of an admin change in logs, mails and monitor files. */
export function describeAdmin(state: AdminState, weight: number | undefined, op: AdminOp): string {
  if (op === 'ready') return 'ready';
  if (state === 'drain') return 'draining';
  if (state === 'maint') return 'maintenance';
  return `weight ${weight}`;
}
