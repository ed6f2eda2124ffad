/**
 * The simulated kernel's IPVS table and the kernel side of each command: what the kernel holds, what it
 * accepts and what it refuses (the text ipvsadm prints for the refusal). The command line that builds
 * the requests is cmdline.ts; the listings are listing.ts.
 */
import { type Forward, IPVS_SCHEDULERS } from '../model/config.js';
import { inetAton, parseIpv6 } from '../ipvs/addr.js';
import { SYNC_DEFAULT_GROUP, SYNC_DEFAULT_PORT, SYNC_DEFAULT_TTL } from '../ipvs/sync.js';
import { hostInterfaces } from './names.js';

/** SimDest is one destination as the kernel holds it. */
export interface SimDest {
  af: 4 | 6;
  /** Canonical address text (IPv6 without brackets). */
  addr: string;
  port: number;
  fwd: Forward;
  weight: number;
  uthreshold: number;
  lthreshold: number;
  tunType: 'ipip' | 'gue' | 'gre';
  tunPort: number;
  /** 0 = nocsum, 1 = csum, 2 = remcsum. */
  tunFlags: number;
  /** Connections the listings show (ActiveConn, InActConn); 0 when absent. Tests set them in the state file. */
  activeConns?: number;
  inactConns?: number;
}

/** SimService is one virtual service as the kernel holds it. */
export interface SimService {
  af: 4 | 6;
  /** tcp/udp; for fwm services the kernel keeps the protocol ipvsadm sent (tcp). */
  protocol: 'tcp' | 'udp';
  /** Canonical address text; '' for fwm services. */
  addr: string;
  port: number;
  /** 0 = not a firewall-mark service. */
  fwmark: number;
  scheduler: string;
  persistent: boolean;
  timeout: number;
  /** IPv4: the mask as a 32-bit unsigned number; IPv6: the prefix length. */
  netmask: number;
  ops: boolean;
  /** Scheduler flag bits 1..3 (flag-1 = sh-fallback = mh-fallback, flag-2 = sh-port = mh-port). */
  schedFlags: number;
  pe: string;
  dests: SimDest[];
}

/**
 * SimSyncDaemon is one running connection-sync daemon (the kernel's ipvs->mcfg or ->bcfg) with the
 * defaults the kernel filled in at start.
 */
export interface SimSyncDaemon {
  role: 'master' | 'backup';
  ifname: string;
  syncid: number;
  maxlen: number;
  /** The group as inet_ntop prints it. */
  group: string;
  port: number;
  ttl: number;
}

/** SimState is the whole kernel table (JSON-serialisable: the fake stores it in a file). */
export interface SimState {
  services: SimService[];
  /** The running sync daemons, master first; absent when none runs. */
  daemons?: SimSyncDaemon[];
}

/**
 * Schedulers the simulated kernel has: those of IPVS but `dh`, absent on purpose: the captured kernel
 * refused it ("Scheduler or persistence engine not found"), as any kernel without ip_vs_dh loaded does.
 */
export const KNOWN_SCHEDULERS: readonly string[] = IPVS_SCHEDULERS.filter((s) => s !== 'dh');

/** Scheduler flag bits (IP_VS_SVC_F_SCHED1..3). */
export const SCHED1 = 1;
export const SCHED2 = 2;
export const SCHED3 = 4;

export function emptyState(): SimState {
  return { services: [] };
}

/** ipvsadm's commands by their long names. */
export const CMDS = ['add-service', 'edit-service', 'delete-service', 'flush', 'list', 'add-server', 'delete-server',
  'edit-server', 'set', 'start-daemon', 'stop-daemon', 'restore', 'save', 'zero'] as const;
export type Cmd = (typeof CMDS)[number];

/**
 * A service as a command gives it to the kernel (ipvsadm's ipvs_service_t): a SimService without its
 * destinations, with the protocol as given (sctp too) and the scheduler as `sched`.
 */
export interface SvcRequest extends Omit<SimService, 'protocol' | 'scheduler' | 'dests'> {
  protocol: 'tcp' | 'udp' | 'sctp';
  /** The address as 32-bit words (one for IPv4). */
  words: number[];
  sched: string;
}

/** A destination as a command gives it to the kernel (ipvsadm's ipvs_dest_t): a SimDest without counters. */
export interface DestRequest extends Omit<SimDest, 'activeConns' | 'inactConns'> {
  /** The address as 32-bit words (one for IPv4). */
  words: number[];
}

