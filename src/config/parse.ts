/**
 * The ldirectord.cf parser: file → immutable Config with every default of the original applied and
 * every name resolved. It reproduces the original's read_config line by line: where the original
 * accepts a file we accept it, where it rejects one we throw a ConfigError for the same line. Each
 * quirk the original has is kept on purpose and marked "Original's behaviour" below.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { hostname as osHostname } from 'node:os';

import {
  type AddressFamily,
  type CheckType,
  type Config,
  type ConfigWarning,
  type DaemonStatus,
  type FallbackServer,
  type Forward,
  type GlobalConfig,
  IPVS_SCHEDULERS,
  type LogTarget,
  type Protocol,
  type RealServer,
  SERVICE_PORTS,
  SERVICES,
  type ServiceName,
  type VirtualService,
} from '../model/config.js';
import { ConfigError } from '../util/errors.js';
import { translatePerlRegex } from '../util/perl-regex.js';
import { firstDigits, perlRe, perlSplitCommaList, perlTrue } from './perl.js';
import { type Resolver, systemResolver } from './resolver.js';

export type { Resolver } from './resolver.js';

/** ParseOptions tune how the file is checked; the defaults behave like the original's `start`. */
export interface ParseOptions {
  /** Name and service lookups; default: getaddrinfo + /etc/services. */
  resolver?: Resolver;
  /** Host name used in the ftp/sip login defaults; default $HOSTNAME, else the node name. */
  hostname?: string;
  /** Perform the original's parse-time file side effects as checks (logfile, monitorfile). Default true. */
  checkFiles?: boolean;
  /** As under the original's -d: the logfile is not test-opened. Default false. */
  debug?: boolean;
  /**
   * Translator of receive= patterns (Perl syntax) to RegExp; a throw rejects the line. Default:
   * translatePerlRegex (src/util/perl-regex.ts), the one the checks match answers with.
   */
  regexTranslator?: (src: string) => RegExp;
}

/** Syslog facilities (logfile= without a leading "/"); others are accepted but fail when logging. */
const SYSLOG_FACILITIES = new Set([
  'auth', 'authpriv', 'cron', 'daemon', 'ftp', 'kern', 'lpr', 'mail', 'news', 'syslog', 'user', 'uucp',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
]);

/** ld_port_to_service, SERVICE_PORTS read backwards: keyed by the port as written, so "080" maps to none (original's behaviour). */
const PORT_TO_SERVICE = new Map(Object.entries(SERVICE_PORTS).map(([service, port]) => [String(port), service as ServiceName]));

const ALL_STATUSES: readonly DaemonStatus[] = ['starting', 'running', 'stopping', 'reloading'];

// Patterns of the original (Perl syntax; see perlRe). Kept close to the original so that the
// same text is accepted, including its unanchored searches.
const R = {
  virtual: perlRe('^virtual(6)?\\s*=\\s*(.*)'),
  vIPv4: perlRe('^(\\d+\\.\\d+\\.\\d+\\.\\d+):([0-9A-Za-z_-]+)'),
  vHost: perlRe('^([0-9A-Za-z._+-]+):([0-9A-Za-z_-]+)'),
  vFwm: perlRe('^(\\d+)'),
  vIPv6: perlRe('^\\[([0-9A-Fa-f:]+)\\]:([0-9A-Za-z_-]+)'),
  comment: perlRe('^\\s*#'),
  blank: perlRe('^\\s*$'),
  blockLine: perlRe('^ {4,}(.+)'),
  real: perlRe(
    '(\\d+\\.\\d+\\.\\d+\\.\\d+|[A-Za-z0-9.-]+|\\[[0-9A-fa-f:]+\\])(->(\\d+\\.\\d+\\.\\d+\\.\\d+|[A-Za-z0-9.-]+|\\[[0-9A-fa-f:]+\\]))?(:(\\d+|[A-Za-z0-9_-]+))?\\s+(.*)',
  ),
  realFwd: perlRe('(\\w+)(.*)'),
  realWeight: perlRe('\\s+(\\d+)(.*)'),
  realReqRecv: perlRe('\\s+"(.*)"[, ]\\s*"(.*)"(.*)'),
  realLower: perlRe('\\s+l:(\\d+)(.*)'),
  realUpper: perlRe('\\s+u:(\\d+)(.*)'),
  fbSplit: perlRe('(\\S+)(\\s+(\\S+))?\\s*$'),
  hostPort: perlRe('(:(\\d+|[A-Za-z0-9_-]+))?$'),
  brackets: perlRe('\\[(.*)\\]'),
};

/** d builds the `^name\s*=\s*(.*)` pattern of a directive (or its quoted form). */
function d(name: string, form: 'raw' | 'quoted' | 'digits' = 'raw'): RegExp {
  const value = form === 'quoted' ? '"(.*)"' : form === 'digits' ? '(\\d*)' : '(.*)';
  return perlRe(`^${name}\\s*=\\s*${value}`);
}

const V = {
  real: perlRe('^(real(6)?)\\s*=\\s*(.*)'),
  request: d('request', 'quoted'),
  receive: d('receive', 'quoted'),
  checktype: d('checktype'),
  checkcommandQ: d('checkcommand', 'quoted'),
  checkcommand: d('checkcommand'),
  checktimeout: d('checktimeout'),
  connecttimeout: d('connecttimeout'),
  negotiatetimeout: d('negotiatetimeout'),
  checkcount: d('checkcount'),
  failurecount: d('failurecount'),
  checkinterval: d('checkinterval'),
  checkport: d('checkport'),
  login: d('login', 'quoted'),
  passwd: d('passwd', 'quoted'),
  database: d('database', 'quoted'),
  secret: d('secret', 'quoted'),
  load: d('load', 'quoted'),
  scheduler: d('scheduler'),
  persistent: d('persistent'),
  schedflags: d('schedflags'),
  netmask: d('netmask'),
  protocol: d('protocol'),
  ops: d('ops'),
  service: d('service'),
  httpmethod: d('httpmethod'),
  virtualhost: d('virtualhost'),
  fallback: perlRe('^(fallback(6)?)\\s*=\\s*(.*)'),
  fallbackcommandQ: d('fallbackcommand', 'quoted'),
  fallbackcommand: d('fallbackcommand'),
  quiescent: d('quiescent'),
  emailalert: d('emailalert'),
  emailalertfreq: d('emailalertfreq', 'digits'),
  emailalertstatus: d('emailalertstatus'),
  monitorfileQ: d('monitorfile', 'quoted'),
  monitorfile: d('monitorfile'),
  cleanstop: d('cleanstop'),
  fallbackcommandonstop: d('fallbackcommandonstop'),
  smtp: d('smtp'),
  servicename: d('servicename'),
  comment: d('comment'),
};

