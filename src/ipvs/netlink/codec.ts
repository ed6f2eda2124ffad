/**
 * The IPVS generic-netlink message codec: pure functions from IpvsCommands to the bytes the kernel reads
 * and from the kernel's answers back to IpvsTable entries. No I/O here (src/ipvs/netlink/socket.ts sends
 * and receives), so every byte can be unit-tested and compared with what ipvsadm sends (golden file).
 *
 * Layout (include/uapi/linux/netlink.h, genetlink.h, ip_vs.h): a message is a 16-byte nlmsghdr (len,
 * type, flags, seq, pid; host order), a 4-byte genlmsghdr (cmd, version, reserved) and attributes, each
 * a 4-byte header (len, type) and a payload padded to 4 bytes. Everything is host order (little endian
 * here) except the ports, which are big-endian, and IPv4 netmasks, which are the address bytes.
 */
import { isIPv6 } from 'node:net';
import type { Forward } from '../../model/config.js';
import { canonicalAddrPort, canonicalVaddr } from '../plan.js';
import { formatAddrPort, splitAddrPort } from '../normalize.js';
import { LdirError } from '../../util/errors.js';
import type { IpvsCommand, IpvsDest, IpvsProto, IpvsService, SyncDaemon } from '../types.js';

/**
 * CodecError: a change the codec cannot encode (a bad address, an unknown flag: refused before it is
 * sent, as ipvsadm refuses a bad line), or a kernel answer it cannot read (malformed, truncated).
 */
export class CodecError extends LdirError {
  constructor(message: string) {
    super('LDIR_ERR_NETLINK', message);
    this.name = 'CodecError';
  }
}

export const NETLINK_GENERIC = 16;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const GENL_ID_CTRL = 16;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

/** IPVS generic netlink commands (enum ipvs_gen_cmds). */
export const IPVS_CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  GET_INFO: 15,
} as const;

export const IPVS_CMD_ATTR_SERVICE = 1;
export const IPVS_CMD_ATTR_DEST = 2;
export const IPVS_CMD_ATTR_DAEMON = 3;

export const SVC_ATTR = { AF: 1, PROTOCOL: 2, ADDR: 3, PORT: 4, FWMARK: 5, SCHED_NAME: 6, FLAGS: 7, TIMEOUT: 8, NETMASK: 9, STATS: 10, PE_NAME: 11, STATS64: 12 } as const;
export const DEST_ATTR = {
  ADDR: 1,
  PORT: 2,
  FWD_METHOD: 3,
  WEIGHT: 4,
  U_THRESH: 5,
  L_THRESH: 6,
  ACTIVE_CONNS: 7,
  INACT_CONNS: 8,
  PERSIST_CONNS: 9,
  STATS: 10,
  ADDR_FAMILY: 11,
  STATS64: 12,
  TUN_TYPE: 13,
  TUN_PORT: 14,
  TUN_FLAGS: 15,
} as const;
export const INFO_ATTR = { VERSION: 1, CONN_TAB_SIZE: 2 } as const;
/**
 * Sync daemon attributes (nest IPVS_CMD_ATTR_DAEMON): STATE u32, MCAST_IFN string, SYNC_ID u32; the
 * optional ones (kernel 4.3+) SYNC_MAXLEN u16, MCAST_GROUP 4 address bytes, MCAST_GROUP6 16 bytes,
 * MCAST_PORT u16 and MCAST_TTL u8, all host order (the port too, unlike a service's).
 */
export const DAEMON_ATTR = { STATE: 1, MCAST_IFN: 2, SYNC_ID: 3, SYNC_MAXLEN: 4, MCAST_GROUP: 5, MCAST_GROUP6: 6, MCAST_PORT: 7, MCAST_TTL: 8 } as const;
/** Sync daemon states (IP_VS_STATE_*). */
export const IP_VS_STATE = { NONE: 0, MASTER: 1, BACKUP: 2 } as const;
/** IP_VS_IFNAME_MAXLEN: an interface name and its NUL. */
export const IFNAME_MAXLEN = 16;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** Connection (forwarding) flags of a destination. */
export const FWD = { MASQ: 0, LOCALNODE: 1, TUNNEL: 2, DROUTE: 3 } as const;
/** Service flags. */
export const SVC_F = { PERSISTENT: 0x1, HASHED: 0x2, ONEPACKET: 0x4, SCHED1: 0x8, SCHED2: 0x10, SCHED3: 0x20 } as const;

