/**
 * ping: the original's check_ping (Net::Ping "icmp", 64 data bytes) — up to checkcount echo requests,
 * each waited for checktimeout; up at the first reply. ICMP for IPv4 and ICMPv6 for IPv6 through one
 * raw socket per family shared by all checks of the process: a reply is ours only when its identifier,
 * sequence number and source address match a request in flight (other processes' replies and our own
 * looped-back requests are ignored). Needs root or CAP_NET_RAW; without it the check reports
 * 'internal' with a clear message.
 *
 * When raw-socket cannot be loaded at all (its native build was skipped or failed at install), each
 * attempt runs the system ping instead (ping-system.ts, same per-attempt timeout), and the process says
 * so once through the notice sink (the daemon's log).
 */
import { patientTimeout, type CancelTimeout } from '../util/timer.js';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { EventEmitter } from 'node:events';
import { errText, Trail } from './result.js';
import { findSystemPing, systemPingOnce, SYSTEM_PING_PATHS } from './ping-system.js';
import type { CheckContext, CheckModule, CheckResult, CheckTarget } from './types.js';
import type { VirtualService } from '../model/config.js';

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
export interface RawModule {
  createSocket(opts: { protocol: number; addressFamily: number }): RawSocket;
  createChecksum(...bufs: Buffer[]): number;
  writeChecksum(buf: Buffer, offset: number, sum: number): void;
  Protocol: Record<string, number>;
  AddressFamily: Record<string, number>;
}

/** The default loader: the raw-socket package (a native addon). */
export function requireRawSocket(): RawModule {
  return createRequire(import.meta.url)('raw-socket') as RawModule;
}

let rawModule: RawModule | undefined;
function loadRaw(): RawModule {
  rawModule ??= requireRawSocket();
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
      let cancelTimer: CancelTimeout | undefined;
      const done = (ok: boolean): void => {
        cancelTimer?.();
        signal.removeEventListener('abort', onAbort);
        if (this.pending.get(seq)?.address === target) this.pending.delete(seq);
        this.release();
        resolve(ok);
      };
      const onAbort = (): void => done(false);
      this.pending.set(seq, { address: target, resolve: () => done(true) });
      cancelTimer = patientTimeout(onAbort, timeoutMs);
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

/** How the ping check sends its echo requests: through raw-socket, the system ping, or not at all. */
export type PingMethod = { kind: 'raw' } | { kind: 'system'; bin: string; why: string } | { kind: 'none'; why: string };

export interface PingModuleDeps {
  /** Loads raw-socket; throws when it cannot (default: require('raw-socket')). */
  readonly loadRaw?: () => RawModule;
  /** Where the system ping is looked for (default SYSTEM_PING_PATHS). */
  readonly pingPaths?: readonly string[];
  /** Receives the one notice about the fallback (default: the sink set by setPingNotice). */
  readonly notice?: (message: string) => void;
}

let noticeSink: (message: string) => void = () => {};
/** setPingNotice: where the ping check's one-time fallback notice goes (the daemon passes its logger). */
export function setPingNotice(sink: (message: string) => void): void {
  noticeSink = sink;
}

/** pingMethod: decides (without any notice) how ping checks would run here. */
export function pingMethod(deps: PingModuleDeps = {}): PingMethod {
  try {
    (deps.loadRaw ?? loadRaw)();
    return { kind: 'raw' };
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    const why = `raw-socket cannot be loaded: ${text.split('\n')[0]}`;
    const bin = findSystemPing(deps.pingPaths ?? SYSTEM_PING_PATHS);
    return bin ? { kind: 'system', bin, why } : { kind: 'none', why };
  }
}

/**
 * createPingModule: checkcount attempts of ctx.timeoutMs each (checktimeout per attempt, as Net::Ping).
 * The method is decided at the first check; a fallback to the system ping is announced once.
 */
export function createPingModule(deps: PingModuleDeps = {}): CheckModule {
  let method: PingMethod | undefined;
  const choose = (): PingMethod => {
    if (method) return method;
    method = pingMethod(deps);
    const notice = deps.notice ?? noticeSink;
    if (method.kind === 'system') notice(`ping checks: ${method.why}; using the system ping ${method.bin} instead`);
    else if (method.kind === 'none') notice(`ping checks: ${method.why}, and no system ping in ${(deps.pingPaths ?? SYSTEM_PING_PATHS).join(', ')}: ping checks fail`);
    return method;
  };
  return {
    name: 'ping',
    async run(target: CheckTarget, ctx: CheckContext): Promise<CheckResult> {
      const sw = new Trail();
      const attempts = Math.max(1, target.virtual.checkcount);
      const m = choose();
      if (m.kind === 'none') return sw.down('internal', `ping ${target.ip}: ${m.why}, and no system ping found`);
      let lastError = '';
      for (let i = 1; i <= attempts; i++) {
        if (ctx.signal.aborted) return sw.down('l4-timeout', `ping ${target.ip}: aborted after ${i - 1}/${attempts} attempts`);
        let ok: boolean;
        if (m.kind === 'system') {
          const o = await systemPingOnce(m.bin, target.ip, target.family, ctx.timeoutMs, ctx.signal);
          ok = o.reply;
          if (!o.reply && o.error) lastError = `; ${o.error}`;
        } else {
          try {
            ok = await pingOnce(target.ip, target.family, ctx.timeoutMs, ctx.signal);
          } catch (err) {
            const why = errText(err);
            const hint = /EPERM|EACCES|not permitted|permission/i.test(why) ? ' (needs root or CAP_NET_RAW)' : '';
            return sw.down('internal', `ping ${target.ip}: cannot open a raw ICMP socket: ${why}${hint}`);
          }
        }
        if (ok) return sw.up(`ping ${target.ip}: reply (attempt ${i}/${attempts})${m.kind === 'system' ? ' (system ping)' : ''}`);
      }
      return sw.down('l4-timeout', `ping ${target.ip}: no reply to ${attempts} attempt(s) of ${ctx.timeoutMs} ms${m.kind === 'system' ? ' (system ping)' : ''}${lastError}`);
    },
  };
}

/** usesPing: whether a virtual's reals are checked by ping (checktype=ping, or connect on a UDP virtual). */
export function usesPing(v: Pick<VirtualService, 'checktype' | 'protocol'>): boolean {
  return v.checktype === 'ping' || (v.checktype === 'connect' && v.protocol === 'udp');
}

/** pingWarning: configtest's warning when the config uses ping and neither raw-socket nor a system ping is here. */
export function pingWarning(virtuals: readonly Pick<VirtualService, 'checktype' | 'protocol'>[], deps: PingModuleDeps = {}): string | undefined {
  if (!virtuals.some(usesPing)) return undefined;
  const m = pingMethod(deps);
  if (m.kind !== 'none') return undefined;
  return `Warning: ping checks cannot work here: ${m.why}, and no system ping (iputils) in ${(deps.pingPaths ?? SYSTEM_PING_PATHS).join(', ')}`;
}

/** pingModule: the ping check of the process (raw-socket, else the system ping). */
export const pingModule: CheckModule = createPingModule();