const G = {
  checktimeout: d('checktimeout'),
  connecttimeout: d('connecttimeout'),
  negotiatetimeout: d('negotiatetimeout'),
  checkinterval: d('checkinterval'),
  checkcount: d('checkcount'),
  failurecount: d('failurecount'),
  fallback: perlRe('^fallback(6)?\\s*=\\s*(.*)'),
  fallbackcommand: d('fallbackcommand'),
  autoreload: d('autoreload'),
  callback: d('callback', 'quoted'),
  logfile: d('logfile', 'quoted'),
  execute: d('execute'),
  fork: d('fork'),
  supervisedPrefix: perlRe('^supervised'),
  supervised: d('supervised'),
  supervisedBare: perlRe('^supervised\\s*$'),
  quiescent: d('quiescent'),
  readdquiescent: d('readdquiescent'),
  emailalert: d('emailalert'),
  emailalertfreq: d('emailalertfreq', 'digits'),
  emailalertstatus: d('emailalertstatus'),
  emailalertfrom: d('emailalertfrom'),
  cleanstop: d('cleanstop'),
  fallbackcommandonstop: d('fallbackcommandonstop'),
  smtp: d('smtp'),
  maintenancedir: d('maintenancedir'),
  timeout: d('timeout'),
};

/** A fallback as written, before resolution (parse_fallback). */
interface FallbackDraft {
  server: string;
  port?: string;
  forward: Forward;
  line: number;
  family: AddressFamily;
}

/** A virtual block as read, before resolution and inheritance. */
interface VirtualDraft {
  keyword: 'virtual' | 'virtual6';
  family: AddressFamily;
  line: number;
  hostPort?: string;
  typedPort?: string;
  fwm?: string;
  protocol: Protocol;
  checktype: CheckType;
  combinedCount?: number;
  service?: ServiceName;
  checkcommand: string;
  request: string;
  receive: string;
  receiveLine?: number;
  login: string;
  passwd: string;
  database: string;
  secret: string;
  load?: string;
  checktimeout: number;
  negotiatetimeout: number;
  checkcount: number;
  failurecount: number;
  checkinterval?: { value: number; line: number };
  checkport?: number;
  scheduler: string;
  persistent?: number;
  netmask?: string;
  schedflags?: string;
  ops: boolean;
  httpmethod: 'GET' | 'HEAD';
  virtualhost?: string;
  fallback?: FallbackDraft;
  fallbackcommand?: string;
  quiescent?: boolean;
  emailalert?: string;
  emailalertfreq?: number;
  emailalertstatus?: DaemonStatus[];
  monitorfile?: string;
  cleanstop?: boolean;
  fallbackcommandonstop?: boolean;
  smtp?: string;
  servicename?: string;
  comment?: string;
  lines: Record<string, number>;
  realsTodo: { text: string; line: number }[];
}

/** A virtual after resolution: what the rest of the file cannot change any more. */
interface ResolvedVirtual {
  draft: VirtualDraft;
  ip: string;
  /** The server as the original prints it: a.b.c.d or [v6]; empty for fwm. */
  server: string;
  /** The resolved port as the original keeps it (a string: "080" stays "080"). */
  portStr: string;
  port: number;
  service: ServiceName;
  fallback?: FallbackServer;
  reals: RealServer[];
  vid: string;
}

interface GlobalDraft {
  checktimeout: number;
  negotiatetimeout: number;
  checkinterval: number;
  checkcount: number;
  failurecount: number;
  autoreload: boolean;
  callback?: string;
  fallback?: { tcp?: FallbackServer; udp?: FallbackServer };
  fallback6?: { tcp?: FallbackServer; udp?: FallbackServer };
  fallbackcommand?: string;
  logfile: LogTarget;
  emailalert: string;
  emailalertfreq: number;
  emailalertstatus: DaemonStatus[];
  emailalertfrom?: string;
  smtp?: string;
  execute: string[];
  supervised: boolean;
  fork: boolean;
  quiescent: boolean;
  readdquiescent: boolean;
  cleanstop: boolean;
  fallbackcommandonstop: boolean;
  maintenancedir?: string;
  checkintervalLine?: number;
}

/** Signature of a Perl-regex translator (default translatePerlRegex of src/util/perl-regex.ts). */
type RegexTranslator = (src: string) => RegExp;

class Parser {
  readonly warnings: ConfigWarning[] = [];
  readonly resolver: Resolver;
  readonly hostname: string;
  readonly checkFiles: boolean;
  readonly debug: boolean;
  readonly hostCache = new Map<string, Promise<string | undefined>>();
  readonly translateRegex: RegexTranslator;

  constructor(
    readonly file: string,
    opts: ParseOptions,
  ) {
    this.resolver = opts.resolver ?? systemResolver;
    this.hostname = opts.hostname ?? process.env.HOSTNAME ?? osHostname();
    this.checkFiles = opts.checkFiles ?? true;
    this.debug = opts.debug ?? false;
    this.translateRegex = opts.regexTranslator ?? translatePerlRegex;
  }

  error(line: number, message: string, text?: string): never {
    throw new ConfigError(this.file, line, message, text);
  }

  warn(line: number, message: string): void {
    this.warnings.push({ file: this.file, line, message });
  }

  /** ld_gethostbyname: brackets stripped, first address of the family; result without brackets. */
  lookupHost(name: string, family: AddressFamily): Promise<string | undefined> {
    const m = R.brackets.exec(name);
    const bare = m ? m[1] : name;
    // Original's behaviour: getaddrinfo with an empty host name yields the loopback address, so an
    // empty fallback= means the local host.
    if (bare === '') return Promise.resolve(family === 6 ? '::1' : '127.0.0.1');
    const key = `${family}|${bare}`;
    let p = this.hostCache.get(key);
    if (!p) {
      p = this.resolver.lookupHost(bare, family);
      this.hostCache.set(key, p);
    }
    return p;
  }

  /** ld_getservbyname: a number 0..65535 is itself (kept as typed), else /etc/services. */
  servicePort(name: string, proto: 'tcp' | 'udp' | ''): string | undefined {
    if (/^[0-9]+$/.test(name)) return Number(name) < 65536 ? name : undefined;
    const p = this.resolver.servicePort(name, proto);
    return p === undefined ? undefined : String(p);
  }

  /** The receive= regex must be translatable to a JavaScript RegExp (the checks use it). */
  checkReceive(line: number, receive: string): void {
    try {
      this.translateRegex(receive);
    } catch (e) {
      const msg = (e as Error).message;
      this.error(line, msg.startsWith('receive pattern') ? msg : `receive pattern cannot be used: ${msg}`, receive);
    }
  }
}

function yesNo(v: string): boolean | undefined {
  return v === 'yes' ? true : v === 'no' ? false : undefined;
}