const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

const align4 = (n: number) => (n + 3) & ~3;

/**
 * A zero-filled buffer from Node's shared pool: Buffer.alloc gives each small buffer its own
 * ArrayBuffer, which made encoding 1000 commands mostly garbage collection.
 */
export const zeros = (n: number): Buffer => Buffer.allocUnsafe(n).fill(0);

/** One netlink attribute: type and payload (for a nest, the encoded children). */
export interface Attr {
  readonly type: number;
  readonly data: Buffer;
}

export function attr(type: number, data: Buffer): Attr {
  return { type, data };
}
export const u8 = (type: number, v: number) => attr(type, Buffer.from([v & 0xff]));
export function u16(type: number, v: number): Attr {
  const b = zeros(2);
  b.writeUInt16LE(v);
  return attr(type, b);
}
export function be16(type: number, v: number): Attr {
  const b = zeros(2);
  b.writeUInt16BE(v);
  return attr(type, b);
}
export function u32(type: number, v: number): Attr {
  const b = zeros(4);
  b.writeUInt32LE(v >>> 0);
  return attr(type, b);
}
/** A NUL-terminated string attribute. */
export const str = (type: number, s: string) => attr(type, Buffer.concat([Buffer.from(s, 'utf8'), zeros(1)]));
/** A nested attribute, with NLA_F_NESTED set in its type as ipvsadm (libnl) sends it. */
export const nest = (type: number, children: readonly Attr[]) => attr(type | NLA_F_NESTED, encodeAttrs(children));

/** The encoded size of attributes (each header + payload padded to 4 bytes). */
function attrsSize(attrs: readonly Attr[]): number {
  let n = 0;
  for (const a of attrs) n += 4 + align4(a.data.length);
  return n;
}

/** Writes attributes into `out` at `off`; returns the offset after them. */
function writeAttrs(out: Buffer, off: number, attrs: readonly Attr[]): number {
  for (const a of attrs) {
    const len = a.data.length;
    out.writeUInt16LE(4 + len, off);
    out.writeUInt16LE(a.type, off + 2);
    a.data.copy(out, off + 4);
    const end = off + 4 + len;
    off += 4 + align4(len);
    if (off > end) out.fill(0, end, off);
  }
  return off;
}

/**
 * encodeAttrs writes attributes, each padded to 4 bytes, into one buffer (one allocation per run of
 * attributes, not one per header and padding: a batch of 1000 reals was mostly allocation).
 */
export function encodeAttrs(attrs: readonly Attr[]): Buffer {
  const out = Buffer.allocUnsafe(attrsSize(attrs));
  writeAttrs(out, 0, attrs);
  return out;
}

/** decodeAttrs reads a run of attributes; a malformed one ends the run with an error. */
export function decodeAttrs(buf: Buffer): Attr[] {
  const out: Attr[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (len < 4 || off + len > buf.length) throw new CodecError(`malformed netlink attribute at byte ${off} (length ${len})`);
    out.push({ type, data: buf.subarray(off + 4, off + len) });
    off += align4(len);
  }
  return out;
}

/** The attributes by type (the last one of a type wins). */
export function attrMap(buf: Buffer): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (const a of decodeAttrs(buf)) m.set(a.type, a.data);
  return m;
}

export interface NlMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  /** Everything after the 16-byte header. */
  readonly payload: Buffer;
}

/** encodeMessage writes one netlink message (header + payload). */
export function encodeMessage(m: { type: number; flags: number; seq: number; pid?: number; payload: Buffer }): Buffer {
  const h = zeros(16);
  h.writeUInt32LE(16 + m.payload.length, 0);
  h.writeUInt16LE(m.type, 4);
  h.writeUInt16LE(m.flags, 6);
  h.writeUInt32LE(m.seq >>> 0, 8);
  h.writeUInt32LE((m.pid ?? 0) >>> 0, 12);
  const pad = align4(m.payload.length) - m.payload.length;
  return Buffer.concat(pad ? [h, m.payload, zeros(pad)] : [h, m.payload]);
}

