/**
 * An in-memory model of the kernel's IPVS table plus an ipvsadm 1.31 command line on top of it: the
 * test double of the kernel. It reproduces the behaviour captured from the real thing
 * (shared/reference/ipvsadm-real.md) and read from ipvsadm 1.31's logic: the option grammar (popt style),
 * the userspace checks and their messages (exit 2), the kernel refusals (exit 255), `-R` line by line,
 * listing and save formats with their padding, and the listing order.
 *
 * Used by the fake ipvsadm executable (test/fake-ipvsadm) and by SimDriver (no processes).
 */
import { type Forward, IPVS_SCHEDULERS } from '../model/config.js';
import type { IpvsDest, IpvsProto, IpvsService, IpvsTable } from './types.js';

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

/** SimState is the whole kernel table (JSON-serialisable: the fake stores it in a file). */
export interface SimState {
  services: SimService[];
}

/** The outcome of one ipvsadm invocation. */
export interface SimRunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface SimRunOptions {
  /** Text on stdin (for -R). */
  stdin?: string;
  /** argv[0] as printed in the "Try `X -h'" hint; default `ipvsadm`. */
  program?: string;
  /** Schedulers the simulated kernel knows. Default: KNOWN_SCHEDULERS. */
  schedulers?: readonly string[];
}

/**
 * Schedulers the simulated kernel has: those of IPVS but `dh`, absent on purpose: the captured kernel
 * refused it ("Scheduler or persistence engine not found"), as any kernel without ip_vs_dh loaded does.
 */
export const KNOWN_SCHEDULERS: readonly string[] = IPVS_SCHEDULERS.filter((s) => s !== 'dh');

export const IPVSADM_VERSION_LINE = 'ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)';
const LIST_HEADER = 'IP Virtual Server version 1.2.1 (size=4096)\n';

const SCHED1 = 1;
const SCHED2 = 2;
const SCHED3 = 4;
const MAX_TIMEOUT = 86400 * 31;
/** ipvsadm's value for `-p` without a timeout (IPVS_SVC_PERSISTENT_TIMEOUT, 6*60). */
export const DEFAULT_PERSISTENT_TIMEOUT = 360;
const INT_MAX = 2147483647;

export function emptyState(): SimState {
  return { services: [] };
}

// ---------------------------------------------------------------------------------------------------
// Exits and errors

/** Thrown to end the whole process (ipvsadm's exit()), also from inside -R. */
class ExitSignal {
  constructor(readonly code: number) {}
}

class Out {
  stdout = '';
  stderr = '';
}

function fail(out: Out, code: number, msg: string): never {
  out.stderr += msg + '\n';
  throw new ExitSignal(code);
}

function tryhelp(out: Out, program: string): never {
  out.stderr += `Try \`${program} -h' or '${program} --help' for more information.\n`;
  throw new ExitSignal(255);
}

// ---------------------------------------------------------------------------------------------------
// Addresses

/** inet_aton: 1 to 4 parts, each decimal, octal (0...) or hex (0x...). Returns a uint32 or null. */
export function inetAton(s: string): number | null {
  if (s === '') return null;
  const parts = s.split('.');
  if (parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    let v: number;
    if (/^0[xX][0-9a-fA-F]*$/.test(p)) v = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]*$/.test(p)) v = p.length === 1 ? 0 : parseInt(p.slice(1), 8);
    else if (/^[1-9][0-9]*$/.test(p)) v = parseInt(p, 10);
    else return null;
    if (!Number.isFinite(v) || v > 0xffffffff) return null;
    nums.push(v);
  }
  const last = nums[nums.length - 1];
  const maxLast = [0xffffffff, 0xffffff, 0xffff, 0xff][nums.length - 1];
  if (last > maxLast) return null;
  for (let i = 0; i < nums.length - 1; i++) if (nums[i] > 0xff) return null;
  let r = 0;
  for (let i = 0; i < nums.length - 1; i++) r += nums[i] * 2 ** (8 * (3 - i));
  return r + last;
}

export function ipv4ToString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** inet_pton(AF_INET6): 8 16-bit words, or null. */
export function parseIpv6(s: string): number[] | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  let head = s;
  let tailV4: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    const v4 = s.slice(lastColon + 1);
    if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)) return null;
    const b = v4.split('.').map(Number);
    if (b.some((x) => x > 255)) return null;
    tailV4 = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
    head = s.slice(0, lastColon + 1);
    if (head.endsWith('::')) head = head + '';
    else if (head.endsWith(':')) head = head.slice(0, -1);
  }
  const dbl = head.indexOf('::');
  if (dbl !== head.lastIndexOf('::') && dbl >= 0) return null;
  const parseGroups = (g: string): number[] | null => {
    if (g === '') return [];
    const out: number[] = [];
    for (const x of g.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(x)) return null;
      out.push(parseInt(x, 16));
    }
    return out;
  };
  let words: number[];
  if (dbl >= 0) {
    const a = parseGroups(head.slice(0, dbl));
    const b = parseGroups(head.slice(dbl + 2));
    if (!a || !b) return null;
    const fill = 8 - a.length - b.length - tailV4.length;
    if (fill < 1) return null;
    words = [...a, ...new Array<number>(fill).fill(0), ...b, ...tailV4];
  } else {
    const a = parseGroups(head);
    if (!a) return null;
    words = [...a, ...tailV4];
    if (words.length !== 8) return null;
  }
  return words.length === 8 ? words : null;
}

/** inet_ntop(AF_INET6) as glibc prints it. */
export function formatIpv6(w: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestStart = -1;
  const hex = (x: number) => x.toString(16);
  // IPv4-compatible / mapped forms, as glibc prints them.
  if (bestStart === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
    const v4 = `${w[6] >> 8}.${w[6] & 255}.${w[7] >> 8}.${w[7] & 255}`;
    if (bestLen === 6 && !(w[6] === 0 && (w[7] === 0 || w[7] === 1))) return `::${v4}`;
    if (bestLen === 5) return `::ffff:${v4}`;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += hex(w[i]);
  }
  return s;
}

const SERVICE_ADDR = 1;
const SERVICE_PORT = 2;

/** strtol-based string_to_number(s, min, max): -1 when not a number in range. */
function stringToNumber(s: string, min: number, max: number): number {
  if (!/^[ \t\n\v\f\r]*[+-]?\d+$/.test(s)) return -1;
  const n = Number(s.trim());
  if (!Number.isSafeInteger(n) || n > 0x7fffffffffffffff || n < min || n > max) return -1;
  return n;
}