function defaultGlobals(): GlobalDraft {
  return {
    checktimeout: -1,
    negotiatetimeout: -1,
    checkinterval: 10,
    checkcount: 1,
    failurecount: 1,
    autoreload: false,
    logfile: { kind: 'file', path: '/var/log/ldirectord.log' },
    emailalert: '',
    emailalertfreq: 0,
    emailalertstatus: [...ALL_STATUSES],
    execute: [],
    supervised: false,
    fork: false,
    quiescent: false,
    readdquiescent: false,
    cleanstop: true,
    fallbackcommandonstop: false,
  };
}

/** parse_emailalertstatus: comma list of all/none/starting/running/stopping/reloading. */
function parseEmailAlertStatus(p: Parser, line: number, arg: string): DaemonStatus[] {
  const words = perlSplitCommaList(arg);
  const none = words.includes('none');
  let set = new Set<DaemonStatus>();
  for (const w of words) {
    if (w === 'none') continue;
    if (w === 'all') set = new Set(ALL_STATUSES);
    else if ((ALL_STATUSES as readonly string[]).includes(w)) set.add(w as DaemonStatus);
    else p.error(line, `invalid emailalertstatus word "${w}" (use all, none, starting, running, stopping, reloading)`, arg);
    if (none) p.error(line, `invalid emailalertstatus: "${w}" given together with "none"`, arg);
  }
  return ALL_STATUSES.filter((s) => set.has(s));
}

/** read_emailalert: enclosing quotes stripped, must not be empty. */
function readEmailAlert(p: Parser, line: number, v: string): string {
  const m = /^"([^"]*)"$/.exec(v);
  const addr = m ? m[1] : v;
  if (addr === '') p.error(line, 'emailalert: no e-mail address given', v);
  return addr;
}

/** parse_fallback: `host[:port] [gate|masq|ipip]`; a virtual's fallback defaults to its port. */
function parseFallback(
  p: Parser,
  line: number,
  value: string,
  family: AddressFamily,
  virtualPort: string | undefined,
): FallbackDraft {
  let rest = value;
  let fwd: string | undefined;
  const m = R.fbSplit.exec(rest);
  if (m) {
    fwd = m[3];
    rest = m[1];
  }
  const hp = R.hostPort.exec(rest) as RegExpExecArray;
  let port: string | undefined = hp[2];
  const server = rest.slice(0, hp.index);
  if (port === undefined && virtualPort !== undefined) port = virtualPort;
  let forward: Forward = 'gate';
  // Original's behaviour: a forwarding word "0" counts as absent (Perl truth).
  if (perlTrue(fwd)) {
    if (fwd !== 'gate' && fwd !== 'masq' && fwd !== 'ipip') {
      p.error(line, `fallback forwarding method must be gate, masq or ipip, not "${fwd}"`, value);
    }
    forward = fwd;
  }
  return { server, port, forward, line, family };
}