/** decodeMessages splits one datagram into its messages. */
export function decodeMessages(buf: Buffer): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) throw new CodecError(`malformed netlink message at byte ${off} (length ${len})`);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + 16, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** The generic netlink payload: genlmsghdr + attributes. */
export function genlPayload(cmd: number, version: number, attrs: readonly Attr[]): Buffer {
  const out = Buffer.allocUnsafe(4 + attrsSize(attrs));
  out[0] = cmd;
  out[1] = version;
  out[2] = 0;
  out[3] = 0;
  writeAttrs(out, 4, attrs);
  return out;
}

/** Splits a generic netlink payload into its command and attributes. */
export function decodeGenl(payload: Buffer): { cmd: number; version: number; attrs: Buffer } {
  if (payload.length < 4) throw new CodecError('generic netlink message shorter than its header');
  return { cmd: payload[0], version: payload[1], attrs: payload.subarray(4) };
}

/** The errno of an NLMSG_ERROR message (0 = ACK), as a positive number. */
export function errorCode(m: NlMessage): number {
  if (m.payload.length < 4) throw new CodecError('truncated netlink error message');
  return -m.payload.readInt32LE(0);
}

/** The CTRL_CMD_GETFAMILY request payload for a family name. */
export function getFamilyPayload(name: string): Buffer {
  return genlPayload(CTRL_CMD_GETFAMILY, 1, [str(CTRL_ATTR_FAMILY_NAME, name)]);
}

/** The family id in a CTRL_CMD_NEWFAMILY answer. */
export function decodeFamilyId(payload: Buffer): number | undefined {
  const a = attrMap(decodeGenl(payload).attrs).get(CTRL_ATTR_FAMILY_ID);
  return a && a.length >= 2 ? a.readUInt16LE(0) : undefined;
}

// ---- addresses ----

function parseIpv4(s: string): Buffer | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return undefined;
  return Buffer.from(b);
}

function parseIpv6(s: string): Buffer | undefined {
  if (!isIPv6(s)) return undefined;
  // The URL parser writes any valid IPv6 text in one hex form (embedded IPv4 included).
  const host = new URL(`http://[${s}]/`).hostname.slice(1, -1);
  const halves = host.split('::');
  const groups = (h: string | undefined) => (h ? h.split(':').map((g) => parseInt(g, 16)) : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const all = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  if (all.length !== 8) return undefined;
  const b = zeros(16);
  all.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
}

/** Encoded addresses by text: a batch names the same few addresses many times, cycle after cycle. */
const addrCache = new Map<string, { af: number; bytes: Buffer } | undefined>();

/**
 * An address as the kernel's 16-byte nf_inet_addr, with its family; undefined when it is not one.
 * The bytes are shared (cached): callers copy them, never write them.
 */
export function encodeAddr(ip: string): { af: number; bytes: Buffer } | undefined {
  if (addrCache.has(ip)) return addrCache.get(ip);
  const a = parseAddr(ip);
  if (addrCache.size >= 8192) addrCache.clear();
  addrCache.set(ip, a);
  return a;
}

function parseAddr(ip: string): { af: number; bytes: Buffer } | undefined {
  const v4 = parseIpv4(ip);
  if (v4) return { af: AF_INET, bytes: Buffer.concat([v4, zeros(12)]) };
  const v6 = parseIpv6(ip);
  if (v6) return { af: AF_INET6, bytes: v6 };
  return undefined;
}

/** An nf_inet_addr as ipvsadm -n prints it (IPv6 compressed as inet_ntop does). */
export function decodeAddr(af: number, b: Buffer): string {
  if (af === AF_INET) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(i * 2).toString(16));
  // canonicalAddrPort (the planner's own form) compresses it as ipvsadm lists it
  return splitAddrPort(canonicalAddrPort(`[${groups.join(':')}]:0`)).ip;
}

// ---- services and destinations ----

const FWD_CODE: Record<Forward, number> = { masq: FWD.MASQ, ipip: FWD.TUNNEL, gate: FWD.DROUTE };

