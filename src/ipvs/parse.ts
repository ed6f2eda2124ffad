/**
 * Parsing of ipvsadm's listings into IpvsTable: `-L -n`, `-L -n --thresholds` and `-S -n`.
 * Unknown lines are an error (garbage output must not be read as an empty table).
 */
import { LdirError } from '../util/errors.js';
import type { Forward } from '../model/config.js';
import type { IpvsDest, IpvsProto, IpvsService, IpvsTable } from './types.js';

/** IpvsParseError is output of ipvsadm that is not what ipvsadm prints. */
export class IpvsParseError extends LdirError {
  readonly lineNo: number;
  readonly text: string;
  constructor(lineNo: number, text: string, what: string) {
    super('LDIR_ERR_IPVSADM', `unexpected ipvsadm ${what} output at line ${lineNo}: ${JSON.stringify(text)}`);
    this.name = 'IpvsParseError';
    this.lineNo = lineNo;
    this.text = text;
  }
}

const FORWARD_BY_NAME: Record<string, Forward> = { Route: 'gate', Masq: 'masq', Tunnel: 'ipip', Local: 'gate' };
const FORWARD_BY_FLAG: Record<string, Forward> = { '-g': 'gate', '-m': 'masq', '-i': 'ipip' };

interface MutableEntry {
  service: IpvsService;
  dests: IpvsDest[];
}

const SVC_RE =
  /^(?:(TCP|UDP|SCTP) +(\S+)|FWM +(\d+)( IPv6)?) (\S+)(?: \(([^)]*)\))?(?: persistent (\d+)(?: mask (\S+))?(?: pe (\S+))?)?( ops)? *$/;
const DEST_RE = /^ {2}-> (\S+) +(Route|Masq|Tunnel|Local) +(\d+) +(\d+) +(\d+) *$/;
const THR_DEST_RE = /^ {2}-> (\S+) +(\d+) +(\d+) +(\d+) +(\d+) *$/;

function parseServiceLine(m: RegExpExecArray): IpvsService {
  const proto: IpvsProto = m[3] !== undefined ? 'fwm' : (m[1].toLowerCase() as IpvsProto);
  return {
    proto,
    vaddr: m[3] ?? m[2],
    ...(m[4] ? { ipv6Fwm: true } : {}),
    scheduler: m[5],
    ...(m[7] !== undefined ? { persistent: Number(m[7]) } : {}),
    ...(m[8] !== undefined ? { netmask: m[8] } : {}),
    ...(m[6] ? { schedflags: m[6] } : {}),
    ...(m[10] ? { ops: true } : {}),
  };
}

function isHeader(line: string): boolean {
  return (
    line.startsWith('IP Virtual Server version ') ||
    line.startsWith('Prot LocalAddress:Port') ||
    line.startsWith('  -> RemoteAddress:Port')
  );
}

function lines(text: string): string[] {
  const l = text.split('\n');
  if (l.length && l[l.length - 1] === '') l.pop();
  return l;
}

/** parseList reads `ipvsadm -L -n` output (thresholds 0: this listing does not show them). */
export function parseList(text: string): IpvsTable {
  const services: MutableEntry[] = [];
  lines(text).forEach((line, i) => {
    if (isHeader(line)) return;
    const s = SVC_RE.exec(line);
    if (s) {
      services.push({ service: parseServiceLine(s), dests: [] });
      return;
    }
    const d = DEST_RE.exec(line);
    const cur = services[services.length - 1];
    if (d && cur) {
      cur.dests.push({
        rs: d[1],
        forward: FORWARD_BY_NAME[d[2]],
        weight: Number(d[3]),
        upperThreshold: 0,
        lowerThreshold: 0,
        ...(d[4] !== '0' ? { activeConns: Number(d[4]) } : {}),
        ...(d[5] !== '0' ? { inactConns: Number(d[5]) } : {}),
      });
      return;
    }
    throw new IpvsParseError(i + 1, line, '-L -n');
  });
  return { services };
}