/** _ld_read_config_fallback_resolve: host with the family, port (if any) with the protocol. */
async function resolveFallback(
  p: Parser,
  fb: FallbackDraft,
  protocol: string,
): Promise<FallbackServer> {
  const ip = await p.lookupHost(fb.server, fb.family);
  if (ip === undefined) {
    p.error(
      fb.line,
      `fallback server "${fb.server}" is not a valid IPv${fb.family} address or cannot be resolved`,
      fb.server,
    );
  }
  let port = 0;
  if (perlTrue(fb.port)) {
    const r = p.servicePort(fb.port as string, protocol === 'udp' ? 'udp' : protocol === 'tcp' ? 'tcp' : '');
    // Original's behaviour: the lookup result must be true in Perl ("0" is not).
    if (!perlTrue(r)) p.error(fb.line, `invalid port "${fb.port}" for fallback server`, fb.port);
    port = Number(r);
  } else if (fb.port !== undefined) {
    port = Number(fb.port) || 0;
  }
  return {
    ip,
    family: fb.family,
    port,
    forward: fb.forward,
    pos: { file: p.file, line: fb.line },
    portGiven: fb.port !== undefined,
  };
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

const NON_BLANK = perlRe('\\S');

/** Upper bound on the reals one range may expand to (the original would just exhaust memory). */
const MAX_RANGE = 1 << 20;

/** add_real_server: forward method, weight, per-real request/receive and thresholds. */
function addRealServer(
  p: Parser,
  v: VirtualDraft,
  out: RealServer[],
  line: number,
  ip: string,
  port: string,
  flagsIn: string,
  source: string,
): void {
  const fm = R.realFwd.exec(flagsIn);
  if (!fm || (fm[1] !== 'gate' && fm[1] !== 'masq' && fm[1] !== 'ipip')) {
    p.error(line, 'real server forwarding method must be gate, masq or ipip', source);
  }
  const forward = fm[1] as Forward;
  let flags: string | undefined = fm[2];
  let weight = 1;
  let request: string | undefined;
  let receive: string | undefined;
  let lower = 0;
  let upper = 0;
  const wm = R.realWeight.exec(flags);
  if (wm) {
    weight = Number(wm[1]);
    flags = wm[2];
  }
  const rr = R.realReqRecv.exec(flags);
  if (rr) {
    request = rr[1];
    if (request.startsWith('/')) {
      // Original's behaviour (a bug kept on purpose): when the per-real request already starts with
      // "/", the receive string and everything after it (thresholds, even garbage) are discarded.
      // Such a real then uses the virtual's receive (and, for HTTP, the virtual's URL).
      receive = undefined;
      flags = undefined;
      p.warn(
        line,
        `per-real request "${request}" starts with "/": like the original, its receive string and anything after it are ignored (write the request without the leading "/")`,
      );
    } else {
      request = '/' + request;
      receive = rr[2];
      flags = rr[3];
    }
  }
  if (flags !== undefined) {
    const lm = R.realLower.exec(flags);
    if (lm) {
      lower = Number(lm[1]);
      flags = lm[2];
    }
    const um = R.realUpper.exec(flags);
    if (um) {
      upper = Number(um[1]);
      flags = um[2];
    }
    if (NON_BLANK.test(flags)) {
      p.error(line, `invalid real server line, around "${flags}"`, source);
    }
  }
  if (receive !== undefined) p.checkReceive(line, receive);
  const family: AddressFamily = v.family;
  out.push({
    ip,
    family,
    port: Number(port),
    forward,
    weight,
    upperThreshold: upper,
    lowerThreshold: lower,
    ...(request !== undefined ? { request } : {}),
    ...(receive !== undefined ? { receive } : {}),
    source,
    pos: { file: p.file, line },
  });
}

/** _ld_read_config_real_resolve + add_real_server_range for one real= line. */
async function resolveReal(p: Parser, v: VirtualDraft, out: RealServer[], text: string, line: number): Promise<void> {
  const m = R.real.exec(text);
  if (!m) p.error(line, 'invalid real server address (expected host[->host][:port] gate|masq|ipip ...)', text);
  const [, ip1, , ip2, , portM, flags] = m;
  if (m.index > 0) {
    // Original's behaviour: the pattern is unanchored, so leading text is skipped silently
    // (e.g. "192.0.2.2::5060 gate" is read as host "5060", i.e. 0.0.19.196).
    p.warn(line, `real server "${text}": like the original, "${text.slice(0, m.index)}" is skipped and "${ip1}" is taken as the address`);
  }
  const port = portM ?? '0';
  const r1 = await p.lookupHost(ip1, v.family);
  if (r1 === undefined) p.error(line, `real server address "${ip1}" is invalid or cannot be resolved`, ip1);
  const rport = p.servicePort(port, '');
  if (rport === undefined) p.error(line, `real server port "${port}" is invalid or unknown`, port);
  if (ip2 === undefined) {
    addRealServer(p, v, out, line, r1, rport, flags, text);
    return;
  }
  const r2 = await p.lookupHost(ip2, v.family);
  if (r2 === undefined) p.error(line, `real server range end "${ip2}" is invalid or cannot be resolved`, ip2);
  if (v.family === 6) p.error(line, 'address ranges are not supported for IPv6 real servers', text);
  const first = ipToInt(r1);
  const last = ipToInt(r2);
  if (first > last) p.error(line, `invalid range ${r1}->${r2}: the first address must not be greater than the last`, text);
  // Original's behaviour (a bug kept on purpose): the loop compares the integers as strings.
  const lastStr = String(last);
  let count = 0;
  for (let i = first; String(i) <= lastStr; i++) {
    if (++count > MAX_RANGE) p.error(line, `range ${r1}->${r2} expands to more than ${MAX_RANGE} real servers`, text);
    addRealServer(p, v, out, line, intToIp(i), rport, flags, text);
  }
  if (count !== last - first + 1) {
    p.warn(
      line,
      `range ${r1}->${r2} yields ${count} real servers instead of ${last - first + 1} (the original compares the addresses as strings; kept for compatibility)`,
    );
  }
}

async function resolveVirtual(p: Parser, v: VirtualDraft, endLine: number, seen: Set<string>): Promise<ResolvedVirtual> {
  let fallback: FallbackServer | undefined;
  if (v.fallback) fallback = await resolveFallback(p, v.fallback, v.protocol);
  let ip = '';
  let server = '';
  let portStr = '0';
  let service: ServiceName;
  if (v.hostPort !== undefined) {
    // ld_gethostservbyname
    const hp = R.hostPort.exec(v.hostPort) as RegExpExecArray;
    const host = v.hostPort.slice(0, hp.index);
    const resolvedIp = await p.lookupHost(host, v.family);
    const resolvedPort =
      resolvedIp === undefined || hp[2] === undefined
        ? undefined
        : p.servicePort(hp[2], v.protocol === 'udp' ? 'udp' : 'tcp');
    if (resolvedIp === undefined || resolvedPort === undefined) {
      p.error(v.line, `virtual service address "${v.hostPort}" is invalid or cannot be resolved`, v.hostPort);
    }
    ip = resolvedIp;
    server = v.family === 6 ? `[${ip}]` : ip;
    portStr = resolvedPort;
    service = v.service ?? PORT_TO_SERVICE.get(portStr) ?? 'none';
  } else {
    service = v.service ?? 'none';
  }
  const reals: RealServer[] = [];
  for (const t of v.realsTodo) await resolveReal(p, v, reals, t.text, t.line);
  const vid =
    v.protocol === 'fwm' ? `fwm${v.family === 6 ? '6' : ''}:${v.fwm}` : `${v.protocol}:${server}:${portStr}`;
  if (seen.has(vid)) p.error(endLine, `duplicate virtual service ${vid}`);
  seen.add(vid);
  return { draft: v, ip, server, portStr, port: Number(portStr), service, fallback, reals, vid };
}

function newVirtual(keyword: 'virtual' | 'virtual6', line: number): VirtualDraft {
  return {
    keyword,
    family: keyword === 'virtual6' ? 6 : 4,
    line,
    protocol: 'tcp',
    checktype: 'negotiate',
    checkcommand: '/bin/true',
    request: '/',
    receive: '',
    login: '',
    passwd: '',
    database: '',
    secret: '',
    checktimeout: -1,
    negotiatetimeout: -1,
    checkcount: -1,
    failurecount: -1,
    scheduler: 'wrr',
    ops: false,
    httpmethod: 'GET',
    lines: {},
    realsTodo: [],
  };
}

/** Parses the `virtual=` value (header of a block). */
function parseVirtualHeader(p: Parser, keyword: 'virtual' | 'virtual6', value: string, line: number): VirtualDraft {
  const v = newVirtual(keyword, line);
  let m: RegExpExecArray | null;
  let port: string | undefined;
  if (v.family === 4 && (m = R.vIPv4.exec(value))) {
    v.hostPort = `${m[1]}:${m[2]}`;
    port = m[2];
  } else if ((m = R.vHost.exec(value))) {
    v.hostPort = `${m[1]}:${m[2]}`;
    port = m[2];
  } else if ((m = R.vFwm.exec(value))) {
    v.fwm = m[1];
    if (/^\d+\.\d/.test(value)) {
      p.warn(line, `"${value}" has no port: like the original, it is taken as firewall mark ${Number(m[1])}`);
    }
  } else if ((m = R.vIPv6.exec(value))) {
    if (v.family === 4) p.error(line, 'an IPv6 address needs "virtual6", not "virtual"', value);
    if (!isIPv6(m[1])) p.error(line, `invalid IPv6 address "${m[1]}" for virtual service`, value);
    v.hostPort = `[${m[1]}]:${m[2]}`;
    port = m[2];
  } else {
    p.error(line, `invalid address for virtual service: "${value}"`, value);
  }
  const rest = m ? value.slice(m[0].length) : '';
  if (NON_BLANK.test(rest) && !perlRe('^\\s*#').test(rest)) {
    p.warn(line, `text after the virtual service address is ignored: "${rest.trim()}"`);
  }
  if (v.hostPort !== undefined) {
    if (port === '53' || port === 'domain') v.protocol = 'udp';
    v.typedPort = port;
  } else {
    v.protocol = 'fwm';
    v.service = undefined;
    v.typedPort = '0';
  }
  return v;
}


/** Handles one line inside a virtual block (the text after the indentation, comment removed). */
async function parseVirtualDirective(p: Parser, v: VirtualDraft, rcmd: string, raw: string, line: number): Promise<void> {
  let m: RegExpExecArray | null;
  const nonEmpty = (s: string, what: string): string => {
    if (s === '') p.error(line, what, raw);
    return s;
  };
  const positive = (s: string, what: string): string => {
    const digits = firstDigits(s);
    // Original's behaviour: the first digit run must be true in Perl ("0" is not, "00" is).
    if (!perlTrue(digits)) p.error(line, what, raw);
    return digits as string;
  };
  if ((m = V.real.exec(rcmd))) {
    const six = m[2] !== undefined;
    if ((v.family === 4 && six) || (v.family === 6 && !six)) {
      p.error(line, `"${m[1]}" cannot be used in a ${v.keyword} block; use "${v.family === 6 ? 'real6' : 'real'}"`, raw);
    }
    v.realsTodo.push({ text: m[3], line });
  } else if ((m = V.request.exec(rcmd))) {
    const r = nonEmpty(m[1], 'request: empty request string');
    v.request = r.startsWith('/') ? r : '/' + r;
  } else if ((m = V.receive.exec(rcmd))) {
    v.receive = nonEmpty(m[1], 'receive: empty receive string');
    v.receiveLine = line;
    p.checkReceive(line, v.receive);
  } else if ((m = V.checktype.exec(rcmd))) {
    const val = m[1];
    const digits = firstDigits(val);
    const word = /[\w-]+/.exec(val)?.[0];
    if (digits !== undefined) {
      v.checktype = 'combined';
      v.combinedCount = Number(digits);
      if (!/^\d+$/.test(val)) {
        p.warn(line, `checktype "${val}" contains digits: like the original, it means the combined check with ${v.combinedCount}`);
      }
    } else if (word && ['connect', 'negotiate', 'ping', 'off', 'on', 'external', 'external-perl'].includes(word)) {
      v.checktype = word as CheckType;
    } else {
      p.error(line, 'checktype must be connect, negotiate, on, off, ping, external, external-perl or a number', raw);
    }
  } else if ((m = V.checkcommandQ.exec(rcmd)) || (m = V.checkcommand.exec(rcmd))) {
    v.checkcommand = nonEmpty(m[1], 'checkcommand: empty command');
  } else if ((m = V.checktimeout.exec(rcmd))) {
    v.checktimeout = Number(positive(m[1], 'checktimeout: a positive number of seconds is required'));
  } else if (V.connecttimeout.test(rcmd)) {
    p.error(line, 'connecttimeout is deprecated: use negotiatetimeout', raw);
  } else if ((m = V.negotiatetimeout.exec(rcmd))) {
    v.negotiatetimeout = Number(positive(m[1], 'negotiatetimeout: a positive number of seconds is required'));
  } else if ((m = V.checkcount.exec(rcmd))) {
    v.checkcount = Number(positive(m[1], 'checkcount: a positive number is required'));
    p.warn(line, 'checkcount is deprecated and slated for removal; see failurecount');
  } else if ((m = V.failurecount.exec(rcmd))) {
    v.failurecount = Number(positive(m[1], 'failurecount: a positive number is required'));
  } else if ((m = V.checkinterval.exec(rcmd))) {
    v.checkinterval = { value: Number(positive(m[1], 'checkinterval: a positive number of seconds is required')), line };
  } else if ((m = V.checkport.exec(rcmd))) {
    const digits = firstDigits(m[1]);
    if (digits === undefined) p.error(line, 'checkport: a port number is required', raw);
    const n = Number(digits);
    if (!(n > 0 && n < 65536)) p.error(line, 'checkport must be in the range 1..65535', raw);
    v.checkport = n;
  } else if ((m = V.login.exec(rcmd))) {
    v.login = nonEmpty(m[1], 'login: empty login string');
  } else if ((m = V.passwd.exec(rcmd))) {
    v.passwd = nonEmpty(m[1], 'passwd: empty password');
  } else if ((m = V.database.exec(rcmd))) {
    v.database = nonEmpty(m[1], 'database: empty database name');
  } else if ((m = V.secret.exec(rcmd))) {
    v.secret = nonEmpty(m[1], 'secret: empty secret');
  } else if ((m = V.load.exec(rcmd))) {
    const w = /\w+/.exec(m[1]);
    if (!w) p.error(line, 'load: a word is required', raw);
    v.load = w[0];
  } else if ((m = V.scheduler.exec(rcmd))) {
    // No check against a list, as in the original: ipvsadm rejects unknown schedulers at runtime.
    const s = /[a-z]+/.exec(m[1]);
    if (!s) p.error(line, 'scheduler must be written in lowercase letters (a-z)', raw);
    v.scheduler = s[0];
    if (s[0] !== m[1]) p.warn(line, `scheduler "${m[1]}" is read as "${s[0]}" (first run of lowercase letters)`);
    if (!(IPVS_SCHEDULERS as readonly string[]).includes(s[0])) p.warn(line, `scheduler "${s[0]}" is not a known IPVS scheduler: ipvsadm will reject it at runtime`);
    v.lines.scheduler = line;
  } else if ((m = V.persistent.exec(rcmd))) {
    const digits = firstDigits(m[1]);
    if (digits === undefined) p.error(line, 'persistent: a timeout in seconds is required', raw);
    v.persistent = Number(digits);
    v.lines.persistent = line;
  } else if ((m = V.schedflags.exec(rcmd))) {
    const s = /\S+/.exec(m[1].replace(/\x0B/g, ' '));
    if (!s) p.error(line, 'schedflags: a flag list is required', raw);
    v.schedflags = s[0];
  } else if ((m = V.netmask.exec(rcmd))) {
    const val = m[1];
    if (v.family === 6) {
      if (!/^\d+$/.test(val) || Number(val) < 1 || Number(val) > 128) {
        p.error(line, 'netmask of an IPv6 service must be a prefix length between 1 and 128', raw);
      }
    } else {
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(val)) p.error(line, 'netmask must be in dotted quad notation', raw);
      if (!isContiguousNetmask(val)) p.warn(line, `netmask "${val}" is not a valid IPv4 netmask: ipvsadm will reject it at runtime`);
    }
    v.netmask = val;
    v.lines.netmask = line;
  } else if ((m = V.protocol.exec(rcmd))) {
    const w = /\w+/.exec(m[1])?.[0];
    if (w === undefined) p.error(line, 'protocol: a protocol name is required', raw);
    if (v.protocol === 'fwm') {
      if (w !== 'fwm') p.error(line, 'protocol must be fwm for a firewall-mark virtual service', raw);
    } else if (w === 'tcp' || w === 'udp') {
      v.protocol = w;
    } else {
      p.error(line, 'protocol must be tcp or udp for an address:port virtual service', raw);
    }
  } else if ((m = V.ops.exec(rcmd))) {
    const b = yesNo(m[1]);
    if (b === undefined) p.error(line, "ops must be 'yes' or 'no'", raw);
    v.ops = b;
    v.lines.ops = line;
  } else if ((m = V.service.exec(rcmd))) {
    const w = /\w+/.exec(m[1])?.[0];
    if (w === undefined || !(SERVICES as readonly string[]).includes(w)) {
      p.error(line, `service must be one of ${[...SERVICES].sort().join(', ')}`, raw);
    }
    v.service = w as ServiceName;
    // Defaults applied only when service= is given, at this line (original's behaviour).
    if (w === 'ftp' && v.login === '') v.login = 'anonymous';
    else if (w === 'sip' && v.login === '') v.login = `ldirectord@${p.hostname}`;
    if (w === 'ftp' && v.passwd === '') v.passwd = `ldirectord@${p.hostname}`;
  } else if ((m = V.httpmethod.exec(rcmd))) {
    const w = /\w+/.exec(m[1])?.[0]?.toUpperCase();
    if (w !== 'GET' && w !== 'HEAD') p.error(line, 'httpmethod must be GET or HEAD', raw);
    v.httpmethod = w;
  } else if ((m = V.virtualhost.exec(rcmd))) {
    v.virtualhost = (/"?([^"]*)"?/.exec(m[1]) as RegExpExecArray)[1];
  } else if ((m = V.fallback.exec(rcmd))) {
    const six = m[2] !== undefined;
    if ((v.family === 4 && six) || (v.family === 6 && !six)) {
      p.error(line, `"${m[1]}" cannot be used in a ${v.keyword} block; use "${v.family === 6 ? 'fallback6' : 'fallback'}"`, raw);
    }
    v.fallback = parseFallback(p, line, m[3], v.family, v.typedPort);
  } else if ((m = V.fallbackcommandQ.exec(rcmd)) || (m = V.fallbackcommand.exec(rcmd))) {
    v.fallbackcommand = nonEmpty(m[1], 'fallbackcommand: empty command');
  } else if ((m = V.quiescent.exec(rcmd))) {
    const b = yesNo(m[1]);
    if (b === undefined) p.error(line, "quiescent must be 'yes' or 'no'", raw);
    v.quiescent = b;
  } else if ((m = V.emailalert.exec(rcmd))) {
    v.emailalert = readEmailAlert(p, line, m[1]);
  } else if ((m = V.emailalertfreq.exec(rcmd))) {
    if (m[1] === '') p.error(line, 'emailalertfreq: a number of seconds is required', raw);
    v.emailalertfreq = Number(m[1]);
  } else if ((m = V.emailalertstatus.exec(rcmd))) {
    v.emailalertstatus = parseEmailAlertStatus(p, line, m[1]);
  } else if ((m = V.monitorfileQ.exec(rcmd)) || (m = V.monitorfile.exec(rcmd))) {
    const path = m[1];
    if (p.checkFiles) await testAppend(p, line, path, 'monitorfile');
    v.monitorfile = path;
  } else if ((m = V.cleanstop.exec(rcmd))) {
    const b = yesNo(m[1]);
    if (b === undefined) p.error(line, "cleanstop must be 'yes' or 'no'", raw);
    v.cleanstop = b;
  } else if ((m = V.fallbackcommandonstop.exec(rcmd))) {
    // Ours, not the original's: run `fallbackcommand stop ...` when the daemon stops with the fallback on.
    const b = yesNo(m[1]);
    if (b === undefined) p.error(line, "fallbackcommandonstop must be 'yes' or 'no'", raw);
    v.fallbackcommandonstop = b;
  } else if ((m = V.smtp.exec(rcmd))) {
    const s = /^[0-9A-Za-z._+-]+(?::\d{1,5}(?![0-9]))?/.exec(m[1]); // host[:port]: the original drops the port and dials 25
    if (!s) p.error(line, 'smtp: invalid SMTP server address', raw);
    v.smtp = s[0];
  } else if ((m = V.servicename.exec(rcmd))) {
    v.servicename = m[1];
  } else if ((m = V.comment.exec(rcmd))) {
    v.comment = m[1];
  } else {
    p.error(line, `unknown directive in virtual block: ${raw.trim()}`, raw);
  }
}