/** How a service is named to the kernel (what ipvsadm's -t/-u/-f option gives). */
export interface ServiceRef {
  readonly proto: IpvsProto;
  readonly vaddr: string;
  readonly ipv6Fwm?: boolean;
}

/** The service's identity attributes: AF and either FWMARK or PROTOCOL + ADDR + PORT. */
function serviceIdAttrs(s: ServiceRef): { af: number; attrs: Attr[] } {
  if (s.proto === 'fwm') {
    const mark = Number(s.vaddr);
    if (!Number.isInteger(mark) || mark < 0 || mark > 0xffffffff) throw new CodecError(`bad firewall mark ${s.vaddr}`);
    const af = s.ipv6Fwm ? AF_INET6 : AF_INET;
    return { af, attrs: [u16(SVC_ATTR.AF, af), u32(SVC_ATTR.FWMARK, mark)] };
  }
  const { ip, port } = splitAddrPort(s.vaddr);
  const a = encodeAddr(ip);
  if (!a) throw new CodecError(`bad virtual service address ${s.vaddr}`);
  return {
    af: a.af,
    attrs: [
      u16(SVC_ATTR.AF, a.af),
      u16(SVC_ATTR.PROTOCOL, s.proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP),
      attr(SVC_ATTR.ADDR, a.bytes),
      be16(SVC_ATTR.PORT, port),
    ],
  };
}

/** Scheduler flag names as ipvsadm's -b takes and lists them, by scheduler. */
function flagNames(scheduler: string): [string, string, string] {
  if (scheduler === 'sh') return ['sh-fallback', 'sh-port', 'flag-3'];
  if (scheduler === 'mh') return ['mh-fallback', 'mh-port', 'flag-3'];
  return ['flag-1', 'flag-2', 'flag-3'];
}

const FLAG_BITS: Record<string, number> = {
  'sh-fallback': SVC_F.SCHED1,
  'sh-port': SVC_F.SCHED2,
  'mh-fallback': SVC_F.SCHED1,
  'mh-port': SVC_F.SCHED2,
  'flag-1': SVC_F.SCHED1,
  'flag-2': SVC_F.SCHED2,
  'flag-3': SVC_F.SCHED3,
};

/** The flags word of a service (persistence, one-packet scheduling, scheduler flags). */
export function serviceFlags(s: IpvsService): number {
  let f = 0;
  if (s.persistent !== undefined) f |= SVC_F.PERSISTENT;
  if (s.ops) f |= SVC_F.ONEPACKET;
  for (const name of (s.schedflags ?? '').split(',').filter((x) => x !== '')) {
    const bit = FLAG_BITS[name];
    if (bit === undefined) throw new CodecError(`unknown scheduler flag ${name}`);
    f |= bit;
  }
  return f;
}

/** The netmask word: IPv4 masks are the address bytes (network order), IPv6 ones the prefix length. */
function netmaskWord(s: IpvsService, af: number): number {
  const mask = s.persistent !== undefined ? s.netmask : undefined;
  if (af === AF_INET6) {
    if (mask === undefined || mask === '') return 128;
    const n = Number(mask);
    if (!Number.isInteger(n) || n < 1 || n > 128) throw new CodecError(`bad IPv6 netmask ${mask}`);
    return n;
  }
  if (mask === undefined || mask === '') return 0xffffffff;
  const b = parseIpv4(mask);
  if (!b) throw new CodecError(`bad netmask ${mask}`);
  return b.readUInt32LE(0);
}

/** The full service nest of NEW_SERVICE / SET_SERVICE. */
export function serviceAttrs(s: IpvsService): Attr[] {
  const id = serviceIdAttrs(s);
  const flags = zeros(8);
  flags.writeUInt32LE(serviceFlags(s), 0);
  flags.writeUInt32LE(0xffffffff, 4);
  return [
    ...id.attrs,
    str(SVC_ATTR.SCHED_NAME, s.scheduler),
    attr(SVC_ATTR.FLAGS, flags),
    u32(SVC_ATTR.TIMEOUT, s.persistent ?? 0),
    u32(SVC_ATTR.NETMASK, netmaskWord(s, id.af)),
  ];
}

