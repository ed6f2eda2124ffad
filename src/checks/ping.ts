/**
 * ping: the original's check_ping (Net::Ping "icmp", 64 data bytes) — up to checkcount echo requests,
 * each waited for checktimeout; up at the first reply. ICMP for IPv4 and ICMPv6 for IPv6 through one
 * raw socket per family shared by all checks of the process: a reply is ours only when its identifier,
 * sequence number and source address match a request in flight (other processes' replies and our own
 * looped-back requests are ignored). Needs root or CAP_NET_RAW; without it the check reports
 * 'internal' with a clear message.
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import type { EventEmitter } from 'node:events';
import { errText, Stopwatch } from './result.js';
import type { CheckContext, CheckModule, CheckResult, CheckTarget } from './types.js';

interface RawSocket extends EventEmitter {
  send(
    buf: Buffer,
    offset: number,
    length: number,
    address: string,
    after: (err: Error | null, bytes: number) => void,
  ): void;
  close(): void;
}
interface RawModule {
  createSocket(opts: { protocol: number; addressFamily: number }): RawSocket;
  createChecksum(...bufs: Buffer[]): number;
  writeChecksum(buf: Buffer, offset: number, sum: number): void;
  Protocol: Record<string, number>;
  AddressFamily: Record<string, number>;
}

let rawModule: RawModule | undefined;
function loadRaw(): RawModule {
  rawModule ??= createRequire(import.meta.url)('raw-socket') as RawModule;
  return rawModule;
}

/** PING_DATA_BYTES: Net::Ping->new("icmp", 1, 64) sends 64 data bytes. */
export const PING_DATA_BYTES = 64;

interface Pending {
  readonly address: string;
  readonly resolve: (from: string) => void;
}

/** Normalise an IPv6 text form so that replies compare equal to the target. */
function canon(ip: string): string {
  if (!ip.includes(':')) return ip;
  const sl = new net.SocketAddress({ address: ip.replace(/%.*$/, ''), family: 'ipv6' });
  return sl.address;
}

/** Pinger owns one raw ICMP socket of a family while pings are in flight. */
class Pinger {
  private sock: RawSocket | undefined;
  private readonly pending = new Map<number, Pending>();
  private seq = Math.floor(Math.random() * 0x10000);
  readonly id = process.pid & 0xffff;

  constructor(private readonly family: 4 | 6) {}

  private open(): RawSocket {
    if (this.sock) return this.sock;
    const raw = loadRaw();
    const sock = raw.createSocket({
      protocol: this.family === 6 ? raw.Protocol.ICMPv6 : raw.Protocol.ICMP,
      addressFamily: this.family === 6 ? raw.AddressFamily.IPv6 : raw.AddressFamily.IPv4,
    });
    sock.on('message', (buf: Buffer, source: string) => this.onMessage(buf, source));
    sock.on('error', () => {
      // The socket is closed by raw-socket on error; in-flight pings time out, the next one reopens.
      if (this.sock === sock) this.sock = undefined;
    });
    this.sock = sock;
    return sock;
  }

  private onMessage(buf: Buffer, source: string): void {
    let off = 0;
    if (this.family === 4) {
      if (buf.length < 20) return;
      off = (buf[0] & 0x0f) * 4;
    }
    if (buf.length < off + 8) return;
    const type = buf[off];
    if (type !== (this.family === 6 ? 129 : 0)) return; // echo replies only
    if (buf.readUInt16BE(off + 4) !== this.id) return;
    const seq = buf.readUInt16BE(off + 6);
    const p = this.pending.get(seq);
    if (!p || canon(source) !== p.address) return;
    this.pending.delete(seq);
    p.resolve(source);
  }

  private release(): void {
    if (this.pending.size === 0 && this.sock) {
      const s = this.sock;
      this.sock = undefined;
      s.close();
    }
  }

  /** echo sends one request and resolves true on the matching reply, false at timeout or abort. */
  echo(address: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const sock = this.open();
    let seq = (this.seq = (this.seq + 1) & 0xffff);
    for (let i = 0; this.pending.has(seq) && i < 0x10000; i++) seq = this.seq = (this.seq + 1) & 0xffff;
    const pkt = Buffer.alloc(8 + PING_DATA_BYTES);
    pkt[0] = this.family === 6 ? 128 : 8;
    pkt.writeUInt16BE(this.id, 4);
    pkt.writeUInt16BE(seq, 6);
    for (let i = 0; i < PING_DATA_BYTES; i++) pkt[8 + i] = i & 0xff;
    if (this.family === 4) {
      const raw = loadRaw();
      raw.writeChecksum(pkt, 2, raw.createChecksum(pkt));
    } // ICMPv6: the kernel fills the checksum (it needs the pseudo-header)
    const target = canon(address);
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (ok: boolean): void => {
        if (timer) clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (this.pending.get(seq)?.address === target) this.pending.delete(seq);
        this.release();
        resolve(ok);
      };
      const onAbort = (): void => done(false);
      this.pending.set(seq, { address: target, resolve: () => done(true) });
      timer = setTimeout(onAbort, Math.max(0, timeoutMs));
      signal.addEventListener('abort', onAbort, { once: true });
      sock.send(pkt, 0, pkt.length, address, (err) => {
        if (err) done(false);
      });
    });
  }
}

const pingers: { 4?: Pinger; 6?: Pinger } = {};

/** pingOnce: one ICMP echo (exported for tests and the bench); throws when no raw socket can be opened. */
export function pingOnce(address: string, family: 4 | 6, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const p = (pingers[family] ??= new Pinger(family));
  return p.echo(address, timeoutMs, signal);
}

/** pingModule: checkcount attempts of ctx.timeoutMs each (checktimeout per attempt, as Net::Ping). */
export const pingModule: CheckModule = {
  name: 'ping',
  async run(target: CheckTarget, ctx: CheckContext): Promise<CheckResult> {
    const sw = new Stopwatch();
    const attempts = Math.max(1, target.virtual.checkcount);
    for (let i = 1; i <= attempts; i++) {
      if (ctx.signal.aborted) return sw.down('l4-timeout', `ping ${target.ip}: aborted after ${i - 1}/${attempts} attempts`);
      let ok: boolean;
      try {
        ok = await pingOnce(target.ip, target.family, ctx.timeoutMs, ctx.signal);
      } catch (err) {
        const why = errText(err);
        const hint = /EPERM|EACCES|not permitted|permission/i.test(why) ? ' (needs root or CAP_NET_RAW)' : '';
        return sw.down('internal', `ping ${target.ip}: cannot open a raw ICMP socket: ${why}${hint}`);
      }
      if (ok) return sw.up(`ping ${target.ip}: reply (attempt ${i}/${attempts})`);
    }
    return sw.down('l4-timeout', `ping ${target.ip}: no reply to ${attempts} attempt(s) of ${ctx.timeoutMs} ms`);
  },
};