function isContiguousNetmask(q: string): boolean {
  const o = q.split('.').map(Number);
  if (o.some((x) => x > 255)) return false;
  const n = ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
  const inv = ~n >>> 0;
  return (inv & (inv + 1)) === 0;
}

/** The original's open(">>path") test: the file is created if missing (as the original does). */
async function testAppend(p: Parser, line: number, path: string, what: string): Promise<void> {
  try {
    const fh = await open(path, 'a', 0o640);
    await fh.close();
  } catch (e) {
    p.error(line, `unable to open ${what} ${path}: ${(e as NodeJS.ErrnoException).message}`, path);
  }
}

/** Handles one top-level line that is not a virtual block header. */
async function parseGlobalDirective(p: Parser, g: GlobalDraft, raw: string, line: number): Promise<void> {
  let m: RegExpExecArray | null;
  const positive = (s: string, what: string): string => {
    const digits = firstDigits(s);
    if (!perlTrue(digits)) p.error(line, what, raw);
    return digits as string;
  };
  const bool = (s: string, name: string): boolean => {
    const b = yesNo(s);
    if (b === undefined) p.error(line, `${name} must be 'yes' or 'no'`, raw);
    return b;
  };
  if ((m = G.checktimeout.exec(raw))) {
    const digits = firstDigits(m[1]);
    if (!perlTrue(digits) || Number(digits) <= 0) p.error(line, 'checktimeout: a positive number of seconds is required', raw);
    g.checktimeout = Number(digits);
  } else if (G.connecttimeout.test(raw)) {
    p.error(line, 'connecttimeout is deprecated: use negotiatetimeout', raw);
  } else if ((m = G.negotiatetimeout.exec(raw))) {
    const digits = firstDigits(m[1]);
    if (!perlTrue(digits) || Number(digits) <= 0) p.error(line, 'negotiatetimeout: a positive number of seconds is required', raw);
    g.negotiatetimeout = Number(digits);
  } else if ((m = G.checkinterval.exec(raw))) {
    g.checkinterval = Number(positive(m[1], 'checkinterval: a positive number of seconds is required'));
    g.checkintervalLine = line;
  } else if ((m = G.checkcount.exec(raw))) {
    g.checkcount = Number(positive(m[1], 'checkcount: a positive number is required'));
    p.warn(line, 'checkcount is deprecated and slated for removal; see failurecount');
  } else if ((m = G.failurecount.exec(raw))) {
    g.failurecount = Number(positive(m[1], 'failurecount: a positive number is required'));
  } else if ((m = G.fallback.exec(raw))) {
    const family: AddressFamily = m[1] !== undefined ? 6 : 4;
    const tcpD = parseFallback(p, line, m[2], family, undefined);
    const udpD = parseFallback(p, line, m[2], family, undefined);
    const tcp = await resolveFallback(p, tcpD, 'tcp');
    const udp = await resolveFallback(p, udpD, 'udp');
    if (family === 4) g.fallback = { tcp, udp };
    else g.fallback6 = { tcp, udp };
  } else if ((m = G.fallbackcommand.exec(raw))) {
    if (m[1] === '') p.error(line, 'fallbackcommand: empty command', raw);
    g.fallbackcommand = m[1];
  } else if ((m = G.autoreload.exec(raw))) {
    g.autoreload = bool(m[1], 'autoreload');
  } else if ((m = G.callback.exec(raw))) {
    g.callback = m[1];
  } else if ((m = G.logfile.exec(raw))) {
    const value = m[1];
    const target: LogTarget = value.startsWith('/') ? { kind: 'file', path: value } : { kind: 'syslog', facility: value };
    // ld_openlog: not tried under -d or once supervised=yes was read (original's behaviour).
    if (target.kind === 'file' && p.checkFiles && !p.debug && !g.supervised) {
      await testAppend(p, line, value, 'logfile');
    }
    if (target.kind === 'syslog' && !SYSLOG_FACILITIES.has(value)) {
      p.warn(line, `logfile "${value}" is neither a path nor a syslog facility: logging will fail at runtime`);
    }
    g.logfile = target;
  } else if ((m = G.execute.exec(raw))) {
    if (!g.execute.includes(m[1])) g.execute.push(m[1]);
  } else if ((m = G.fork.exec(raw))) {
    g.fork = bool(m[1], 'fork');
  } else if (G.supervisedPrefix.test(raw)) {
    const sm = G.supervised.exec(raw);
    if (sm && (sm[1] === 'yes' || sm[1] === 'no')) {
      g.supervised = sm[1] === 'yes';
    } else if (G.supervisedBare.test(raw)) {
      g.supervised = true;
      p.warn(line, 'a bare "supervised" is deprecated: write supervised = yes');
    } else {
      p.error(line, "supervised must be 'yes' or 'no'", raw);
    }
  } else if ((m = G.quiescent.exec(raw))) {
    g.quiescent = bool(m[1], 'quiescent');
  } else if ((m = G.readdquiescent.exec(raw))) {
    g.readdquiescent = bool(m[1], 'readdquiescent');
  } else if ((m = G.emailalert.exec(raw))) {
    g.emailalert = readEmailAlert(p, line, m[1]);
  } else if ((m = G.emailalertfreq.exec(raw))) {
    if (m[1] === '') p.error(line, 'emailalertfreq: a number of seconds is required', raw);
    g.emailalertfreq = Number(m[1]);
  } else if ((m = G.emailalertstatus.exec(raw))) {
    g.emailalertstatus = parseEmailAlertStatus(p, line, m[1]);
  } else if ((m = G.emailalertfrom.exec(raw))) {
    if (m[1] === '') p.error(line, 'emailalertfrom: no address given', raw);
    g.emailalertfrom = m[1];
  } else if ((m = G.cleanstop.exec(raw))) {
    g.cleanstop = bool(m[1], 'cleanstop');
  } else if ((m = G.fallbackcommandonstop.exec(raw))) {
    g.fallbackcommandonstop = bool(m[1], 'fallbackcommandonstop');
  } else if ((m = G.smtp.exec(raw))) {
    const s = /^[0-9A-Za-z._+-]+(?::\d{1,5}(?![0-9]))?/.exec(m[1]); // host[:port]: the original drops the port and dials 25
    if (!s) p.error(line, 'smtp: invalid SMTP server address', raw);
    g.smtp = s[0];
  } else if ((m = G.maintenancedir.exec(raw))) {
    if (m[1] === '') p.error(line, 'maintenancedir: no directory given', raw);
    g.maintenancedir = m[1];
    const st = await stat(m[1]).catch(() => undefined);
    if (!st?.isDirectory()) p.warn(line, `maintenance directory ${m[1]} does not exist`);
    else if (p.checkFiles && st.mode & 0o002) p.warn(line, `maintenance directory ${m[1]} is world-writable: anyone can put real servers in maintenance`);
  } else if (G.timeout.test(raw)) {
    p.error(line, 'timeout is deprecated: use checktimeout and negotiatetimeout', raw);
  } else {
    p.error(line, `unknown directive: ${raw.trim()}`, raw);
  }
}