/**
 * The destination nest, every field (the kernel wants the full entry on NEW/SET), in ipvsadm's order:
 * family, address, port, forwarding, weight, tunnel type/port/flags (ipip, none, none: what ipvsadm
 * sends without --tun-type, for every method), thresholds.
 */
export function destAttrs(d: IpvsDest): Attr[] {
  const { ip, port } = splitAddrPort(d.rs);
  const a = encodeAddr(ip);
  if (!a) throw new CodecError(`bad real server address ${d.rs}`);
  return [
    u16(DEST_ATTR.ADDR_FAMILY, a.af),
    attr(DEST_ATTR.ADDR, a.bytes),
    be16(DEST_ATTR.PORT, port),
    u32(DEST_ATTR.FWD_METHOD, FWD_CODE[d.forward]),
    u32(DEST_ATTR.WEIGHT, d.weight),
    u8(DEST_ATTR.TUN_TYPE, 0),
    be16(DEST_ATTR.TUN_PORT, 0),
    u16(DEST_ATTR.TUN_FLAGS, 0),
    u32(DEST_ATTR.U_THRESH, d.upperThreshold),
    u32(DEST_ATTR.L_THRESH, d.lowerThreshold),
  ];
}

/** The destination nest of DEL_DEST: the kernel reads only address and port; the rest is ipvsadm's defaults (-g -w 1). */
function destKeyAttrs(rs: string): Attr[] {
  return destAttrs({ rs, forward: 'gate', weight: 1, upperThreshold: 0, lowerThreshold: 0 });
}

/**
 * The service nest of a command that only names the service (DEL_SERVICE, the *_DEST commands): the
 * kernel reads the identity; the rest is what ipvsadm sends there (no scheduler, no flags, no
 * persistence, the default mask).
 */
export function serviceRefAttrs(s: ServiceRef): Attr[] {
  const id = serviceIdAttrs(s);
  const flags = zeros(8);
  flags.writeUInt32LE(0xffffffff, 4);
  return [...id.attrs, str(SVC_ATTR.SCHED_NAME, ''), attr(SVC_ATTR.FLAGS, flags), u32(SVC_ATTR.TIMEOUT, 0), u32(SVC_ATTR.NETMASK, id.af === AF_INET6 ? 128 : 0xffffffff)];
}

/** Encoded service-reference nests by service: a batch names the same service for each of its reals. */
const refNests = new Map<string, Attr>();

function serviceRefNest(s: ServiceRef): Attr {
  const key = `${s.proto}|${s.vaddr}|${s.ipv6Fwm ? 6 : 4}`;
  let a = refNests.get(key);
  if (!a) {
    a = nest(IPVS_CMD_ATTR_SERVICE, serviceRefAttrs(s));
    if (refNests.size >= 4096) refNests.clear();
    refNests.set(key, a);
  }
  return a;
}

/** One IpvsCommand as a generic netlink command and payload (without the netlink header). */
export function encodeCommand(c: IpvsCommand): { cmd: number; payload: Buffer } {
  const build = (cmd: number, attrs: Attr[]) => ({ cmd, payload: genlPayload(cmd, IPVS_GENL_VERSION, attrs) });
  switch (c.op) {
    case 'add-service':
      return build(IPVS_CMD.NEW_SERVICE, [nest(IPVS_CMD_ATTR_SERVICE, serviceAttrs(c.service))]);
    case 'edit-service':
      return build(IPVS_CMD.SET_SERVICE, [nest(IPVS_CMD_ATTR_SERVICE, serviceAttrs(c.service))]);
    case 'delete-service':
      return build(IPVS_CMD.DEL_SERVICE, [serviceRefNest(c)]);
    case 'add-dest':
      return build(IPVS_CMD.NEW_DEST, [serviceRefNest(c), nest(IPVS_CMD_ATTR_DEST, destAttrs(c.dest))]);
    case 'edit-dest':
      return build(IPVS_CMD.SET_DEST, [serviceRefNest(c), nest(IPVS_CMD_ATTR_DEST, destAttrs(c.dest))]);
    case 'delete-dest':
      return build(IPVS_CMD.DEL_DEST, [serviceRefNest(c), nest(IPVS_CMD_ATTR_DEST, destKeyAttrs(c.rs))]);
  }
}