/** A sync daemon as --start-daemon/--stop-daemon give it to the kernel (ipvsadm's ipvs_daemon_t). */
export interface DaemonRequest {
  role: 'master' | 'backup';
  ifname: string;
  syncid: number;
  /** 0 = unset (the kernel chooses). */
  maxlen: number;
  /** 0 = unset (the kernel's 224.0.0.81). */
  groupAf: 0 | 4 | 6;
  group: string;
  port: number;
  ttl: number;
}

/** What one command asks of the kernel: the command, its service and destination, the options given. */
export interface KernelRequest {
  cmd: Cmd | null;
  svc: SvcRequest;
  dest: DestRequest;
  daemon?: DaemonRequest;
  options: ReadonlySet<string>;
}

/**
 * start_sync_thread: the kernel's defaults, the interface looked up (ENODEV before EEXIST), maxlen
 * from the interface's MTU (master: 1500 - headers; backup: the MTU clamped to 1500..65535 - headers)
 * or the given one clamped (backup at least 1024), one daemon per role (EEXIST).
 */
function startDaemon(state: SimState, d: DaemonRequest): string | null {
  const ifaces = hostInterfaces();
  const mtu = ifaces.get(d.ifname);
  if (mtu === undefined) return 'No such device';
  const six = d.groupAf === 6;
  const hlen = six ? 40 + 8 : 20 + 8;
  const backup = d.role === 'backup';
  const devMtu = backup ? Math.min(Math.max(mtu, 1500), 65535) : 1500;
  const minMtu = backup ? 1024 : 1;
  const maxlen = d.maxlen ? Math.min(Math.max(d.maxlen, minMtu), 65535 - hlen) : devMtu - hlen;
  const daemons = state.daemons ?? [];
  if (daemons.some((x) => x.role === d.role)) return 'Daemon has already run';
  const next: SimSyncDaemon = {
    role: d.role,
    ifname: d.ifname,
    syncid: d.syncid,
    maxlen,
    group: d.groupAf === 0 ? SYNC_DEFAULT_GROUP : d.group,
    port: d.port || SYNC_DEFAULT_PORT,
    ttl: d.ttl || SYNC_DEFAULT_TTL,
  };
  state.daemons = [...daemons, next].sort((a, b) => (a.role === b.role ? 0 : a.role === 'master' ? -1 : 1));
  return null;
}

/** stop_sync_thread: ESRCH when the role does not run. */
function stopDaemon(state: SimState, role: 'master' | 'backup'): string | null {
  const daemons = state.daemons ?? [];
  if (!daemons.some((x) => x.role === role)) return 'No daemon is running';
  const rest = daemons.filter((x) => x.role !== role);
  if (rest.length) state.daemons = rest;
  else delete state.daemons;
  return null;
}

export function findService(state: SimState, svc: SvcRequest): SimService | undefined {
  if (svc.fwmark) return state.services.find((s) => s.fwmark === svc.fwmark && s.af === svc.af);
  return state.services.find(
    (s) => s.fwmark === 0 && s.af === svc.af && s.protocol === svc.protocol && s.addr === svc.addr && s.port === svc.port,
  );
}

function findDest(s: SimService, d: DestRequest): SimDest | undefined {
  return s.dests.find((x) => x.af === d.af && x.addr === d.addr && x.port === d.port);
}

/** What ipvsadm prints for EINVAL from the kernel on a destination command. */
const EINVAL_MSG = 'Invalid operation.  Possibly wrong module version, address not unicast, ...';

/** The simulated host's own addresses (only the loopback interface: lo with 127.0.0.1/8 and ::1). */
function isLocalV6(w: readonly number[]): boolean {
  return w.slice(0, 7).every((x) => x === 0) && w[7] === 1;
}

/**
 * The kernel's address-type check for a new destination (ip_vs_new_dest), by the destination's own
 * family. IPv6 (ipv6_addr_type): refused unless unicast and not link-local, except when the address is
 * local; so `::`, multicast ff00::/8, link-local fe80::/10 and IPv4-mapped ::ffff:0:0/96 are refused,
 * while ::1, IPv4-compatible ::a.b.c.d, site-local fec0::/10, ULA fc00::/7 and the rest are accepted.
 * IPv4 (inet_addr_type must be RTN_LOCAL or RTN_UNICAST): refused are 0.0.0.0/8 and 255.255.255.255
 * (broadcast), 224.0.0.0/4 (multicast) and the broadcast routes of the local table; here only lo's
 * 127.255.255.255 (the simulated host has no other interface).
 */