/** ld_setup's mutual defaulting of the two timeouts (behaviour reference 2.6). */
function effectiveTimeouts(v: VirtualDraft, g: GlobalDraft): { checktimeout: number; negotiatetimeout: number } {
  const first = (...xs: number[]): number => xs.find((x) => x >= 0) as number;
  return {
    checktimeout: first(v.checktimeout, v.negotiatetimeout, g.checktimeout, g.negotiatetimeout, 5),
    negotiatetimeout: first(v.negotiatetimeout, v.checktimeout, g.negotiatetimeout, g.checktimeout, 30),
  };
}

/** fallback_find: the virtual's own fallback, else the global one of its family and protocol. */
function effectiveFallback(rv: ResolvedVirtual, g: GlobalDraft): FallbackServer | undefined {
  if (rv.fallback) return rv.fallback;
  const v = rv.draft;
  const globalFb = v.family === 6 ? g.fallback6 : g.fallback;
  if (!globalFb) return undefined;
  if (v.protocol === 'fwm') {
    // Original's behaviour (a bug kept on purpose): there is no global fallback for "fwm", so an
    // empty server is used (ipvsadm -r :0).
    const any = globalFb.tcp as FallbackServer;
    return { ip: '', family: v.family, port: 0, forward: 'gate', pos: any.pos };
  }
  const fb = (v.protocol === 'udp' ? globalFb.udp : globalFb.tcp) as FallbackServer;
  if (fb.portGiven) return fb;
  return { ...fb, port: rv.port };
}