/**
 * parse_service: address[:port] or [address]:port. As ipvsadm 1.31: an IPv6 address (inet_pton), else
 * the text after the last ':' is the port and the rest an IPv4 address (inet_aton) or a host name
 * (gethostbyname: IPv4 only, here /etc/hosts); the port is a number 0-65535 or a service name of the
 * protocol (getservbyname, /etc/services). Inside brackets a non-IPv6 address loses its port (ipvsadm
 * looks for a ':' again in the text without it).
 */
function parseService(
  buf: string,
  proto: 'tcp' | 'udp' | 'sctp',
  into: { af: 4 | 6; addr: string; port: number; words: number[]; netmask?: number },
): number {
  if (buf === '' || /^\d+$/.test(buf)) return 0;
  let s = buf;
  let portText: string | null = null;
  if (s.startsWith('[')) {
    const close = s.indexOf(']', 1);
    if (close < 0) return 0;
    if (s[close + 1] !== ':') return 0;
    portText = s.slice(close + 2);
    s = s.slice(1, close);
  }
  const v6 = parseIpv6(s);
  if (v6) {
    into.af = 6;
    into.addr = formatIpv6(v6);
    into.words = v6;
    into.netmask = 128;
  } else {
    const c = s.lastIndexOf(':');
    portText = c >= 0 ? s.slice(c + 1) : null;
    if (c >= 0) s = s.slice(0, c);
    const n = inetAton(s) ?? hostToAddr(s);
    if (n === null) return 0;
    into.af = 4;
    into.addr = ipv4ToString(n);
    into.words = [n];
  }
  let result = SERVICE_ADDR;
  if (portText !== null) {
    result |= SERVICE_PORT;
    let p = stringToNumber(portText, 0, 65535);
    if (p === -1) p = serviceToPort(portText, proto);
    if (p === -1) return 0;
    into.port = p;
  }
  return result;
}

function addrWords(af: 4 | 6, addr: string): number[] {
  if (af === 6) return parseIpv6(addr) ?? [0, 0, 0, 0, 0, 0, 0, 0];
  return [inetAton(addr) ?? 0];
}

// ---------------------------------------------------------------------------------------------------
// The option grammar (popt-like)

type ArgKind = 'none' | 'req' | 'opt';
interface OptDef {
  long: string;
  short?: string;
  arg: ArgKind;
  tag: string;
}
const OPTS: OptDef[] = [
  { long: 'add-service', short: 'A', arg: 'none', tag: 'A' },
  { long: 'edit-service', short: 'E', arg: 'none', tag: 'E' },
  { long: 'delete-service', short: 'D', arg: 'none', tag: 'D' },
  { long: 'clear', short: 'C', arg: 'none', tag: 'C' },
  { long: 'list', short: 'L', arg: 'none', tag: 'L' },
  { long: 'list', short: 'l', arg: 'none', tag: 'L' },
  { long: 'zero', short: 'Z', arg: 'none', tag: 'Z' },
  { long: 'add-server', short: 'a', arg: 'none', tag: 'a' },
  { long: 'edit-server', short: 'e', arg: 'none', tag: 'e' },
  { long: 'delete-server', short: 'd', arg: 'none', tag: 'd' },
  { long: 'set', arg: 'none', tag: 'set' },
  { long: 'help', short: 'h', arg: 'none', tag: 'h' },
  { long: 'version', short: 'v', arg: 'none', tag: 'v' },
  { long: 'restore', short: 'R', arg: 'none', tag: 'R' },
  { long: 'save', short: 'S', arg: 'none', tag: 'S' },
  { long: 'start-daemon', arg: 'req', tag: 'start-daemon' },
  { long: 'stop-daemon', arg: 'req', tag: 'stop-daemon' },
  { long: 'tcp-service', short: 't', arg: 'req', tag: 't' },
  { long: 'udp-service', short: 'u', arg: 'req', tag: 'u' },
  { long: 'sctp-service', arg: 'req', tag: 'sctp' },
  { long: 'fwmark-service', short: 'f', arg: 'req', tag: 'f' },
  { long: 'scheduler', short: 's', arg: 'req', tag: 's' },
  { long: 'persistent', short: 'p', arg: 'opt', tag: 'p' },
  { long: 'netmask', short: 'M', arg: 'req', tag: 'M' },
  { long: 'real-server', short: 'r', arg: 'req', tag: 'r' },
  { long: 'masquerading', short: 'm', arg: 'none', tag: 'm' },
  { long: 'ipip', short: 'i', arg: 'none', tag: 'i' },
  { long: 'gatewaying', short: 'g', arg: 'none', tag: 'g' },
  { long: 'weight', short: 'w', arg: 'req', tag: 'w' },
  { long: 'u-threshold', short: 'x', arg: 'req', tag: 'x' },
  { long: 'l-threshold', short: 'y', arg: 'req', tag: 'y' },
  { long: 'numeric', short: 'n', arg: 'none', tag: 'n' },
  { long: 'connection', short: 'c', arg: 'none', tag: 'c' },
  { long: 'mcast-interface', arg: 'req', tag: 'mcast-interface' },
  { long: 'syncid', arg: 'req', tag: 'syncid' },
  { long: 'timeout', arg: 'none', tag: 'timeout' },
  { long: 'daemon', arg: 'none', tag: 'daemon' },
  { long: 'stats', arg: 'none', tag: 'stats' },
  { long: 'rate', arg: 'none', tag: 'rate' },
  { long: 'thresholds', arg: 'none', tag: 'thresholds' },
  { long: 'persistent-conn', arg: 'none', tag: 'persistent-conn' },
  { long: 'nosort', arg: 'none', tag: 'nosort' },
  { long: 'sort', arg: 'none', tag: 'sort' },
  { long: 'exact', short: 'X', arg: 'none', tag: 'X' },
  { long: 'ipv6', short: '6', arg: 'none', tag: '6' },
  { long: 'ops', short: 'o', arg: 'none', tag: 'o' },
  { long: 'pe', arg: 'req', tag: 'pe' },
  { long: 'sched-flags', short: 'b', arg: 'req', tag: 'b' },
  { long: 'mcast-group', arg: 'req', tag: 'mcast-group' },
  { long: 'mcast-port', arg: 'req', tag: 'mcast-port' },
  { long: 'mcast-ttl', arg: 'req', tag: 'mcast-ttl' },
  { long: 'sync-maxlen', arg: 'req', tag: 'sync-maxlen' },
  { long: 'tun-info', arg: 'none', tag: 'tun-info' },
  { long: 'tun-type', arg: 'req', tag: 'tun-type' },
  { long: 'tun-port', arg: 'req', tag: 'tun-port' },
  { long: 'tun-nocsum', arg: 'none', tag: 'tun-nocsum' },
  { long: 'tun-csum', arg: 'none', tag: 'tun-csum' },
  { long: 'tun-remcsum', arg: 'none', tag: 'tun-remcsum' },
];

