/**
 * Connection-sync daemons as ipvsadm names them: the `--start-daemon` argument vector, the
 * `ipvsadm -L -n --daemon` listing (parsed and printed), and the comparison of a configured daemon with
 * one the kernel reports. Shared by the ipvsadm driver, the simulated kernel and the daemon layer.
 *
 * The kernel fills in what a start leaves unset (group 224.0.0.81, port 8848, ttl 1, and a maxlen from
 * the interface's MTU), and a kernel that answers over netlink reports every field, so ipvsadm 1.31
 * lists `master sync daemon (mcast=eth0, syncid=1, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)`.
 */
import { formatIpv6, inetAton, ipv4ToString, parseIpv6 } from './addr.js';
import type { SyncDaemon } from './types.js';

/** The kernel's defaults (IP_VS_SYNC_GROUP, IP_VS_SYNC_PORT, ttl 1). */
export const SYNC_DEFAULT_GROUP = '224.0.0.81';
export const SYNC_DEFAULT_PORT = 8848;
export const SYNC_DEFAULT_TTL = 1;

/** The order in which the kernel reports the roles (and ipvsadm lists them). */
export const SYNC_ROLES: readonly SyncDaemon['role'][] = ['master', 'backup'];

/** A multicast group as inet_ntop prints it, or null when it is not an IPv4/IPv6 multicast address. */
export function canonicalMulticast(addr: string): string | null {
  if (addr.includes(':')) {
    const w = parseIpv6(addr);
    if (!w || (w[0] & 0xff00) !== 0xff00) return null;
    return formatIpv6(w);
  }
  // inet_pton(AF_INET): four decimal parts 0..255, no leading zeros.
  if (!/^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(addr)) return null;
  const n = inetAton(addr) as number;
  if (n >>> 28 !== 0xe) return null;
  return ipv4ToString(n);
}

/** `ipvsadm --start-daemon ROLE --mcast-interface IF --syncid N [...]` without the program. */
export function syncDaemonStartArgs(d: SyncDaemon): string[] {
  const a = ['--start-daemon', d.role, '--mcast-interface', d.ifname, '--syncid', String(d.syncid)];
  if (d.maxlen !== undefined) a.push('--sync-maxlen', String(d.maxlen));
  if (d.group !== undefined) a.push('--mcast-group', d.group);
  if (d.port !== undefined) a.push('--mcast-port', String(d.port));
  if (d.ttl !== undefined) a.push('--mcast-ttl', String(d.ttl));
  return a;
}

/** `ipvsadm --stop-daemon ROLE` without the program. */
export function syncDaemonStopArgs(role: SyncDaemon['role']): string[] {
  return ['--stop-daemon', role];
}

/** One daemon as `ipvsadm -L --daemon` prints it (without the newline): only the fields that are set. */
export function formatSyncDaemon(d: SyncDaemon): string {
  let s = `${d.role} sync daemon (mcast=${d.ifname}, syncid=${d.syncid}`;
  if (d.maxlen) s += `, maxlen=${d.maxlen}`;
  if (d.group !== undefined) s += `, group=${d.group}`;
  if (d.port) s += `, port=${d.port}`;
  if (d.ttl) s += `, ttl=${d.ttl}`;
  return s + ')';
}

const LINE = /^(master|backup) sync daemon \(mcast=([^,]*), syncid=(\d+)(?:, maxlen=(\d+))?(?:, group=([^,)]+))?(?:, port=(\d+))?(?:, ttl=(\d+))?\)$/;

/**
 * Parses `ipvsadm -L -n --daemon` (empty when no daemon runs). Throws an Error naming the first line
 * that is not a daemon line.
 */
export function parseSyncDaemons(text: string): SyncDaemon[] {
  const out: SyncDaemon[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = LINE.exec(line.trimEnd());
    if (!m) throw new Error(`unexpected line in the sync daemon listing: ${JSON.stringify(line.slice(0, 200))}`);
    out.push({
      role: m[1] as SyncDaemon['role'],
      ifname: m[2],
      syncid: Number(m[3]),
      ...(m[4] !== undefined ? { maxlen: Number(m[4]) } : {}),
      ...(m[5] !== undefined ? { group: m[5] } : {}),
      ...(m[6] !== undefined ? { port: Number(m[6]) } : {}),
      ...(m[7] !== undefined ? { ttl: Number(m[7]) } : {}),
    });
  }
  return out;
}

/**
 * Whether `running` (as the kernel reports it) is the daemon `want` (as configured) asks for. An unset
 * group, port or ttl means the kernel's default; an unset maxlen means whatever the kernel chose (it
 * depends on the interface's MTU); a field the kernel does not report (an old kernel without netlink
 * lists only mcast and syncid) is not compared.
 */
export function syncDaemonMatches(want: SyncDaemon, running: SyncDaemon): boolean {
  if (want.role !== running.role || want.ifname !== running.ifname || want.syncid !== running.syncid) return false;
  if (want.maxlen !== undefined && running.maxlen !== undefined && want.maxlen !== running.maxlen) return false;
  if (running.group !== undefined) {
    const g = canonicalMulticast(want.group ?? SYNC_DEFAULT_GROUP);
    if (g !== canonicalMulticast(running.group)) return false;
  }
  if (running.port !== undefined && (want.port ?? SYNC_DEFAULT_PORT) !== running.port) return false;
  if (running.ttl !== undefined && (want.ttl ?? SYNC_DEFAULT_TTL) !== running.ttl) return false;
  return true;
}

/** Only the SyncDaemon fields of a richer object (a configured daemon carries more). */
export function toSyncDaemon(d: SyncDaemon): SyncDaemon {
  return {
    role: d.role,
    ifname: d.ifname,
    syncid: d.syncid,
    ...(d.maxlen !== undefined ? { maxlen: d.maxlen } : {}),
    ...(d.group !== undefined ? { group: d.group } : {}),
    ...(d.port !== undefined ? { port: d.port } : {}),
    ...(d.ttl !== undefined ? { ttl: d.ttl } : {}),
  };
}