function vaddrOf(rv: ResolvedVirtual): string {
  const v = rv.draft;
  if (v.protocol === 'fwm') return String(Number(v.fwm));
  return v.family === 6 ? `[${rv.ip}]:${rv.port}` : `${rv.ip}:${rv.port}`;
}

function buildVirtual(p: Parser, rv: ResolvedVirtual, g: GlobalDraft): VirtualService {
  const v = rv.draft;
  const t = effectiveTimeouts(v, g);
  let checkinterval = g.checkinterval;
  if (v.checkinterval) {
    if (g.fork) checkinterval = v.checkinterval.value;
    else p.warn(v.checkinterval.line, `checkinterval in virtual service ${rv.vid} is ignored when fork=no`);
  }
  if (v.lines.ops !== undefined && v.ops && v.protocol !== 'udp') {
    p.warn(v.lines.ops, `ops=yes is ignored for a ${v.protocol} virtual service (one-packet scheduling is UDP only)`);
  }
  if (v.lines.netmask !== undefined && v.persistent === undefined) {
    p.warn(v.lines.netmask, 'netmask is ignored without persistent');
  }
  if (v.protocol !== 'fwm') {
    for (const r of rv.reals) {
      if (r.forward !== 'masq' && r.port !== 0 && r.port !== rv.port) {
        p.warn(
          r.pos.line,
          `real server ${r.ip}:${r.port} uses ${r.forward} but a port other than the virtual's (${rv.port}): ipvsadm uses the virtual's port, so the kernel entry will not match`,
        );
        break;
      }
    }
  }
  const fallback = effectiveFallback(rv, g);
  const opt = <K extends string, T>(k: K, val: T | undefined): { [P in K]?: T } =>
    (val === undefined ? {} : { [k]: val }) as { [P in K]?: T };
  return deepFreeze({
    keyword: v.keyword,
    family: v.family,
    protocol: v.protocol,
    ip: rv.ip,
    port: v.protocol === 'fwm' ? 0 : rv.port,
    ...opt('fwmark', v.fwm === undefined ? undefined : Number(v.fwm)),
    vaddr: vaddrOf(rv),
    vid: rv.vid,
    reals: rv.reals,
    checktype: v.checktype,
    ...opt('combinedCount', v.combinedCount),
    service: rv.service,
    serviceExplicit: v.service !== undefined,
    checkcommand: v.checkcommand,
    ...opt('checkport', v.checkport),
    checktimeout: t.checktimeout,
    negotiatetimeout: t.negotiatetimeout,
    checkinterval,
    checkcount: v.checkcount >= 0 ? v.checkcount : g.checkcount,
    failurecount: v.failurecount >= 0 ? v.failurecount : g.failurecount,
    request: v.request,
    receive: v.receive,
    httpmethod: v.httpmethod,
    ...opt('virtualhost', v.virtualhost),
    login: v.login,
    passwd: v.passwd,
    database: v.database,
    secret: v.secret,
    ...opt('load', v.load),
    scheduler: v.scheduler,
    ...opt('persistent', v.persistent),
    ...opt('netmask', v.netmask),
    ...opt('schedflags', v.schedflags),
    ops: v.ops,
    ...opt('fallback', fallback),
    ...opt('fallbackcommand', v.fallbackcommand ?? g.fallbackcommand),
    quiescent: v.quiescent ?? g.quiescent,
    cleanstop: v.cleanstop ?? g.cleanstop,
    fallbackcommandonstop: v.fallbackcommandonstop ?? g.fallbackcommandonstop,
    emailalert: v.emailalert ?? g.emailalert,
    emailalertfreq: v.emailalertfreq ?? g.emailalertfreq,
    emailalertstatus: v.emailalertstatus ?? g.emailalertstatus,
    ...opt('smtp', v.smtp ?? g.smtp),
    ...opt('monitorfile', v.monitorfile),
    ...opt('servicename', v.servicename),
    ...opt('comment', v.comment),
    pos: { file: p.file, line: v.line },
  } satisfies VirtualService);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const k of Object.keys(o)) deepFreeze((o as Record<string, unknown>)[k]);
  }
  return o;
}