type PoptItem =
  | { kind: 'opt'; tag: string; arg: string | null; text: string }
  | { kind: 'error'; code: 'unknown option' | 'missing argument'; text: string };

/** Splits argv (without argv[0]) into options in order and leftover arguments, like popt. */
function poptScan(args: readonly string[]): { items: PoptItem[]; leftovers: string[] } {
  const items: PoptItem[] = [];
  const leftovers: string[] = [];
  let i = 0;
  while (i < args.length) {
    const a = args[i++];
    if (a === '--') {
      leftovers.push(...args.slice(i));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const def = OPTS.find((o) => o.long === name);
      if (!def) {
        items.push({ kind: 'error', code: 'unknown option', text: a });
        return { items, leftovers };
      }
      let arg: string | null = null;
      if (def.arg !== 'none') {
        if (eq >= 0) arg = a.slice(eq + 1);
        else if (i < args.length && (def.arg === 'req' || !args[i].startsWith('-'))) arg = args[i++];
        else if (def.arg === 'req') {
          items.push({ kind: 'error', code: 'missing argument', text: a });
          return { items, leftovers };
        }
      }
      items.push({ kind: 'opt', tag: def.tag, arg, text: a });
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const def = OPTS.find((o) => o.short === a[k]);
        if (!def) {
          items.push({ kind: 'error', code: 'unknown option', text: a });
          return { items, leftovers };
        }
        if (def.arg === 'none') {
          items.push({ kind: 'opt', tag: def.tag, arg: null, text: a });
          continue;
        }
        let arg: string | null = null;
        const rest = a.slice(k + 1);
        if (rest !== '') arg = rest.startsWith('=') ? rest.slice(1) : rest;
        else if (i < args.length && (def.arg === 'req' || !args[i].startsWith('-'))) arg = args[i++];
        else if (def.arg === 'req') {
          items.push({ kind: 'error', code: 'missing argument', text: a });
          return { items, leftovers };
        }
        items.push({ kind: 'opt', tag: def.tag, arg, text: a });
        break;
      }
      continue;
    }
    leftovers.push(a);
  }
  return { items, leftovers };
}

// ---------------------------------------------------------------------------------------------------
// Commands and options as ipvsadm checks them

const CMDS = ['add-service', 'edit-service', 'delete-service', 'flush', 'list', 'add-server', 'delete-server',
  'edit-server', 'set', 'start-daemon', 'stop-daemon', 'restore', 'save', 'zero'] as const;
type Cmd = (typeof CMDS)[number];
const CMD_BY_TAG: Record<string, Cmd> = {
  A: 'add-service', E: 'edit-service', D: 'delete-service', C: 'flush', L: 'list', a: 'add-server',
  d: 'delete-server', e: 'edit-server', set: 'set', 'start-daemon': 'start-daemon',
  'stop-daemon': 'stop-daemon', R: 'restore', S: 'save', Z: 'zero',
};

const OPTNAMES = ['numeric', 'connection', 'service-address', 'scheduler', 'persistent', 'netmask',
  'real-server', 'forwarding-method', 'weight', 'u-threshold', 'l-threshold', 'mcast-interface', 'timeout',
  'daemon', 'stats', 'rate', 'thresholds', 'persistent-conn', 'nosort', 'syncid', 'exact', 'ops', 'pe',
  'sched-flags', 'mcast-group', 'mcast-port', 'mcast-ttl', 'sync-maxlen', 'tun-info', 'tun-type', 'tun-port',
  'tun-nocsum', 'tun-csum', 'tun-remcsum'] as const;
type OptName = (typeof OPTNAMES)[number];

// Which options each command requires (+), forbids (x), takes exclusively (1) or allows ( ): ipvsadm's
// table, in OPTNAMES order.
const CMD_OPTS: Record<Cmd, string> = {
  'add-service': 'xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx',
  'edit-service': 'xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx',
  'delete-service': 'xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
  flush: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
  list: ' 11xxxxxxxxx11       xxxxxxx xxxxx',
  'add-server': 'xx+xxx+    xxxxxxxxxxxxxxxxxx     ',
  'delete-server': 'xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx',
  'edit-server': 'xx+xxx+    xxxxxxxxxxxxxxxxxx     ',
  set: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
  'start-daemon': 'xxxxxxxxxxx xxxxxxx xxxx    xxxxxx',
  'stop-daemon': 'xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx',
  restore: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
  save: ' xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
  zero: 'xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
};

interface CommandEntry {
  cmd: Cmd | null;
  svc: {
    af: 4 | 6;
    protocol: 'tcp' | 'udp' | 'sctp';
    addr: string;
    words: number[];
    port: number;
    fwmark: number;
    sched: string;
    persistent: boolean;
    timeout: number;
    netmask: number;
    ops: boolean;
    schedFlags: number;
    pe: string;
  };
  dest: {
    af: 4 | 6;
    addr: string;
    words: number[];
    port: number;
    fwd: Forward;
    weight: number;
    uthreshold: number;
    lthreshold: number;
    tunType: 'ipip' | 'gue' | 'gre';
    tunPort: number;
    tunFlags: number;
  };
  options: Set<OptName>;
  format: Set<string>;
}

function setOption(out: Out, ce: CommandEntry, name: OptName): void {
  if (ce.options.has(name)) fail(out, 2, `multiple '${name}' options specified`);
  ce.options.add(name);
}

function parseSchedFlags(out: Out, sched: string, arg: string): number {
  const s = sched !== '' ? sched : 'wlc';
  let flags = 0;
  const list = arg.split(',').filter((x) => x !== '');
  if (list.length === 0) fail(out, 2, `invalid scheduler flag \`${arg}'`);
  for (const f of list) {
    if (f === 'flag-1') flags |= SCHED1;
    else if (f === 'flag-2') flags |= SCHED2;
    else if (f === 'flag-3') flags |= SCHED3;
    else if (f === 'sh-fallback' || f === 'sh-port') {
      flags |= f === 'sh-fallback' ? SCHED1 : SCHED2;
      if (s !== 'sh') fail(out, 2, `incompatible scheduler flag \`${f}'`);
    } else if (f === 'mh-fallback' || f === 'mh-port') {
      flags |= f === 'mh-fallback' ? SCHED1 : SCHED2;
      if (s !== 'mh') fail(out, 2, `incompatible scheduler flag \`${f}'`);
    } else fail(out, 2, `invalid scheduler flag \`${f}'`);
  }
  return flags;
}

