/**
 * ipvsadm 1.31's command line on the simulated kernel: the option grammar (popt style), the userspace
 * checks and their messages (exit 2), `-R` line by line, and the run of one invocation. The kernel's
 * answers come from state.ts, the listings from listing.ts.
 */
import { formatIpv6, inetAton, ipv4ToString, parseIpv6 } from '../ipvs/addr.js';
import { canonicalMulticast } from '../ipvs/sync.js';
import { formatDaemons, formatList, formatService, title, type ListFormat } from './listing.js';
import { hostToAddr, serviceToPort } from './names.js';
import { findService, kernelCall, KNOWN_SCHEDULERS, SCHED1, SCHED2, SCHED3, type Cmd, type KernelRequest, type SimState } from './state.js';

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

export const IPVSADM_VERSION_LINE = 'ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)';
const MAX_TIMEOUT = 86400 * 31;
/** ipvsadm's value for `-p` without a timeout (IPVS_SVC_PERSISTENT_TIMEOUT, 6*60). */
export const DEFAULT_PERSISTENT_TIMEOUT = 360;
const INT_MAX = 2147483647;

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

/** One parsed command line: the kernel request plus the options and the listing format given. */
interface CommandEntry extends KernelRequest {
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
    ce.daemon = { role: first.arg, ifname: '', syncid: 0, maxlen: 0, groupAf: 0, group: '', port: 0, ttl: 0 };
  }
  const daemon = ce.daemon ?? { role: 'master', ifname: '', syncid: 0, maxlen: 0, groupAf: 0, group: '', port: 0, ttl: 0 };
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
        // strncpy into the IFNAMSIZ buffer, the last byte kept for the terminating NUL.
        daemon.ifname = optarg.slice(0, 15);
        break;
      case 'syncid': {
        setOption(out, ce, 'syncid');
        const id = stringToNumber(optarg, 0, 255);
        if (id === -1) fail(out, 2, 'illegal syncid specified');
        daemon.syncid = id;
        break;
      }
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
      case 'mcast-group': {
        setOption(out, ce, 'mcast-group');
        const six = optarg.includes(':');
        const g = canonicalMulticast(optarg);
        if (g === null || g.includes(':') !== six) fail(out, 2, `invalid IPv${six ? 6 : 4} mcast-group \`${optarg}'`);
        daemon.groupAf = six ? 6 : 4;
        daemon.group = g;
        break;
      }
      case 'mcast-port': {
        setOption(out, ce, 'mcast-port');
        const p = stringToNumber(optarg, 1, 65535);
        if (p === -1) fail(out, 2, 'illegal mcast-port specified');
        daemon.port = p;
        break;
      }
      case 'mcast-ttl': {
        setOption(out, ce, 'mcast-ttl');
        const t = stringToNumber(optarg, 1, 255);
        if (t === -1) fail(out, 2, 'illegal mcast-ttl specified');
        daemon.ttl = t;
        break;
      }
      case 'sync-maxlen': {
        setOption(out, ce, 'sync-maxlen');
        const m = stringToNumber(optarg, 1, 65535 - 20 - 8);
        if (m === -1) fail(out, 2, 'illegal sync-maxlen specified');
        daemon.maxlen = m;
        break;
      }
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
  // ipvsadm's default multicast interface (DEF_MCAST_IFN).
  if (ce.daemon && cmd === 'start-daemon' && ce.daemon.ifname === '') ce.daemon.ifname = 'eth0';
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
        out.stdout += formatDaemons(state);
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
