/**
 * What the negotiate checks share on top of the check toolkit (../result.ts, ../net.ts,
 * ../deadline.ts): the entry that gives a check its trail and hard deadline, the connect step as their
 * messages show it, receive matching, byte caps and the UDP exchange. Protocol knowledge lives in the
 * per-service files.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { CheckContext, CheckResult, CheckStatus, CheckTarget, ConnectFactory } from '../types.js';
import { perlSubject, translatePerlRegex } from '../../util/perl-regex.js';
import { withDeadline } from '../deadline.js';
import { connect } from '../net.js';
import { CheckError, describeError, Trail } from '../result.js';
import { hostPort } from '../target.js';

/** MAX_REPLY_BYTES caps one protocol reply (a greeting, a multi-line SMTP/FTP answer, a SIP header block). */
export const MAX_REPLY_BYTES = 16 * 1024;
/** MAX_BODY_BYTES caps a retrieved document (the FTP file matched against receive). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** stripSlash removes the original's leading "/" from request (substr($request, 1) / s#^/##). */
export function stripSlash(request: string): string {
  return request.startsWith('/') ? request.slice(1) : request;
}

/** L4_REFUSED_CODES are the errno codes that mean the peer or the path refused us (layer 4). */
const L4_REFUSED_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EADDRNOTAVAIL', 'EPIPE', 'ENETDOWN',
]);

/**
 * classifyError maps a thrown error to a layer status: a CheckError keeps its own, errno refusals are
 * l4-refused (or, once connected, a reset is a bad response), TLS library errors are tls.
 */
export function classifyError(err: unknown, connected: boolean): CheckStatus {
  if (err instanceof CheckError) return err.status;
  const code = String((err as NodeJS.ErrnoException | undefined)?.code ?? '');
  // ECONNREFUSED after "connect" only happens on UDP (ICMP port unreachable): still layer 4.
  if (code === 'ECONNREFUSED') return 'l4-refused';
  if (L4_REFUSED_CODES.has(code)) return connected ? 'l7-bad-response' : 'l4-refused';
  if (code === 'ETIMEDOUT') return connected ? 'l7-timeout' : 'l4-timeout';
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO') return 'tls';
  return connected ? 'l7-bad-response' : 'l4-refused';
}

/**
 * connectStep is the negotiate checks' connect step: it notes "connect ip:port" in the trail, sets
 * trail.connected once TCP is up and connects (TLS on top when asked, without verification) through
 * the toolkit's connect, whose socket the signal owns (the check's end destroys it). It rejects as
 * these checks report it: with the errno error of a refused connect (classifyError and describeError
 * render it), a CheckError 'tls' with the TLS error in full, or the signal's reason once aborted.
 */
export async function connectStep(
  ip: string,
  port: number,
  trail: Pick<Trail, 'add' | 'connected'>,
  signal: AbortSignal,
  opts: { readonly tls?: boolean; readonly factory?: ConnectFactory } = {},
): Promise<net.Socket> {
  trail.add(`connect ${hostPort(ip, port)}${opts.tls ? ' (tls)' : ''}`);
  if (signal.aborted) throw signal.reason;
  try {
    const sock = await connect({
      host: ip,
      port,
      signal,
      noDelay: true,
      factory: opts.factory,
      tls: opts.tls ? {} : undefined,
      onConnected: () => {
        trail.connected = true;
      },
      signalOwnsSocket: true,
    });
    if (opts.tls) trail.add('tls ok');
    return sock;
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (!(err instanceof CheckError) || err.cause === undefined) throw err;
    throw err.status === 'tls' ? new CheckError('tls', `tls: ${describeError(err.cause)}`) : err.cause;
  }
}

/**
 * receiveRegex translates a receive= pattern (Perl syntax) into a RegExp; an untranslatable pattern is
 * an internal failure (the parser should have rejected it with FILE:LINE already).
 */
export function receiveRegex(receive: string): RegExp {
  try {
    return translatePerlRegex(receive);
  } catch (err) {
    throw new CheckError('internal', `receive pattern ${JSON.stringify(receive)}: ${describeError(err)}`);
  }
}

/**
 * receiveMatches is the original's `$answer =~ /$receive/` for one answer (raw bytes, or a decoded
 * string such as a DN or a host name, taken as its UTF-8 bytes as Perl would see them).
 */
export function receiveMatches(re: RegExp, answer: Uint8Array | string): boolean {
  return re.test(perlSubject(answer));
}

