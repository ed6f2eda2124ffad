/**
 * Generic netlink I/O: a transport (one AF_NETLINK/NETLINK_GENERIC socket, through the `netlink`
 * package's prebuilt N-API addon, loaded only when a socket is opened) and a client that numbers the
 * requests, matches the kernel's answers to them by sequence number, collects dumps and sends batches
 * pipelined: many requests per datagram, each acknowledged with its own errno, a window at a time so
 * the acknowledgements never overflow the receive buffer (the kernel drops what does not fit).
 */
import { patientTimeout } from '../../util/timer.js';
import { constants } from 'node:os';
import {
  NETLINK_GENERIC,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  decodeMessages,
  encodeMessage,
  errorCode,
  type NlMessage,
} from './codec.js';

/** One datagram socket to the kernel. Tests inject their own (a scripted kernel). */
export interface NetlinkTransport {
  /** Sends one datagram; rejects with an errno error when sendmsg fails. */
  send(datagram: Buffer): Promise<void>;
  /** Datagrams from the kernel; `error` when the socket fails (e.g. ENOBUFS: answers were dropped). */
  onData(cb: (datagram: Buffer) => void): void;
  onError(cb: (e: Error & { errno?: number }) => void): void;
  /** Keeps the process alive while answers are awaited (true) or not (false). */
  setRef(ref: boolean): void;
  close(): void;
}

interface RawSocket {
  send(msg: Uint8Array, options: undefined, cb: (e?: Error) => void): void;
  on(ev: 'message', cb: (msg: Buffer) => void): void;
  on(ev: 'error', cb: (e: Error & { errno?: number }) => void): void;
  close(): void;
  ref(): void;
  unref(): void;
}

/**
 * Opens a NETLINK_GENERIC socket through the `netlink` package. Throws when the addon cannot load.
 * Only the package's raw socket module is loaded (the addon and a small wrapper): its index also loads its
 * route, nl80211 and wireguard layers, which took ~12 MB of RSS for nothing (the version is pinned, and
 * the package has no exports map, so the path is stable).
 */