/**
 * Parses one ipvsadm command line (argv without argv[0]) into a command entry, printing and exiting
 * exactly as ipvsadm does. Returns null when popt reports an error after the command (ipvsadm then
 * returns -1 without exiting: inside -R the restore goes on).
 */
function parseOptions(out: Out, args: readonly string[], program: string): CommandEntry | null {
  const ce: CommandEntry = {
    cmd: null,
    svc: { af: 4, protocol: 'tcp', addr: '0.0.0.0', words: [0], port: 0, fwmark: 0, sched: '', persistent: false,
      timeout: 0, netmask: 0xffffffff, ops: false, schedFlags: 0, pe: '' },
    dest: { af: 4, addr: '0.0.0.0', words: [0], port: 0, fwd: 'gate', weight: 1, uthreshold: 0, lthreshold: 0,
      tunType: 'ipip', tunPort: 0, tunFlags: 0 },
    options: new Set(),
    format: new Set(),
  };
  ce.svc.protocol = 'tcp';
  ce.svc.af = 4;
  const { items, leftovers } = poptScan(args);
  const first = items[0];
  if (!first || first.kind === 'error') tryhelp(out, program);
  if (first.tag === 'h') {
    out.stdout += `${IPVSADM_VERSION_LINE}\nUsage: (fake ipvsadm: see ipvsadm(8))\n`;
    throw new ExitSignal(0);
  }
  if (first.tag === 'v') {
    out.stdout += IPVSADM_VERSION_LINE + '\n';
    throw new ExitSignal(0);
  }
  const cmd = CMD_BY_TAG[first.tag];
  if (!cmd) tryhelp(out, program);
  ce.cmd = cmd;
  if (cmd === 'start-daemon' || cmd === 'stop-daemon') {
    if (first.arg !== 'master' && first.arg !== 'backup')
      fail(out, 2, cmd === 'start-daemon' ? 'illegal start-daemon parameter specified' : 'illegal start_daemon specified');
  }
  let schedFlagsArg = '';
  for (const it of items.slice(1)) {
    if (it.kind === 'error') {
      out.stderr += `${it.text}: ${it.code}\n`;
      return null;
    }
    const optarg = it.arg ?? '';
    switch (it.tag) {
      case 't':
      case 'u':
      case 'sctp': {
        setOption(out, ce, 'service-address');
        ce.svc.protocol = it.tag === 't' ? 'tcp' : it.tag === 'u' ? 'udp' : 'sctp';
        const r = parseService(optarg, ce.svc.protocol, ce.svc);
        if (!(r & SERVICE_ADDR)) fail(out, 2, 'illegal virtual server address[:port] specified');
        break;
      }
      case 'f': {
        setOption(out, ce, 'service-address');
        ce.svc.af = 4;
        ce.svc.protocol = 'tcp';
        const n = /^[+-]?\d+$/.test(optarg.trim()) ? Number(optarg.trim()) : NaN;
        if (!Number.isFinite(n) || n <= 0 || n > 0xffffffff) fail(out, 2, `invalid fwmark value \`${optarg}' specified`);
        ce.svc.fwmark = n;
        break;
      }
      case 's':
        setOption(out, ce, 'scheduler');
        ce.svc.sched = optarg.slice(0, 15);
        break;
      case 'p':
        setOption(out, ce, 'persistent');
        ce.svc.persistent = true;
        if (it.arg === null) ce.svc.timeout = DEFAULT_PERSISTENT_TIMEOUT;
        else {
          const t = stringToNumber(optarg, 1, MAX_TIMEOUT);
          if (t === -1) fail(out, 2, `invalid timeout value \`${optarg}' specified`);
          ce.svc.timeout = t;
        }
        break;
      case 'M':
        setOption(out, ce, 'netmask');
        if (ce.svc.af !== 6) {
          const m = inetAton(optarg);
          if (m === null) fail(out, 2, 'illegal virtual server persistent mask specified');
          ce.svc.netmask = m;
        } else {
          const m = parseInt(optarg, 10);
          if (!(m >= 1 && m <= 128)) fail(out, 2, 'illegal ipv6 netmask specified');
          ce.svc.netmask = m;
        }
        break;
      case 'r': {
        setOption(out, ce, 'real-server');
        const t = { af: ce.svc.af, addr: ce.svc.addr, port: ce.svc.port, words: ce.svc.words, netmask: ce.svc.netmask };
        const r = parseService(optarg, ce.svc.protocol, t);
        ce.dest.af = t.af;
        ce.dest.addr = t.addr;
        ce.dest.words = t.words;
        ce.dest.port = t.port;
        if (!(r & SERVICE_ADDR)) fail(out, 2, 'illegal real server address[:port] specified');
        if (r === SERVICE_ADDR) ce.dest.port = ce.svc.port;
        break;
      }
      case 'i':
      case 'g':
      case 'm':
        setOption(out, ce, 'forwarding-method');
        ce.dest.fwd = it.tag === 'i' ? 'ipip' : it.tag === 'g' ? 'gate' : 'masq';
        break;
      case 'w': {
        setOption(out, ce, 'weight');
        const w = stringToNumber(optarg, 0, 65535);
        // ipvsadm 1.31 as captured accepts weights above 65535 (70000 listed as 70000).
        const w2 = w === -1 ? stringToNumber(optarg, 0, INT_MAX) : w;
        if (w2 === -1) fail(out, 2, 'illegal weight specified');
        ce.dest.weight = w2;
        break;
      }
      case 'x': {
        setOption(out, ce, 'u-threshold');
        const v = stringToNumber(optarg, 0, INT_MAX);
        if (v === -1) fail(out, 2, 'illegal u_threshold specified');
        ce.dest.uthreshold = v;
        break;
      }
      case 'y': {
        setOption(out, ce, 'l-threshold');
        const v = stringToNumber(optarg, 0, INT_MAX);
        if (v === -1) fail(out, 2, 'illegal l_threshold specified');
        ce.dest.lthreshold = v;
        break;
      }
      case 'c':
        setOption(out, ce, 'connection');
        break;
      case 'n':
        setOption(out, ce, 'numeric');
        ce.format.add('numeric');
        break;
      case 'mcast-interface':
        setOption(out, ce, 'mcast-interface');
        break;
      case 'syncid':
        setOption(out, ce, 'syncid');
        if (stringToNumber(optarg, 0, 255) === -1) fail(out, 2, 'illegal syncid specified');
        break;
      case 'timeout':
        setOption(out, ce, 'timeout');
        break;
      case 'daemon':
        setOption(out, ce, 'daemon');
        break;
      case 'stats':
      case 'rate':
      case 'thresholds':
      case 'persistent-conn':
      case 'nosort':
        setOption(out, ce, it.tag as OptName);
        ce.format.add(it.tag);
        break;
      case 'sort':
        break;
      case 'X':
        setOption(out, ce, 'exact');
        ce.format.add('exact');
        break;
      case '6':
        if (ce.svc.fwmark) {
          ce.svc.af = 6;
          ce.svc.netmask = 128;
        } else fail(out, 2, '-6 used before -f\n');
        break;
      case 'o':
        setOption(out, ce, 'ops');
        ce.svc.ops = true;
        break;
      case 'pe':
        setOption(out, ce, 'pe');
        ce.svc.pe = optarg;
        break;
      case 'b':
        setOption(out, ce, 'sched-flags');
        schedFlagsArg = optarg.slice(0, 127);
        break;
      case 'mcast-group':
      case 'mcast-port':
      case 'mcast-ttl':
      case 'sync-maxlen':
        setOption(out, ce, it.tag as OptName);
        break;
      case 'tun-info':
        setOption(out, ce, 'tun-info');
        ce.format.add('tun-info');
        break;
      case 'tun-type':
        setOption(out, ce, 'tun-type');
        if (optarg !== 'ipip' && optarg !== 'gue' && optarg !== 'gre') fail(out, 2, 'illegal tunnel type specified');
        ce.dest.tunType = optarg;
        break;
      case 'tun-port': {
        setOption(out, ce, 'tun-port');
        const p = stringToNumber(optarg, 1, 65535);
        if (p === -1) fail(out, 2, 'illegal tunnel port specified');
        ce.dest.tunPort = p;
        break;
      }
      case 'tun-nocsum':
      case 'tun-csum':
      case 'tun-remcsum':
        setOption(out, ce, it.tag as OptName);
        ce.dest.tunFlags |= it.tag === 'tun-nocsum' ? 0 : it.tag === 'tun-csum' ? 1 : 2;
        break;
      default:
        fail(out, 2, `invalid option \`${it.text}'`);
    }
  }
  if (cmd === 'set') {
    if (leftovers.length < 3) fail(out, 2, '--set option requires 3 timeout values');
    for (const v of leftovers.slice(0, 3)) {
      if (stringToNumber(v, 0, MAX_TIMEOUT) === -1) fail(out, 2, `invalid timeout value \`${v}' specified`);
    }
    leftovers.splice(0, 3);
  }
  if (leftovers.length > 0) fail(out, 2, `unexpected argument ${leftovers[0]}`);
  if (schedFlagsArg !== '') ce.svc.schedFlags = parseSchedFlags(out, ce.svc.sched, schedFlagsArg);
  return ce;
}

