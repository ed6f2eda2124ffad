/**
 * Resolution of what a virtual block wrote: the virtual= header, fallback servers, real servers
 * (ranges included) and the virtual's address, port and service, as the original's
 * _ld_read_config_*_resolve do once the whole block is read (the protocol is known only then).
 */
import { isIPv6 } from 'node:net';

import {
  type AddressFamily,
  type FallbackServer,
  type Forward,
  type RealServer,
  SERVICE_PORTS,
  type ServiceName,
} from '../model/config.js';
import { perlRe, perlTrue } from './perl.js';
import type { FallbackDraft, Parser, ResolvedVirtual, VirtualDraft } from './session.js';

/** ld_port_to_service, SERVICE_PORTS read backwards: keyed by the port as written, so "080" maps to none (original's behaviour). */
const PORT_TO_SERVICE = new Map(Object.entries(SERVICE_PORTS).map(([service, port]) => [String(port), service as ServiceName]));

// Patterns of the original (Perl syntax; see perlRe). Kept close to the original so that the
// same text is accepted, including its unanchored searches.
const R = {
  vIPv4: perlRe('^(\\d+\\.\\d+\\.\\d+\\.\\d+):([0-9A-Za-z_-]+)'),
  vHost: perlRe('^([0-9A-Za-z._+-]+):([0-9A-Za-z_-]+)'),
  vFwm: perlRe('^(\\d+)'),
  vIPv6: perlRe('^\\[([0-9A-Fa-f:]+)\\]:([0-9A-Za-z_-]+)'),
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
};

/** parse_fallback: `host[:port] [gate|masq|ipip]`; a virtual's fallback defaults to its port. */
export function parseFallback(
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
export async function resolveFallback(
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

export async function resolveVirtual(p: Parser, v: VirtualDraft, endLine: number, seen: Set<string>): Promise<ResolvedVirtual> {
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
    service = v.set.service ?? PORT_TO_SERVICE.get(portStr) ?? 'none';
  } else {
    service = v.set.service ?? 'none';
  }
  const reals: RealServer[] = [];
  for (const t of v.realsTodo) await resolveReal(p, v, reals, t.text, t.line);
  const vid =
    v.protocol === 'fwm' ? `fwm${v.family === 6 ? '6' : ''}:${v.fwm}` : `${v.protocol}:${server}:${portStr}`;
  if (seen.has(vid)) p.error(endLine, `duplicate virtual service ${vid}`);
  seen.add(vid);
  return { draft: v, ip, server, portStr, port: Number(portStr), service, fallback, reals, vid };
}

/** A fresh block: nothing set yet (the defaults are the registry's, applied when the model is built). */
function newVirtual(keyword: 'virtual' | 'virtual6', line: number): VirtualDraft {
  return { keyword, family: keyword === 'virtual6' ? 6 : 4, line, protocol: 'tcp', set: {}, lines: {}, realsTodo: [] };
}

/** Parses the `virtual=` value (header of a block). */
export function parseVirtualHeader(p: Parser, keyword: 'virtual' | 'virtual6', value: string, line: number): VirtualDraft {
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
    v.typedPort = '0';
  }
  return v;
}


/** Whether a dotted quad is a netmask (ones, then zeros). */
export function isContiguousNetmask(q: string): boolean {
  const o = q.split('.').map(Number);
  if (o.some((x) => x > 255)) return false;
  const n = ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
  const inv = ~n >>> 0;
  return (inv & (inv + 1)) === 0;
}