export async function openGenericTransport(): Promise<NetlinkTransport> {
  const mod = (await import('netlink/dist/raw.js')) as unknown as { RawNetlinkSocket?: new (p: number, o?: object) => RawSocket; default?: { RawNetlinkSocket: new (p: number, o?: object) => RawSocket } };
  const Raw = mod.RawNetlinkSocket ?? mod.default?.RawNetlinkSocket;
  if (!Raw) throw new Error('the netlink package has no RawNetlinkSocket');
  // Room for a window of acknowledgements and a large dump (capped by net.core.rmem_max).
  const raw = new Raw(NETLINK_GENERIC, { recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
  raw.unref();
  let closed = false;
  return {
    send: (d) => new Promise<void>((res, rej) => raw.send(d, undefined, (e?: Error) => (e ? rej(e) : res()))),
    onData: (cb) => raw.on('message', cb),
    onError: (cb) => raw.on('error', cb),
    setRef: (ref) => {
      if (closed) return;
      if (ref) raw.ref();
      else raw.unref();
    },
    close: () => {
      if (closed) return;
      closed = true;
      raw.close();
    },
  };
}

/** A refused or failed request: its errno (positive), or the transport's failure. */
export interface GenlAnswer {
  /** 0 = acknowledged / dump complete. */
  readonly errno: number;
  /** The answer's messages (a dump's parts, a GET's reply). */
  readonly parts: NlMessage[];
}

interface Pending {
  readonly dump: boolean;
  readonly parts: NlMessage[];
  readonly done: (a: GenlAnswer) => void;
}

const ETIMEDOUT = constants.errno.ETIMEDOUT;
const EIO = constants.errno.EIO;

export interface GenlClientOptions {
  /** An answer not seen within this many ms counts as ETIMEDOUT (default 10 s). */
  readonly timeoutMs?: number;
  /** Requests per datagram in a batch (default 256, ~50 KiB). */
  readonly window?: number;
  /** First sequence number (tests; default random). */
  readonly seq?: number;
}

export class GenlClient {
  private seq: number;
  private readonly pending = new Map<number, Pending>();
  private readonly timeoutMs: number;
  readonly window: number;
  /** Datagrams sent so far. */
  datagrams = 0;
  /** Requests sent so far. */
  requests = 0;

  constructor(
    private readonly t: NetlinkTransport,
    opts: GenlClientOptions = {},
  ) {
    this.seq = opts.seq ?? Math.floor(Math.random() * 0x7fffffff);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.window = Math.max(1, opts.window ?? 256);
    t.onData((d) => this.receive(d));
    t.onError((e) => this.failAll(typeof e.errno === 'number' ? Math.abs(e.errno) : EIO));
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  private receive(datagram: Buffer): void {
    let msgs: NlMessage[];
    try {
      msgs = decodeMessages(datagram);
    } catch {
      this.failAll(EIO);
      return;
    }
    for (const m of msgs) {
      const p = this.pending.get(m.seq);
      if (!p) continue; // an answer to a request that timed out, or a notification
      if (m.type === NLMSG_ERROR) this.finish(m.seq, errorCode(m));
      else if (m.type === NLMSG_DONE) this.finish(m.seq, m.payload.length >= 4 ? Math.abs(m.payload.readInt32LE(0)) : 0);
      else p.parts.push(m); // a dump's part, or a GET's reply (its ACK follows)
    }
  }

  private finish(seq: number, errno: number): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    if (this.pending.size === 0) this.t.setRef(false);
    p.done({ errno, parts: p.parts });
  }

  private failAll(errno: number): void {
    for (const seq of [...this.pending.keys()]) this.finish(seq, errno);
  }

  /** Registers a request; its promise resolves with the answer, or ETIMEDOUT. */
  private expect(seq: number, dump: boolean): Promise<GenlAnswer> {
    return new Promise<GenlAnswer>((resolve) => {
      const cancelTimer = patientTimeout(() => this.finish(seq, ETIMEDOUT), this.timeoutMs, { unref: true });
      this.pending.set(seq, {
        dump,
        parts: [],
        done: (a) => {
          cancelTimer();
          resolve(a);
        },
      });
      this.t.setRef(true);
    });
  }

  private async sendAll(datagram: Buffer, seqs: number[]): Promise<void> {
    this.datagrams++;
    this.requests += seqs.length;
    try {
      await this.t.send(datagram);
    } catch (e) {
      const errno = typeof (e as { errno?: number }).errno === 'number' ? Math.abs((e as { errno: number }).errno) : EIO;
      for (const s of seqs) this.finish(s, errno);
    }
  }

  /** One request with ACK (a change, or a GET whose reply comes before the ACK). */
  async request(type: number, payload: Buffer): Promise<GenlAnswer> {
    const seq = this.nextSeq();
    const answer = this.expect(seq, false);
    await this.sendAll(encodeMessage({ type, flags: NLM_F_REQUEST | NLM_F_ACK, seq, payload }), [seq]);
    return await answer;
  }

  /** One dump: it ends with NLMSG_DONE, or an error (flags as ipvsadm's: REQUEST|ACK|DUMP). */
  async dump(type: number, payload: Buffer): Promise<GenlAnswer> {
    const seq = this.nextSeq();
    const answer = this.expect(seq, true);
    await this.sendAll(encodeMessage({ type, flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, seq, payload }), [seq]);
    return await answer;
  }

  /**
   * Sends every payload, `window` per datagram, the next datagram once the previous one is answered;
   * a refusal does not stop the batch. Only the last request of a datagram asks for an ACK: the kernel
   * answers a request without ACK only when it refuses it, in order, so once the last one's answer is
   * in, every request of the datagram without an error message was done (one answer per datagram
   * instead of one per request). Resolves with each errno (0 = done).
   */
  async batch(type: number, payloads: readonly Buffer[]): Promise<number[]> {
    const errnos: number[] = [];
    for (let i = 0; i < payloads.length; i += this.window) {
      const chunk = payloads.slice(i, i + this.window);
      const got: number[] = new Array<number>(chunk.length).fill(-1);
      const seqs: number[] = [];
      const msgs: Buffer[] = [];
      chunk.forEach((payload, j) => {
        const seq = this.nextSeq();
        seqs.push(seq);
        const last = j === chunk.length - 1;
        if (!last) this.pending.set(seq, { dump: false, parts: [], done: (a) => (got[j] = a.errno) });
        msgs.push(encodeMessage({ type, flags: NLM_F_REQUEST | (last ? NLM_F_ACK : 0), seq, payload }));
      });
      const fence = this.expect(seqs[seqs.length - 1], false);
      await this.sendAll(Buffer.concat(msgs), seqs);
      const final = await fence;
      got[chunk.length - 1] = final.errno;
      for (let j = 0; j < chunk.length - 1; j++) {
        if (got[j] !== -1) continue;
        this.pending.delete(seqs[j]);
        // no error message before the last answer: done (unless the last answer is the socket failing)
        got[j] = final.errno === ETIMEDOUT || final.errno === EIO ? final.errno : 0;
      }
      if (this.pending.size === 0) this.t.setRef(false);
      errnos.push(...got);
    }
    return errnos;
  }

  close(): void {
    this.failAll(EIO);
    this.t.close();
  }
}