/** Splits text into lines as Perl's <FH> does: on "\n" only, the "\n" removed, CR kept. */
function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * parseConfigText parses the text of an ldirectord.cf. `file` is the name used in errors and
 * warnings. Throws ConfigError at the first line the original rejects.
 */
export async function parseConfigText(text: string, file: string, opts: ParseOptions = {}): Promise<Config> {
  const p = new Parser(file, opts);
  const g = defaultGlobals();
  const lines = splitLines(text);
  const resolved: ResolvedVirtual[] = [];
  const seen = new Set<string>();
  let next = 0; // index of the next line to read
  let pending: { text: string; line: number } | undefined;
  for (;;) {
    let raw: string;
    let line: number;
    if (pending) {
      ({ text: raw, line } = pending);
      pending = undefined;
    } else {
      if (next >= lines.length) break;
      raw = lines[next++];
      line = next;
    }
    const vm = R.virtual.exec(raw);
    if (vm) {
      const draft = parseVirtualHeader(p, vm[1] !== undefined ? 'virtual6' : 'virtual', vm[2], line);
      // The block: each following line, comments skipped, tabs as 4 spaces, needs >= 4 leading spaces.
      let cur = line;
      let leftover: string | undefined = raw;
      while (next < lines.length) {
        const bl = lines[next++];
        cur = next;
        leftover = bl;
        if (R.comment.test(bl)) continue;
        const stripped = bl.replace(/#.*/s, '').replace(/\t/g, '    ');
        const bm = R.blockLine.exec(stripped);
        if (!bm) break;
        await parseVirtualDirective(p, draft, bm[1], bl, cur);
        leftover = undefined;
      }
      resolved.push(await resolveVirtual(p, draft, cur, seen));
      if (leftover === undefined) break;
      // Original's behaviour: the line that ended the block is parsed again at top level. When the
      // virtual line is the last line of the file, that line is the virtual itself, which is then
      // read a second time and rejected as a duplicate.
      pending = { text: leftover, line: cur };
      continue;
    }
    if (R.blank.test(raw) || R.comment.test(raw)) continue;
    await parseGlobalDirective(p, g, raw, line);
  }
  const virtuals = resolved.map((rv) => buildVirtual(p, rv, g));
  const global: GlobalConfig = {
    ...(g.checktimeout >= 0 ? { checktimeout: g.checktimeout } : {}),
    ...(g.negotiatetimeout >= 0 ? { negotiatetimeout: g.negotiatetimeout } : {}),
    checkinterval: g.checkinterval,
    checkcount: g.checkcount,
    failurecount: g.failurecount,
    autoreload: g.autoreload,
    ...(g.callback !== undefined ? { callback: g.callback } : {}),
    ...(g.fallback ? { fallback: g.fallback } : {}),
    ...(g.fallback6 ? { fallback6: g.fallback6 } : {}),
    ...(g.fallbackcommand !== undefined ? { fallbackcommand: g.fallbackcommand } : {}),
    logfile: g.logfile,
    emailalert: g.emailalert,
    emailalertfreq: g.emailalertfreq,
    emailalertstatus: g.emailalertstatus,
    ...(g.emailalertfrom !== undefined ? { emailalertfrom: g.emailalertfrom } : {}),
    ...(g.smtp !== undefined ? { smtp: g.smtp } : {}),
    execute: g.execute,
    supervised: g.supervised,
    fork: g.fork,
    quiescent: g.quiescent,
    readdquiescent: g.readdquiescent,
    cleanstop: g.cleanstop,
    fallbackcommandonstop: g.fallbackcommandonstop,
    ...(g.maintenancedir !== undefined ? { maintenancedir: g.maintenancedir } : {}),
  };
  p.warnings.sort((a, b) => a.line - b.line);
  return deepFreeze({ file, global, virtuals, warnings: p.warnings });
}

/** parseConfigFile reads and parses an ldirectord.cf; an unreadable file is a ConfigError at line 0. */
export async function parseConfigFile(path: string, opts: ParseOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, 0, `can not open file: ${(e as NodeJS.ErrnoException).message}`);
  }
  const config = await parseConfigText(text, path, opts);
  // Anyone who can write the config controls the director (checkcommand, fallbackcommand, callback).
  const st = await stat(path).catch(() => undefined);
  if (!st || !(st.mode & 0o002)) return config;
  const w: ConfigWarning = { file: path, line: 0, message: `configuration file ${path} is world-writable: anyone can change what the director runs` };
  return deepFreeze({ ...config, warnings: [w, ...config.warnings] });
}