export function destAddrAccepted(af: 4 | 6, addr: string): boolean {
  if (af === 6) {
    const w = parseIpv6(addr);
    if (!w) return false;
    if (isLocalV6(w)) return true;
    const top3 = w[0] & 0xe000;
    if (top3 !== 0 && top3 !== 0xe000) return true; // global unicast
    if ((w[0] & 0xff00) === 0xff00) return false; // multicast
    if ((w[0] & 0xffc0) === 0xfe80) return false; // link-local
    if ((w[0] & 0xffc0) === 0xfec0) return true; // site-local
    if ((w[0] & 0xfe00) === 0xfc00) return true; // unique local
    if (w.slice(0, 4).every((x) => x === 0)) {
      if (w[4] === 0 && w[5] === 0) return !(w[6] === 0 && w[7] === 0); // :: refused; ::1, ::a.b.c.d unicast
      if (w[4] === 0 && w[5] === 0xffff) return false; // IPv4-mapped: not unicast
    }
    return true;
  }
  const n = inetAton(addr);
  if (n === null) return false;
  if (n >>> 24 === 0 || n === 0xffffffff) return false;
  if (n >>> 28 === 0xe) return false;
  if (n === 0x7fffffff) return false;
  return true;
}

/** Applies a command to the kernel model; returns the error text for a refusal, or null. */
export function kernelCall(state: SimState, ce: KernelRequest, schedulers: readonly string[]): string | null {
  const svc = ce.svc;
  switch (ce.cmd) {
    case 'flush':
      state.services = [];
      return null;
    case 'add-service': {
      if (svc.protocol === 'sctp') return 'Protocol not available';
      if (findService(state, svc)) return 'Service already exists';
      if (!schedulers.includes(svc.sched)) return 'Scheduler or persistence engine not found';
      if (svc.pe !== '') return 'Scheduler or persistence engine not found';
      state.services.push({
        af: svc.af, protocol: svc.protocol, addr: svc.fwmark ? '' : svc.addr, port: svc.fwmark ? 0 : svc.port,
        fwmark: svc.fwmark, scheduler: svc.sched, persistent: svc.persistent, timeout: svc.persistent ? svc.timeout : 0,
        netmask: svc.netmask, ops: svc.ops, schedFlags: svc.schedFlags, pe: svc.pe, dests: [],
      });
      return null;
    }
    case 'edit-service': {
      const s = findService(state, svc);
      if (!s) return 'No such service';
      if (!schedulers.includes(svc.sched)) return 'Scheduler or persistence engine not found';
      if (svc.pe !== '') return 'Scheduler or persistence engine not found';
      s.scheduler = svc.sched;
      s.persistent = svc.persistent;
      s.timeout = svc.persistent ? svc.timeout : 0;
      s.netmask = svc.netmask;
      s.ops = svc.ops;
      s.schedFlags = svc.schedFlags;
      return null;
    }
    case 'delete-service': {
      const s = findService(state, svc);
      if (!s) return 'No such service';
      state.services = state.services.filter((x) => x !== s);
      return null;
    }
    case 'zero':
      if (ce.options.has('service-address') && !findService(state, svc)) return 'No such service';
      return null;
    case 'add-server':
    case 'edit-server':
    case 'delete-server': {
      const s = findService(state, svc);
      if (!s) return 'Service not defined';
      const d = ce.dest;
      if (ce.cmd === 'delete-server') {
        const cur = findDest(s, d);
        if (!cur) return 'No such destination';
        s.dests = s.dests.filter((x) => x !== cur);
        return null;
      }
      if (d.af !== s.af && d.fwd !== 'ipip') return EINVAL_MSG;
      if (d.lthreshold > d.uthreshold) return 'Numerical result out of range';
      const cur = findDest(s, d);
      const fields = { fwd: d.fwd, weight: d.weight, uthreshold: d.uthreshold, lthreshold: d.lthreshold,
        tunType: d.tunType, tunPort: d.tunPort, tunFlags: d.tunFlags };
      if (ce.cmd === 'add-server') {
        if (cur) return 'Destination already exists';
        // ip_vs_new_dest: only a new destination's address type is checked (EINVAL), after EEXIST.
        if (!destAddrAccepted(d.af, d.addr)) return EINVAL_MSG;
        s.dests.push({ af: d.af, addr: d.addr, port: d.port, ...fields });
      } else {
        if (!cur) return 'No such destination';
        Object.assign(cur, fields);
      }
      return null;
    }
    case 'set':
      return null;
    case 'start-daemon':
      return ce.daemon ? startDaemon(state, ce.daemon) : null;
    case 'stop-daemon':
      return ce.daemon ? stopDaemon(state, ce.daemon.role) : 'No daemon is running';
    default:
      return null;
  }
}