/** The GET_SERVICE dump request payload. */
export function getServicesPayload(): Buffer {
  return genlPayload(IPVS_CMD.GET_SERVICE, IPVS_GENL_VERSION, []);
}

/** The GET_DEST dump request payload for one service (as it was listed). */
export function getDestsPayload(s: ServiceRef): Buffer {
  return genlPayload(IPVS_CMD.GET_DEST, IPVS_GENL_VERSION, [nest(IPVS_CMD_ATTR_SERVICE, serviceIdAttrs(s).attrs)]);
}

/** The GET_INFO request payload (the IPVS version: a cheap "is it there" question). */
export function getInfoPayload(): Buffer {
  return genlPayload(IPVS_CMD.GET_INFO, IPVS_GENL_VERSION, []);
}

/** The IPVS version from a GET_INFO answer, as `1.2.1`. */
export function decodeInfoVersion(payload: Buffer): string | undefined {
  const v = attrMap(decodeGenl(payload).attrs).get(INFO_ATTR.VERSION);
  if (!v || v.length < 4) return undefined;
  const n = v.readUInt32LE(0);
  return `${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${n & 0xff}`;
}

function need(m: Map<number, Buffer>, type: number, what: string, size: number): Buffer {
  const b = m.get(type);
  if (!b || b.length < size) throw new CodecError(`kernel answer without ${what}`);
  return b;
}

