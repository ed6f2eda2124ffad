/**
 * A scripted IPVS kernel behind an injected NetlinkTransport: it answers CTRL_CMD_GETFAMILY, keeps a
 * table of services and destinations from NEW/SET/DEL requests (with the kernel's errnos: EEXIST,
 * ESRCH for a missing service, ENOENT for a missing destination), answers GET_SERVICE / GET_DEST dumps,
 * keeps sync daemons from NEW/DEL_DAEMON as the kernel does (one per role; ENODEV for an interface it
 * does not have, EEXIST for a running role, ESRCH to stop one that is not; GET_DAEMON dumps them with
 * the kernel's defaults filled in), and can refuse chosen requests (`refuse`) or drop the answers of a
 * datagram (`dropAnswers`).
 */
import { constants } from 'node:os';
import {
  AF_INET,
  DAEMON_ATTR,
  DEST_ATTR,
  GENL_ID_CTRL,
  IPVS_CMD,
  IPVS_CMD_ATTR_DAEMON,
  IPVS_CMD_ATTR_DEST,
  IPVS_CMD_ATTR_SERVICE,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_ACK,
  NLM_F_MULTI,
  SVC_ATTR,
  attrMap,
  decodeAttrs,
  decodeGenl,
  decodeMessages,
  encodeAttrs,
  encodeMessage,
  genlPayload,
  str,
  u16,
  u32,
  u8,
  attr,
  type Attr,
  type NlMessage,
} from '../../src/ipvs/netlink/codec.js';
import type { NetlinkTransport } from '../../src/ipvs/netlink/socket.js';

const E = constants.errno;
export const FAMILY = 0x2a;

interface Svc {
  attrs: Attr[];
  dests: Map<string, Attr[]>;
}

function svcKey(m: Map<number, Buffer>): string {
  const parts = [SVC_ATTR.AF, SVC_ATTR.FWMARK, SVC_ATTR.PROTOCOL, SVC_ATTR.ADDR, SVC_ATTR.PORT].map((t) => m.get(t)?.toString('hex') ?? '-');
  return parts.join('|');
}

export class FakeIpvsKernel implements NetlinkTransport {
  private cb: (d: Buffer) => void = () => {};
  private errCb: (e: Error & { errno?: number }) => void = () => {};
  readonly services = new Map<string, Svc>();
  /** Every request received, decoded (cmd, in order). */
  readonly log: { cmd: number; seq: number }[] = [];
  datagrams = 0;
  /** Datagrams answered. */
  answers = 0;
  familyPresent = true;
  /** Refuse the n-th request (0-based, over all requests) of a command with an errno: [cmd, nth, errno]. */
  refuse: { cmd: number; nth: number; errno: number }[] = [];
  /** Report ENOBUFS instead of answering the datagram with this index (0-based). */
  dropAnswers?: number;
  closed = false;
  ref = false;
  /** Interfaces a sync daemon can be started on. */
  interfaces = new Set(['lo', 'eth0']);
  /** Running sync daemons by state (1 master, 2 backup): their attributes as the kernel reports them. */
  readonly daemons = new Map<number, Attr[]>();
  private seen = new Map<number, number>();

  onData(cb: (d: Buffer) => void): void {
    this.cb = cb;
  }
  onError(cb: (e: Error & { errno?: number }) => void): void {
    this.errCb = cb;
  }
  setRef(ref: boolean): void {
    this.ref = ref;
  }
  close(): void {
    this.closed = true;
  }

  async send(datagram: Buffer): Promise<void> {
    const index = this.datagrams++;
    const out: Buffer[] = [];
    for (const m of decodeMessages(datagram)) {
      // as netlink_rcv_skb: a request without NLM_F_ACK is answered only when it fails (or with data)
      const answers = this.handle(m);
      out.push(...((m.flags & NLM_F_ACK) !== 0 ? answers : answers.filter((a) => a.readUInt16LE(4) !== NLMSG_ERROR || a.readInt32LE(16) !== 0)));
    }
    queueMicrotask(() => {
      if (index === this.dropAnswers) {
        const e = Object.assign(new Error('recvmsg: No buffer space available'), { errno: -E.ENOBUFS });
        this.errCb(e);
        return;
      }
      if (out.length) this.answers++;
      this.cb(Buffer.concat(out));
    });
  }