function genericOptCheck(out: Out, ce: CommandEntry): void {
  const cmd = ce.cmd as Cmd;
  const table = CMD_OPTS[cmd];
  let last: OptName | null = null;
  OPTNAMES.forEach((name, j) => {
    const rule = table[j] ?? 'x';
    if (!ce.options.has(name)) {
      if (rule === '+') fail(out, 2, `You need to supply the '${name}' option for the '${cmd}' command`);
    } else {
      if (rule === 'x') fail(out, 2, `Illegal '${name}' option with the '${cmd}' command`);
      if (rule === '1') {
        if (last === null) last = name;
        else fail(out, 2, `The option '${name}' conflicts with the '${last}' option in the '${cmd}' command`);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// The simulated kernel

function findService(state: SimState, svc: CommandEntry['svc']): SimService | undefined {
  if (svc.fwmark) return state.services.find((s) => s.fwmark === svc.fwmark && s.af === svc.af);
  return state.services.find(
    (s) => s.fwmark === 0 && s.af === svc.af && s.protocol === svc.protocol && s.addr === svc.addr && s.port === svc.port,
  );
}

function findDest(s: SimService, d: CommandEntry['dest']): SimDest | undefined {
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
function kernelCall(state: SimState, ce: CommandEntry, schedulers: readonly string[]): string | null {
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
    case 'start-daemon':
      return null;
    case 'stop-daemon':
      return 'No daemon is running';
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------------
// Listing

/** The difference of two uint32 as C's `int r = a - b` gives it (wraps). */
function cDiff(a: number, b: number): number {
  return (a - b) | 0;
}

function cmpServices(a: SimService, b: SimService): number {
  let r = cDiff(a.fwmark, b.fwmark);
  if (r) return r;
  r = (a.af === 4 ? 2 : 10) - (b.af === 4 ? 2 : 10);
  if (r) return r;
  r = (a.protocol === 'tcp' ? 6 : 17) - (b.protocol === 'tcp' ? 6 : 17);
  if (r) return r;
  if (!a.fwmark) {
    const wa = wordsOf(a.af, a.addr);
    const wb = wordsOf(b.af, b.addr);
    for (let i = 0; i < wa.length && !r; i++) r = cDiff(wa[i], wb[i] ?? 0);
    if (r) return r;
  }
  return a.port - b.port;
}

/** Addresses as ipvsadm compares them: 32-bit words; IPv4 is one word. */
function wordsOf(af: 4 | 6, addr: string): number[] {
  if (af === 4) return addrWords(4, addr);
  const w = addrWords(6, addr);
  return [0, 2, 4, 6].map((i) => w[i] * 65536 + w[i + 1]);
}

function cmpDests(a: SimDest, b: SimDest): number {
  // ipvsadm compares by the first destination's family, reading the other's address as the same
  // family (an IPv4 address is the first word of the union, the rest zero).
  const wa = wordsOf(a.af, a.addr);
  const wb = wordsOf(b.af, b.addr);
  let r = 0;
  const n = a.af === 6 ? 4 : 1;
  for (let i = 0; i < n && !r; i++) r = cDiff(wa[i] ?? 0, wb[i] ?? 0);
  if (r) return r;
  return a.port - b.port;
}

const FWD_NAME: Record<Forward, string> = { gate: 'Route', masq: 'Masq', ipip: 'Tunnel' };
const FWD_SWITCH: Record<Forward, string> = { gate: '-g', masq: '-m', ipip: '-i' };

// Name databases: /etc/services and /etc/hosts as glibc's "files" sources read them (the VM that
// recorded the real answers had no working DNS, so only /etc/hosts names resolve). The texts come from
// loaders (this module stays free of fs); without them every lookup fails and output stays numeric.

/** A name database read once from its loader's text, one entry per line that `parse` accepts. */
function nameDb<T>(parse: (fields: string[]) => T | null): { setLoader(f: () => string): void; entries(): T[] } {
  let loader: () => string = () => '';
  let cache: T[] | null = null;
  return {
    setLoader(f) {
      loader = f;
      cache = null;
    },
    entries() {
      if (cache === null) {
        let text = '';
        try {
          text = loader();
        } catch {
          /* no such file: every lookup fails, output stays numeric */
        }
        cache = [];
        for (const raw of text.split('\n')) {
          const e = parse(raw.replace(/#.*/, '').trim().split(/\s+/));
          if (e !== null) cache.push(e);
        }
      }
      return cache;
    },
  };
}

interface ServEntry {
  name: string;
  port: number;
  proto: string;
  aliases: string[];
}
const servDb = nameDb<ServEntry>((f) => {
  const m = f.length >= 2 ? /^(\d+)\/(\S+)$/.exec(f[1]) : null;
  return m && f[0] !== '' ? { name: f[0], port: Number(m[1]), proto: m[2], aliases: f.slice(2) } : null;
});
/** Lets the fake executable supply /etc/services (kept out of this module to stay free of fs). */
export function setEtcServicesLoader(f: () => string): void {
  servDb.setLoader(f);
}
const services = (): ServEntry[] => servDb.entries();

/** getservbyport: the first entry's name, or the number (`-L`/`-S` without `-n`). */
function portName(port: number, proto: 'tcp' | 'udp'): string {
  return services().find((e) => e.port === port && e.proto === proto)?.name ?? String(port);
}

/** getservbyname: the port of the first entry named (or aliased) `name` for `proto`, or -1. */
function serviceToPort(name: string, proto: string): number {
  const e = services().find((x) => x.proto === proto && (x.name === name || x.aliases.includes(name)));
  return e && e.port <= 65535 ? e.port : -1;
}

interface HostEntry {
  /** IPv4 as uint32 (only IPv4 lines are kept: ipvsadm resolves IPv4 only). */
  addr: number;
  names: string[];
}
const IPV4_DOTTED = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const hostDb = nameDb<HostEntry>((f) =>
  f.length >= 2 && IPV4_DOTTED.test(f[0]) ? { addr: inetAton(f[0]) as number, names: f.slice(1) } : null,
);
/** Lets the fake executable supply /etc/hosts (host names on input, and in listings without -n). */
export function setEtcHostsLoader(f: () => string): void {
  hostDb.setLoader(f);
}
const hosts = (): HostEntry[] => hostDb.entries();

/** gethostbyname (AF_INET) through /etc/hosts: the first line naming `name` (any case), or null. */
function hostToAddr(name: string): number | null {
  if (name === '') return null;
  const lower = name.toLowerCase();
  return hosts().find((e) => e.names.some((n) => n.toLowerCase() === lower))?.addr ?? null;
}

/**
 * addr_to_anyname: gethostbyaddr's canonical name (the first name of the first /etc/hosts line with the
 * address), else the number. IPv6 always stays numeric: ipvsadm asks with an IPv4-sized address.
 */
function addrName(af: 4 | 6, addr: string): string {
  if (af === 6) return addr;
  const n = inetAton(addr);
  return hosts().find((e) => e.addr === n)?.names[0] ?? addr;
}

function addrPort(af: 4 | 6, addr: string, port: number, proto: 'tcp' | 'udp', numeric: boolean): string {
  if (numeric) return af === 4 ? `${addr}:${port}` : `[${addr}]:${port}`;
  // snprintf into 60 bytes.
  const text = af === 4 ? `${addrName(af, addr)}:${portName(port, proto)}` : `[${addr}]:${portName(port, proto)}`;
  return text.slice(0, 59);
}

function schedFlagsText(s: SimService): string {
  const f: string[] = [];
  if (s.scheduler === 'sh') {
    if (s.schedFlags & SCHED1) f.push('sh-fallback');
    if (s.schedFlags & SCHED2) f.push('sh-port');
  } else if (s.scheduler === 'mh') {
    if (s.schedFlags & SCHED1) f.push('mh-fallback');
    if (s.schedFlags & SCHED2) f.push('mh-port');
  } else {
    if (s.schedFlags & SCHED1) f.push('flag-1');
    if (s.schedFlags & SCHED2) f.push('flag-2');
    if (s.schedFlags & SCHED3) f.push('flag-3');
  }
  return f.join(',');
}

function netmaskText(s: SimService): string | undefined {
  if (s.af === 4) return s.netmask !== 0xffffffff ? ipv4ToString(s.netmask >>> 0) : undefined;
  return s.netmask !== 128 ? String(s.netmask) : undefined;
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

export interface ListFormat {
  numeric?: boolean;
  thresholds?: boolean;
  stats?: boolean;
  rate?: boolean;
  persistentConn?: boolean;
  tunInfo?: boolean;
  exact?: boolean;
  nosort?: boolean;
  /** -S */
  rule?: boolean;
}

function title(f: ListFormat): string {
  if (f.stats)
    return `${pad('Prot LocalAddress:Port', 33)} ${lpad('Conns', 8)} ${lpad('InPkts', 8)} ${lpad('OutPkts', 8)} ${lpad('InBytes', 8)} ${lpad('OutBytes', 8)}\n  -> RemoteAddress:Port\n`;
  if (f.rate)
    return `${pad('Prot LocalAddress:Port', 33)} ${lpad('CPS', 8)} ${lpad('InPPS', 8)} ${lpad('OutPPS', 8)} ${lpad('InBPS', 8)} ${lpad('OutBPS', 8)}\n  -> RemoteAddress:Port\n`;
  if (f.thresholds)
    return `${pad('Prot LocalAddress:Port', 33)} ${pad('Uthreshold', 10)} ${pad('Lthreshold', 10)} ${pad('ActiveConn', 10)} ${pad('InActConn', 10)}\n  -> RemoteAddress:Port\n`;
  if (f.persistentConn)
    return `${pad('Prot LocalAddress:Port', 33)} ${pad('Weight', 9)} ${pad('PersistConn', 11)} ${pad('ActiveConn', 10)} ${pad('InActConn', 10)}\n  -> RemoteAddress:Port\n`;
  if (f.tunInfo)
    return 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n';
  if (!f.rule)
    return 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n';
  return '';
}

/** A zero counter as print_largenum prints it (the same with and without --exact). */
const zero = (_f: ListFormat) => lpad('0', 9);

function tunInfo(d: SimDest): string {
  if (d.fwd !== 'ipip') return 'n/a';
  const flags = ['-c', '+c', 'r+c'][d.tunFlags] ?? '-c';
  if (d.tunType === 'gue') return `gue:${d.tunPort}:${flags}`;
  if (d.tunType === 'gre') return `gre:${flags}`;
  return 'ipip';
}

function formatService(s: SimService, f: ListFormat): string {
  const numeric = Boolean(f.numeric);
  let name: string;
  if (s.fwmark) {
    if (f.rule) name = s.af === 6 ? `-f ${s.fwmark} -6` : `-f ${s.fwmark}`;
    else name = s.af === 6 ? `FWM  ${s.fwmark} IPv6` : `FWM  ${s.fwmark}`;
  } else {
    const v = addrPort(s.af, s.addr, s.port, s.protocol, numeric);
    if (f.rule) name = `${s.protocol === 'tcp' ? '-t' : '-u'} ${v}`;
    else {
      name = `${pad(s.protocol.toUpperCase(), 4)} ${v}`;
      if (s.af !== 6) name = name.slice(0, 33);
    }
  }
  let line: string;
  const flags = schedFlagsText(s);
  const mask = netmaskText(s);
  if (f.rule) {
    line = `-A ${name} -s ${s.scheduler}`;
    if (s.persistent) {
      line += ` -p ${s.timeout}`;
      if (mask !== undefined) line += ` -M ${mask}`;
    }
    if (s.pe) line += ` --pe ${s.pe}`;
    if (s.ops) line += ' -o';
    if (flags) line += ` -b ${flags}`;
  } else if (f.stats || f.rate) {
    line = pad(name, 33) + zero(f).repeat(5);
  } else {
    line = `${name} ${s.scheduler}`;
    if (flags) line += ` (${flags})`;
    if (s.persistent) {
      line += ` persistent ${s.timeout}`;
      if (mask !== undefined) line += ` mask ${mask}`;
      if (s.pe) line += ` pe ${s.pe}`;
    }
    if (s.ops) line += ' ops';
  }
  let text = line + '\n';
  const dests = [...s.dests];
  if (!f.nosort) dests.sort(cmpDests);
  for (const d of dests) {
    let dname = addrPort(d.af, d.addr, d.port, s.protocol, numeric);
    if (!f.rule && d.af !== 6) dname = dname.slice(0, 28);
    if (f.rule) {
      text += `-a ${name} -r ${dname} ${FWD_SWITCH[d.fwd]} -w ${d.weight}`;
      if (d.fwd === 'ipip') {
        const opt = ['--tun-nocsum', '--tun-csum', '--tun-remcsum'][d.tunFlags] ?? '--tun-nocsum';
        if (d.tunType === 'gre') text += ` --tun-type gre ${opt}`;
        else if (d.tunType === 'gue') text += ` --tun-type gue --tun-port ${d.tunPort} ${opt}`;
        else text += ' --tun-type ipip';
      }
      text += '\n';
    } else if (f.stats) {
      text += `  -> ${pad(dname, 28)}${zero(f).repeat(5)}\n`;
    } else if (f.rate) {
      text += `  -> ${pad(dname, 28)} ${lpad('0', 8)} ${lpad('0', 8)} ${lpad('0', 8)}${zero(f).repeat(2)}\n`;
    } else if (f.thresholds) {
      text += `  -> ${pad(dname, 28)} ${pad(String(d.uthreshold), 10)} ${pad(String(d.lthreshold), 10)} ${conns(d)}\n`;
    } else if (f.persistentConn) {
      text += `  -> ${pad(dname, 28)} ${pad(String(d.weight), 9)} ${pad('0', 11)} ${conns(d)}\n`;
    } else if (f.tunInfo) {
      text += `  -> ${pad(dname, 28)} ${pad(FWD_NAME[d.fwd], 7)} ${pad(tunInfo(d), 13)} ${pad(String(d.weight), 6)} ${conns(d)}\n`;
    } else {
      text += `  -> ${pad(dname, 28)} ${pad(FWD_NAME[d.fwd], 7)} ${pad(String(d.weight), 6)} ${conns(d)}\n`;
    }
  }
  return text;
}

/** The ActiveConn and InActConn columns of a destination. */
function conns(d: SimDest): string {
  return `${pad(String(d.activeConns ?? 0), 10)} ${pad(String(d.inactConns ?? 0), 10)}`;
}

/** The whole table as `ipvsadm -L` (or `-S` with rule) prints it, with the given format. */
export function formatList(state: SimState, f: ListFormat = { numeric: true }): string {
  let text = f.rule ? '' : LIST_HEADER;
  const services = [...state.services];
  if (!f.nosort) services.sort(cmpServices);
  text += title(f);
  for (const s of services) text += formatService(s, f);
  return text;
}

/** `ipvsadm -S -n`. */
export function formatSave(state: SimState): string {
  return formatList(state, { numeric: true, rule: true });
}

// ---------------------------------------------------------------------------------------------------
// Running a command line

function formatOf(ce: CommandEntry): ListFormat {
  return {
    numeric: ce.format.has('numeric'),
    thresholds: ce.format.has('thresholds'),
    stats: ce.format.has('stats'),
    rate: ce.format.has('rate'),
    persistentConn: ce.format.has('persistent-conn'),
    tunInfo: ce.format.has('tun-info'),
    exact: ce.format.has('exact'),
    nosort: ce.format.has('nosort'),
  };
}

/** Splits -R input the way ipvsadm's config_stream_read does: words per line, `ipvsadm` words dropped. */
export function restoreLines(stdin: string): string[][] {
  const lines = stdin.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => l.split(/[ \t\r]+/).filter((w) => w !== '' && w !== 'ipvsadm'));
}

/** process_options: one command line; returns 0 or -1 (kernel refusal / popt error). */
function processOptions(state: SimState, out: Out, args: readonly string[], readingStdin: boolean, opts: SimRunOptions): number {
  const program = opts.program ?? 'ipvsadm';
  const ce = parseOptions(out, args, program);
  if (!ce) return -1;
  genericOptCheck(out, ce);
  const svc = ce.svc;
  if (ce.cmd === 'add-service' || ce.cmd === 'edit-service') {
    if (!svc.fwmark && !svc.port && !svc.persistent) fail(out, 2, 'Zero port specified for non-persistent service');
    if (svc.ops && !svc.fwmark && svc.protocol !== 'udp') fail(out, 2, 'One-Packet Scheduling is only for UDP virtual services');
    if (svc.sched === '') svc.sched = 'wlc';
  }
  if (ce.cmd === 'add-server' || ce.cmd === 'edit-server') {
    const d = ce.dest;
    // ipvsadm itself replaces the real's port by the service's for gatewaying and tunnelling.
    if (!svc.fwmark && (d.fwd === 'ipip' || d.fwd === 'gate')) d.port = svc.port;
    if (d.af !== svc.af && d.fwd !== 'ipip') fail(out, 2, 'Different address family is allowed only for tunneling servers');
    const tunOpts = ['tun-type', 'tun-port', 'tun-nocsum', 'tun-csum', 'tun-remcsum'] as const;
    if (tunOpts.some((o) => ce.options.has(o)) && d.fwd !== 'ipip') fail(out, 2, 'Tunnel options conflict with forward method');
    const rules: Record<string, string> = { ipip: 'xxxx', gue: '+111', gre: 'x11x' };
    const rule = rules[d.tunType];
    let last: string | null = null;
    (['tun-port', 'tun-nocsum', 'tun-csum', 'tun-remcsum'] as const).forEach((o, j) => {
      if (!ce.options.has(o)) {
        if (rule[j] === '+') fail(out, 2, `You need to supply the '${o}' option for the '${d.tunType}' tunnel type`);
      } else {
        if (rule[j] === 'x') fail(out, 2, `Illegal '${o}' option with the '${d.tunType}' tunnel type`);
        if (rule[j] === '1') {
          if (last === null) last = o;
          else fail(out, 2, `The option '${o}' conflicts with the '${last}' option in the '${d.tunType}' tunnel type`);
        }
      }
    });
  }
  switch (ce.cmd) {
    case 'list': {
      const o = ce.options;
      if (((o.has('connection') || o.has('timeout') || o.has('daemon')) && (o.has('stats') || o.has('rate') || o.has('thresholds'))) ||
        ((o.has('timeout') || o.has('daemon')) && o.has('persistent-conn')))
        fail(out, 2, 'options conflicts in the list command');
      if (o.has('connection')) {
        out.stdout += 'IPVS connection entries\npro expire state       source             virtual            destination\n';
      } else if (o.has('service-address')) {
        const s = findService(state, svc);
        if (!s) {
          out.stderr += 'No such service\n';
          throw new ExitSignal(1);
        }
        const f = formatOf(ce);
        out.stdout += title(f) + formatService(s, f);
      } else if (o.has('timeout')) {
        out.stdout += 'Timeout (tcp tcpfin udp): 900 120 300\n';
      } else if (o.has('daemon')) {
        /* no sync daemon */
      } else out.stdout += formatList(state, formatOf(ce));
      return 0;
    }
    case 'restore': {
      if (readingStdin) tryhelp(out, program);
      let result = 0;
      for (const words of restoreLines(opts.stdin ?? '')) {
        if (words.length === 0) continue;
        result = processOptions(state, out, words, true, opts);
      }
      return result;
    }
    case 'save':
      out.stdout += formatList(state, { ...formatOf(ce), rule: true });
      return 0;
    default: {
      const err = kernelCall(state, ce, opts.schedulers ?? KNOWN_SCHEDULERS);
      if (err !== null) {
        out.stderr += err + '\n';
        return -1;
      }
      return 0;
    }
  }
}

/**
 * runIpvsadm runs one ipvsadm invocation (argv without the program name) against the simulated kernel
 * `state`, which it changes in place, and returns what ipvsadm would print and its exit status.
 */
export function runIpvsadm(state: SimState, args: readonly string[], opts: SimRunOptions = {}): SimRunResult {
  const out = new Out();
  let code: number;
  try {
    if (args.length === 0) {
      out.stdout += formatList(state, { numeric: false });
      code = 0;
    } else code = processOptions(state, out, args, false, opts) & 255;
  } catch (e) {
    if (e instanceof ExitSignal) code = e.code & 255;
    else throw e;
  }
  return { stdout: out.stdout, stderr: out.stderr, exitCode: code };
}

// ---------------------------------------------------------------------------------------------------
// Views as the contracts' types

/** The sim table as IpvsTable (what parsing `-L -n` plus `--thresholds` would give). */
export function toIpvsTable(state: SimState): IpvsTable {
  const services = [...state.services].sort(cmpServices).map((s) => {
    const proto: IpvsProto = s.fwmark ? 'fwm' : s.protocol;
    const vaddr = s.fwmark ? String(s.fwmark) : addrPort(s.af, s.addr, s.port, s.protocol, true);
    const flags = schedFlagsText(s);
    const mask = netmaskText(s);
    const service: IpvsService = {
      proto,
      vaddr,
      ...(s.fwmark && s.af === 6 ? { ipv6Fwm: true } : {}),
      scheduler: s.scheduler,
      ...(s.persistent ? { persistent: s.timeout } : {}),
      ...(s.persistent && mask !== undefined ? { netmask: mask } : {}),
      ...(flags ? { schedflags: flags } : {}),
      ...(s.ops ? { ops: true } : {}),
    };
    const dests: IpvsDest[] = [...s.dests].sort(cmpDests).map((d) => ({
      rs: addrPort(d.af, d.addr, d.port, s.protocol, true),
      forward: d.fwd,
      weight: d.weight,
      upperThreshold: d.uthreshold,
      lowerThreshold: d.lthreshold,
      ...(d.activeConns ? { activeConns: d.activeConns } : {}),
      ...(d.inactConns ? { inactConns: d.inactConns } : {}),
    }));
    return { service, dests };
  });
  return { services };
}

/** Canonical form of an address as ipvsadm -n prints it (IPv6 compressed), or the input when unparsable. */
export function canonicalAddr(ip: string): string {
  const v6 = parseIpv6(ip);
  if (v6) return formatIpv6(v6);
  const v4 = inetAton(ip);
  return v4 === null ? ip : ipv4ToString(v4);
}
