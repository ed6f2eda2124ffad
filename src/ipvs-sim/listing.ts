/**
 * The simulated kernel's table as ipvsadm prints it: `-L` (with its format options) and `-S`, in
 * ipvsadm's order and padding, and as the contracts' IpvsTable (what the real driver parses from them).
 */
import type { Forward } from '../model/config.js';
import { inetAton, ipv4ToString, parseIpv6 } from '../ipvs/addr.js';
import { formatSyncDaemon } from '../ipvs/sync.js';
import type { IpvsDest, IpvsProto, IpvsService, IpvsTable } from '../ipvs/types.js';
import { addrName, portName } from './names.js';
import { SCHED1, SCHED2, SCHED3, type SimDest, type SimService, type SimState } from './state.js';

const LIST_HEADER = 'IP Virtual Server version 1.2.1 (size=4096)\n';

function addrWords(af: 4 | 6, addr: string): number[] {
  if (af === 6) return parseIpv6(addr) ?? [0, 0, 0, 0, 0, 0, 0, 0];
  return [inetAton(addr) ?? 0];
}


/** The difference of two uint32 as C's `int r = a - b` gives it (wraps). */
function cDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function cmpServices(a: SimService, b: SimService): number {
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

export function title(f: ListFormat): string {
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

export function formatService(s: SimService, f: ListFormat): string {
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

/** `ipvsadm -L --daemon`: one line per running sync daemon, master first (empty when none runs). */
export function formatDaemons(state: SimState): string {
  return (state.daemons ?? []).map((d) => formatSyncDaemon(d) + '\n').join('');
}