  private ack(m: NlMessage, errno: number): Buffer {
    const p = Buffer.alloc(4 + 16);
    p.writeInt32LE(-errno, 0);
    encodeMessage({ type: m.type, flags: m.flags, seq: m.seq, pid: m.pid, payload: Buffer.alloc(0) }).copy(p, 4);
    return encodeMessage({ type: NLMSG_ERROR, flags: 0, seq: m.seq, payload: p });
  }

  private part(m: NlMessage, cmd: number, attrs: Attr[]): Buffer {
    return encodeMessage({ type: FAMILY, flags: NLM_F_MULTI, seq: m.seq, payload: genlPayload(cmd, 1, attrs) });
  }

  private handle(m: NlMessage): Buffer[] {
    if (m.type === GENL_ID_CTRL) {
      if (!this.familyPresent) return [this.ack(m, E.ENOENT)];
      return [encodeMessage({ type: GENL_ID_CTRL, flags: 0, seq: m.seq, payload: genlPayload(1, 2, [u16(1, FAMILY)]) }), this.ack(m, 0)];
    }
    const { cmd, attrs } = decodeGenl(m.payload);
    this.log.push({ cmd, seq: m.seq });
    const nth = this.seen.get(cmd) ?? 0;
    this.seen.set(cmd, nth + 1);
    const r = this.refuse.find((x) => x.cmd === cmd && x.nth === nth);
    if (r) return [this.ack(m, r.errno)];
    const top = attrMap(attrs);
    const svcAttrs = top.get(IPVS_CMD_ATTR_SERVICE);
    const svcMap = svcAttrs ? attrMap(svcAttrs) : new Map<number, Buffer>();
    const key = svcKey(svcMap);
    const svc = this.services.get(key);
    const destAttrs = top.get(IPVS_CMD_ATTR_DEST);
    const destMap = destAttrs ? attrMap(destAttrs) : new Map<number, Buffer>();
    const dkey = `${destMap.get(DEST_ATTR.ADDR)?.toString('hex')}|${destMap.get(DEST_ATTR.PORT)?.toString('hex')}`;
    switch (cmd) {
      case IPVS_CMD.GET_SERVICE: {
        const parts = [...this.services.values()].map((s) => this.part(m, IPVS_CMD.NEW_SERVICE, [{ type: IPVS_CMD_ATTR_SERVICE, data: encodeAttrs(s.attrs) }]));
        return [...parts, encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, seq: m.seq, payload: Buffer.alloc(4) })];
      }
      case IPVS_CMD.GET_DEST: {
        if (!svc) return [this.ack(m, E.ESRCH)];
        const parts = [...svc.dests.values()].map((d) => this.part(m, IPVS_CMD.NEW_DEST, [{ type: IPVS_CMD_ATTR_DEST, data: encodeAttrs(d) }]));
        return [...parts, encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, seq: m.seq, payload: Buffer.alloc(4) })];
      }
      case IPVS_CMD.NEW_SERVICE:
        if (svc) return [this.ack(m, E.EEXIST)];
        if (!svcMap.has(SVC_ATTR.SCHED_NAME) || !svcMap.has(SVC_ATTR.FLAGS)) return [this.ack(m, E.EINVAL)];
        this.services.set(key, { attrs: decodeAttrs(svcAttrs!), dests: new Map() });
        return [this.ack(m, 0)];
      case IPVS_CMD.SET_SERVICE:
        if (!svc) return [this.ack(m, E.ESRCH)];
        svc.attrs = decodeAttrs(svcAttrs!);
        return [this.ack(m, 0)];
      case IPVS_CMD.DEL_SERVICE:
        if (!svc) return [this.ack(m, E.ESRCH)];
        this.services.delete(key);
        return [this.ack(m, 0)];
      case IPVS_CMD.NEW_DEST:
        if (!svc) return [this.ack(m, E.ESRCH)];
        if (svc.dests.has(dkey)) return [this.ack(m, E.EEXIST)];
        svc.dests.set(dkey, decodeAttrs(destAttrs!));
        return [this.ack(m, 0)];
      case IPVS_CMD.SET_DEST:
        if (!svc) return [this.ack(m, E.ESRCH)];
        if (!svc.dests.has(dkey)) return [this.ack(m, E.ENOENT)];
        svc.dests.set(dkey, decodeAttrs(destAttrs!));
        return [this.ack(m, 0)];
      case IPVS_CMD.DEL_DEST:
        if (!svc) return [this.ack(m, E.ESRCH)];
        if (!svc.dests.delete(dkey)) return [this.ack(m, E.ENOENT)];
        return [this.ack(m, 0)];
      case IPVS_CMD.NEW_DAEMON: {
        const dm = top.get(IPVS_CMD_ATTR_DAEMON);
        const a = dm ? attrMap(dm) : new Map<number, Buffer>();
        const state = a.get(DAEMON_ATTR.STATE)?.readUInt32LE(0);
        const ifn = a.get(DAEMON_ATTR.MCAST_IFN)?.toString('utf8').replace(/\0.*$/s, '');
        const id = a.get(DAEMON_ATTR.SYNC_ID)?.readUInt32LE(0);
        if (state === undefined || ifn === undefined || id === undefined || (state !== 1 && state !== 2)) return [this.ack(m, E.EINVAL)];
        if (this.daemons.has(state)) return [this.ack(m, E.EEXIST)];
        if (!this.interfaces.has(ifn)) return [this.ack(m, E.ENODEV)];
        const g6 = a.get(DAEMON_ATTR.MCAST_GROUP6);
        this.daemons.set(state, [
          u32(DAEMON_ATTR.STATE, state),
          str(DAEMON_ATTR.MCAST_IFN, ifn),
          u32(DAEMON_ATTR.SYNC_ID, id),
          u16(DAEMON_ATTR.SYNC_MAXLEN, a.get(DAEMON_ATTR.SYNC_MAXLEN)?.readUInt16LE(0) ?? 1472),
          u16(DAEMON_ATTR.MCAST_PORT, a.get(DAEMON_ATTR.MCAST_PORT)?.readUInt16LE(0) ?? 8848),
          u8(DAEMON_ATTR.MCAST_TTL, a.get(DAEMON_ATTR.MCAST_TTL)?.[0] ?? 1),
          g6 ? attr(DAEMON_ATTR.MCAST_GROUP6, g6) : attr(DAEMON_ATTR.MCAST_GROUP, a.get(DAEMON_ATTR.MCAST_GROUP) ?? Buffer.from([224, 0, 0, 81])),
        ]);
        return [this.ack(m, 0)];
      }
      case IPVS_CMD.DEL_DAEMON: {
        const dm = top.get(IPVS_CMD_ATTR_DAEMON);
        const state = dm ? attrMap(dm).get(DAEMON_ATTR.STATE)?.readUInt32LE(0) : undefined;
        if (state === undefined) return [this.ack(m, E.EINVAL)];
        if (!this.daemons.delete(state)) return [this.ack(m, E.ESRCH)];
        return [this.ack(m, 0)];
      }
      case IPVS_CMD.GET_DAEMON: {
        // the kernel nests without NLA_F_NESTED here (nla_nest_start_noflag)
        const parts = [...this.daemons.entries()].sort((x, y) => x[0] - y[0]).map(([, d]) => this.part(m, IPVS_CMD.NEW_DAEMON, [{ type: IPVS_CMD_ATTR_DAEMON, data: encodeAttrs(d) }]));
        return [...parts, encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, seq: m.seq, payload: Buffer.alloc(4) })];
      }
      default:
        return [this.ack(m, E.EOPNOTSUPP)];
    }
  }
}

export { AF_INET };