/**
 * meteredSocket is a fresh, unconnected TCP socket that destroys itself once it has received more than
 * `cap` bytes: it is handed to client libraries (pg, mysql2, ldapts) so their reads are capped too.
 */
export function meteredSocket(cap: number, trail: Pick<Trail, 'connected'>): net.Socket {
  const sock = new net.Socket();
  let seen = 0;
  sock.once('connect', () => {
    trail.connected = true;
  });
  sock.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > cap) sock.destroy(new CheckError('l7-bad-response', `answer longer than ${cap} bytes`));
  });
  return sock;
}

/** UdpExchange: what udpExchange sends and how it reads the answers. */
export interface UdpExchange<T> {
  /** The request, built once the socket is connected (it may name the local address). */
  readonly request: (local: net.AddressInfo) => Buffer | string;
  /** Reads one datagram: the outcome, or undefined to keep waiting (a foreign id, a partial answer). May throw. */
  readonly onMessage: (msg: Buffer) => T | undefined;
  /** Send the request again this often while unanswered (a lost datagram); never when absent. */
  readonly resendMs?: number;
}

/**
 * udpExchange sends a request to the real over a connected UDP socket (only the real's datagrams reach
 * it, and an ICMP port unreachable arrives as ECONNREFUSED) and resolves with the first outcome
 * onMessage gives; it rejects on a socket error, on a throw of request or onMessage, or when the signal
 * aborts. The socket is closed and the resend timer stopped in every case.
 */
export function udpExchange<T>(target: CheckTarget, trail: Trail, signal: AbortSignal, x: UdpExchange<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const sock = dgram.createSocket(target.family === 6 ? 'udp6' : 'udp4');
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (err: unknown, value?: T): void => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      signal.removeEventListener('abort', onAbort);
      try {
        sock.close();
      } catch {
        /* already closed */
      }
      if (err === undefined) resolve(value as T);
      else reject(err);
    };
    const onAbort = (): void => finish(signal.reason ?? new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (err) => finish(err));
    sock.on('message', (msg) => {
      try {
        const value = x.onMessage(msg);
        if (value !== undefined) finish(undefined, value);
      } catch (err) {
        finish(err);
      }
    });
    sock.connect(target.port, target.ip, () => {
      trail.connected = true;
      let packet: Buffer | string;
      try {
        packet = x.request(sock.address());
      } catch (err) {
        finish(err);
        return;
      }
      const send = (): void => sock.send(packet, (err) => err && finish(err));
      send();
      if (x.resendMs) timer = setInterval(send, x.resendMs);
    });
  });
}

/**
 * backupTimeoutMs: the timeout handed to a protocol library (ldapts, mysql2, pg). The check's own
 * deadline (runNegotiation) decides; the library's timer only backs it up, so it is set a little later
 * and cannot win the race against the deadline, which expires one turn of the loop after coming due
 * (util/timer.ts) and would otherwise see the library's own error instead of a timeout.
 */
export function backupTimeoutMs(ctx: CheckContext): number {
  return ctx.timeoutMs + BACKUP_SLACK_MS;
}
/** How much later than the check's deadline a library's own timeout comes. */
export const BACKUP_SLACK_MS = 1000;

/**
 * runNegotiation is the usual entry of a negotiate check: a fresh trail, then the protocol work under a
 * hard deadline (ctx.timeoutMs or ctx.signal, whichever comes first), which resolves at once as a
 * timeout (l4 before the connection, l7 after) even if the work ignores its signal. A throw from the
 * work becomes a down result with the layer classifyError gives; nothing escapes.
 */
export function runNegotiation(
  ctx: CheckContext,
  work: (trail: Trail, signal: AbortSignal) => Promise<CheckResult>,
): Promise<CheckResult> {
  const trail = new Trail();
  const timeout = (): CheckStatus => (trail.connected ? 'l7-timeout' : 'l4-timeout');
  const why = (cause: 'timeout' | 'aborted'): string => (cause === 'timeout' ? `timeout after ${ctx.timeoutMs} ms` : 'aborted');
  return withDeadline((signal) => work(trail, signal), {
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
    abortReason: (cause) => new CheckError(timeout(), why(cause)),
    expired: (cause) => trail.down(timeout(), why(cause)),
    failed: (err) => trail.down(classifyError(err, trail.connected), describeError(err)),
    doneReason: new CheckError('internal', 'check finished'),
  });
}