/** One service of a GET_SERVICE dump, as ipvsadm -L -n would list it (parse.ts's IpvsService). */
export function decodeService(payload: Buffer): IpvsService {
  const top = attrMap(decodeGenl(payload).attrs);
  const m = attrMap(need(top, IPVS_CMD_ATTR_SERVICE, 'a service', 4));
  const af = need(m, SVC_ATTR.AF, 'the address family', 2).readUInt16LE(0);
  const sched = need(m, SVC_ATTR.SCHED_NAME, 'the scheduler', 1).toString('utf8').replace(/\0.*$/s, '');
  const fl = need(m, SVC_ATTR.FLAGS, 'the flags', 8).readUInt32LE(0);
  const timeout = m.get(SVC_ATTR.TIMEOUT)?.readUInt32LE(0) ?? 0;
  const netmask = m.get(SVC_ATTR.NETMASK)?.readUInt32LE(0);
  let proto: IpvsProto;
  let vaddr: string;
  const mark = m.get(SVC_ATTR.FWMARK);
  if (mark && mark.length >= 4 && !m.has(SVC_ATTR.PROTOCOL)) {
    proto = 'fwm';
    vaddr = String(mark.readUInt32LE(0));
  } else {
    const p = need(m, SVC_ATTR.PROTOCOL, 'the protocol', 2).readUInt16LE(0);
    if (p === IPPROTO_TCP) proto = 'tcp';
    else if (p === IPPROTO_UDP) proto = 'udp';
    else throw new CodecError(`service with protocol ${p}, which ldirectord does not manage`);
    const ip = decodeAddr(af, need(m, SVC_ATTR.ADDR, 'the address', af === AF_INET ? 4 : 16));
    vaddr = canonicalVaddr(proto, formatAddrPort(ip, need(m, SVC_ATTR.PORT, 'the port', 2).readUInt16BE(0)));
  }
  const out: { -readonly [K in keyof IpvsService]: IpvsService[K] } = { proto, vaddr, scheduler: sched };
  if (proto === 'fwm' && af === AF_INET6) out.ipv6Fwm = true;
  if (fl & SVC_F.PERSISTENT) {
    out.persistent = timeout;
    if (netmask !== undefined) {
      if (af === AF_INET6) {
        if (netmask !== 128) out.netmask = String(netmask);
      } else if (netmask !== 0xffffffff) {
        const b = zeros(4);
        b.writeUInt32LE(netmask);
        out.netmask = `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
      }
    }
  }
  const names = flagNames(sched);
  const flags = [SVC_F.SCHED1, SVC_F.SCHED2, SVC_F.SCHED3].map((bit, i) => (fl & bit ? names[i] : '')).filter((x) => x !== '');
  if (flags.length) out.schedflags = flags.join(',');
  if (fl & SVC_F.ONEPACKET) out.ops = true;
  return out;
}

const FORWARD_OF: Record<number, Forward> = { [FWD.MASQ]: 'masq', [FWD.LOCALNODE]: 'gate', [FWD.TUNNEL]: 'ipip', [FWD.DROUTE]: 'gate' };

/** One destination of a GET_DEST dump. `svcAf` is its service's family (older kernels send no ADDR_FAMILY). */
export function decodeDest(payload: Buffer, svcAf: number): IpvsDest {
  const top = attrMap(decodeGenl(payload).attrs);
  const m = attrMap(need(top, IPVS_CMD_ATTR_DEST, 'a destination', 4));
  const af = m.get(DEST_ATTR.ADDR_FAMILY)?.readUInt16LE(0) ?? svcAf;
  const ip = decodeAddr(af, need(m, DEST_ATTR.ADDR, 'the address', af === AF_INET ? 4 : 16));
  const port = need(m, DEST_ATTR.PORT, 'the port', 2).readUInt16BE(0);
  const fwd = need(m, DEST_ATTR.FWD_METHOD, 'the forwarding method', 4).readUInt32LE(0) & 7;
  const forward = FORWARD_OF[fwd];
  if (!forward) throw new CodecError(`destination with forwarding method ${fwd}`);
  // Connection counts as ipvsadm lists them (ActiveConn, InActConn), kept only when not 0 (IpvsDest).
  const active = m.get(DEST_ATTR.ACTIVE_CONNS)?.readUInt32LE(0) ?? 0;
  const inactive = m.get(DEST_ATTR.INACT_CONNS)?.readUInt32LE(0) ?? 0;
  return {
    rs: formatAddrPort(ip, port),
    forward,
    weight: need(m, DEST_ATTR.WEIGHT, 'the weight', 4).readInt32LE(0),
    upperThreshold: m.get(DEST_ATTR.U_THRESH)?.readUInt32LE(0) ?? 0,
    lowerThreshold: m.get(DEST_ATTR.L_THRESH)?.readUInt32LE(0) ?? 0,
    ...(active ? { activeConns: active } : {}),
    ...(inactive ? { inactConns: inactive } : {}),
  };
}

/** The family of a service as listed (for its destinations' dump). */
export function serviceAf(s: ServiceRef): number {
  return serviceIdAttrs(s).af;
}

// ---- sync daemons ----

const STATE_OF: Record<SyncDaemon['role'], number> = { master: IP_VS_STATE.MASTER, backup: IP_VS_STATE.BACKUP };

function checkInt(v: number | undefined, what: string, min: number, max: number): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) throw new CodecError(`bad ${what} ${v} (${min}..${max})`);
}

/**
 * The daemon nest of NEW_DAEMON, in ipvsadm's order: state, interface, sync id, then the optional
 * maxlen, port, ttl and group, each only when set (unset: the kernel's default).
 */
export function daemonAttrs(d: SyncDaemon): Attr[] {
  const state = STATE_OF[d.role];
  if (state === undefined) throw new CodecError(`bad sync daemon role ${String(d.role)}`);
  if (typeof d.ifname !== 'string' || d.ifname === '' || Buffer.byteLength(d.ifname) >= IFNAME_MAXLEN || /[\0\s/]/.test(d.ifname)) {
    throw new CodecError(`bad sync daemon interface ${JSON.stringify(d.ifname)}`);
  }
  checkInt(d.syncid, 'sync id', 0, 255);
  checkInt(d.maxlen, 'sync maxlen', 1, 65535);
  checkInt(d.port, 'multicast port', 1, 65535);
  checkInt(d.ttl, 'multicast ttl', 1, 255);
  const attrs = [u32(DAEMON_ATTR.STATE, state), str(DAEMON_ATTR.MCAST_IFN, d.ifname), u32(DAEMON_ATTR.SYNC_ID, d.syncid)];
  if (d.maxlen !== undefined) attrs.push(u16(DAEMON_ATTR.SYNC_MAXLEN, d.maxlen));
  if (d.port !== undefined) attrs.push(u16(DAEMON_ATTR.MCAST_PORT, d.port));
  if (d.ttl !== undefined) attrs.push(u8(DAEMON_ATTR.MCAST_TTL, d.ttl));
  if (d.group !== undefined) {
    const a = encodeAddr(d.group);
    if (!a) throw new CodecError(`bad multicast group ${d.group}`);
    attrs.push(a.af === AF_INET ? attr(DAEMON_ATTR.MCAST_GROUP, a.bytes.subarray(0, 4)) : attr(DAEMON_ATTR.MCAST_GROUP6, a.bytes));
  }
  return attrs;
}

/** The NEW_DAEMON request payload (ipvsadm --start-daemon). */
export function startDaemonPayload(d: SyncDaemon): Buffer {
  return genlPayload(IPVS_CMD.NEW_DAEMON, IPVS_GENL_VERSION, [nest(IPVS_CMD_ATTR_DAEMON, daemonAttrs(d))]);
}

/**
 * The DEL_DAEMON request payload (ipvsadm --stop-daemon ROLE): the kernel reads only the state;
 * ipvsadm also sends an empty interface name and sync id 0, and so does this.
 */
export function stopDaemonPayload(role: SyncDaemon['role']): Buffer {
  const state = STATE_OF[role];
  if (state === undefined) throw new CodecError(`bad sync daemon role ${String(role)}`);
  return genlPayload(IPVS_CMD.DEL_DAEMON, IPVS_GENL_VERSION, [nest(IPVS_CMD_ATTR_DAEMON, [u32(DAEMON_ATTR.STATE, state), str(DAEMON_ATTR.MCAST_IFN, ''), u32(DAEMON_ATTR.SYNC_ID, 0)])]);
}

/** The GET_DAEMON dump request payload (ipvsadm -L --daemon). */
export function getDaemonsPayload(): Buffer {
  return genlPayload(IPVS_CMD.GET_DAEMON, IPVS_GENL_VERSION, []);
}

/**
 * One daemon of a GET_DAEMON dump, with every setting the kernel reports (it fills in its defaults:
 * maxlen from the interface's MTU, group 224.0.0.81, port 8848, ttl 1), as ipvsadm -L --daemon lists them.
 */
export function decodeDaemon(payload: Buffer): SyncDaemon {
  const top = attrMap(decodeGenl(payload).attrs);
  const m = attrMap(need(top, IPVS_CMD_ATTR_DAEMON, 'a sync daemon', 4));
  const state = need(m, DAEMON_ATTR.STATE, 'the daemon state', 4).readUInt32LE(0);
  const role = state === IP_VS_STATE.MASTER ? 'master' : state === IP_VS_STATE.BACKUP ? 'backup' : undefined;
  if (!role) throw new CodecError(`sync daemon with state ${state}`);
  const ifname = need(m, DAEMON_ATTR.MCAST_IFN, 'the interface', 1).toString('utf8').replace(/\0.*$/s, '');
  const syncid = need(m, DAEMON_ATTR.SYNC_ID, 'the sync id', 4).readUInt32LE(0);
  const out: { -readonly [K in keyof SyncDaemon]: SyncDaemon[K] } = { role, ifname, syncid };
  const maxlen = m.get(DAEMON_ATTR.SYNC_MAXLEN);
  if (maxlen && maxlen.length >= 2 && maxlen.readUInt16LE(0)) out.maxlen = maxlen.readUInt16LE(0);
  const g4 = m.get(DAEMON_ATTR.MCAST_GROUP);
  const g6 = m.get(DAEMON_ATTR.MCAST_GROUP6);
  if (g6 && g6.length >= 16) out.group = decodeAddr(AF_INET6, g6);
  else if (g4 && g4.length >= 4) out.group = decodeAddr(AF_INET, g4);
  const port = m.get(DAEMON_ATTR.MCAST_PORT);
  if (port && port.length >= 2 && port.readUInt16LE(0)) out.port = port.readUInt16LE(0);
  const ttl = m.get(DAEMON_ATTR.MCAST_TTL);
  if (ttl && ttl.length >= 1 && ttl[0]) out.ttl = ttl[0];
  return out;
}