/** Thresholds per destination, keyed by `serviceLine\trs`, from `ipvsadm -L -n --thresholds`. */
export function parseThresholds(text: string): Map<string, { upper: number; lower: number }> {
  const out = new Map<string, { upper: number; lower: number }>();
  let svc: string | null = null;
  lines(text).forEach((line, i) => {
    if (isHeader(line)) return;
    const s = SVC_RE.exec(line);
    if (s) {
      const p = parseServiceLine(s);
      svc = `${p.proto}|${p.vaddr}|${p.ipv6Fwm ? 6 : 4}`;
      return;
    }
    const d = THR_DEST_RE.exec(line);
    if (d && svc !== null) {
      out.set(`${svc}\t${d[1]}`, { upper: Number(d[2]), lower: Number(d[3]) });
      return;
    }
    throw new IpvsParseError(i + 1, line, '-L -n --thresholds');
  });
  return out;
}

/** parseListing merges `-L -n` and `-L -n --thresholds` into one table. */
export function parseListing(list: string, thresholds?: string): IpvsTable {
  const table = parseList(list);
  if (thresholds === undefined) return table;
  const thr = parseThresholds(thresholds);
  return {
    services: table.services.map((e) => {
      const key = `${e.service.proto}|${e.service.vaddr}|${e.service.ipv6Fwm ? 6 : 4}`;
      return {
        service: e.service,
        dests: e.dests.map((d) => {
          const t = thr.get(`${key}\t${d.rs}`);
          return t ? { ...d, upperThreshold: t.upper, lowerThreshold: t.lower } : d;
        }),
      };
    }),
  };
}

/** parseSave reads `ipvsadm -S -n` output (which carries no thresholds: they come back as 0). */
export function parseSave(text: string): IpvsTable {
  const services: MutableEntry[] = [];
  const find = (proto: IpvsProto, vaddr: string, v6: boolean) =>
    services.find((e) => e.service.proto === proto && e.service.vaddr === vaddr && Boolean(e.service.ipv6Fwm) === v6);
  lines(text).forEach((line, i) => {
    const w = line.split(' ').filter((x) => x !== '');
    const bad = () => new IpvsParseError(i + 1, line, '-S -n');
    if (w.length < 3 || (w[0] !== '-A' && w[0] !== '-a')) throw bad();
    const proto: IpvsProto | undefined = ({ '-t': 'tcp', '-u': 'udp', '-f': 'fwm' } as const)[w[1] as '-t'];
    if (!proto) throw bad();
    const vaddr = w[2];
    let k = 3;
    let v6 = false;
    if (w[k] === '-6') {
      v6 = true;
      k++;
    }
    if (w[0] === '-A') {
      const svc: { -readonly [K in keyof IpvsService]: IpvsService[K] } = { proto, vaddr, scheduler: '' };
      if (v6) svc.ipv6Fwm = true;
      for (; k < w.length; k++) {
        const o = w[k];
        if (o === '-s') svc.scheduler = w[++k];
        else if (o === '-p') svc.persistent = Number(w[++k]);
        else if (o === '-M') svc.netmask = w[++k];
        else if (o === '-b') svc.schedflags = w[++k];
        else if (o === '-o') svc.ops = true;
        else if (o === '--pe') k++;
        else throw bad();
      }
      if (!svc.scheduler || (svc.persistent !== undefined && !Number.isFinite(svc.persistent))) throw bad();
      services.push({ service: svc, dests: [] });
    } else {
      const e = find(proto, vaddr, v6);
      if (!e || w[k] !== '-r' || !w[k + 1]) throw bad();
      const rs = w[k + 1];
      const fwd = FORWARD_BY_FLAG[w[k + 2]];
      if (!fwd || w[k + 3] !== '-w' || !/^\d+$/.test(w[k + 4] ?? '')) throw bad();
      e.dests.push({ rs, forward: fwd, weight: Number(w[k + 4]), upperThreshold: 0, lowerThreshold: 0 });
    }
  });
  return { services };
}
