/**
 * Shared mechanism of the negotiate checks: the step-by-step message, the hard outer deadline, socket
 * opening with layer-aware errors, and the byte caps. Protocol knowledge lives in the per-service files.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { CheckContext, CheckResult, CheckStatus, CheckTarget } from '../types.js';
import { perlSubject, translatePerlRegex } from '../../util/perl-regex.js';

/** MAX_REPLY_BYTES caps one protocol reply (a greeting, a multi-line SMTP/FTP answer, a SIP header block). */
export const MAX_REPLY_BYTES = 16 * 1024;
/** MAX_BODY_BYTES caps a retrieved document (the FTP file matched against receive). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** CheckFailure carries a layer status through async code; it is turned into a CheckResult, never escapes a check. */
export class CheckFailure extends Error {
  constructor(
    readonly status: CheckStatus,
    message: string,
  ) {
    super(message);
    this.name = 'CheckFailure';
  }
}

/** Trail accumulates the message of one check run, step by step ("connect 127.0.0.1:21; greeting 220; ..."). */
export class Trail {
  private readonly parts: string[] = [];
  private readonly started = performance.now();
  /** Whether the TCP (or TLS) connection is established: decides l4-timeout versus l7-timeout. */
  connected = false;

  add(part: string): void {
    this.parts.push(part);
  }

  get text(): string {
    return this.parts.join('; ');
  }

  result(ok: boolean, status: CheckStatus, last?: string): CheckResult {
    if (last !== undefined) this.add(last);
    return { ok, status, message: this.text, durationMs: Math.round(performance.now() - this.started) };
  }

  up(last?: string): CheckResult {
    return this.result(true, 'ok', last);
  }

  down(status: CheckStatus, last: string): CheckResult {
    return this.result(false, status, last);
  }
}

/** hostPort renders ip:port with IPv6 bracketed, for messages and URLs. */
export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** stripSlash removes the original's leading "/" from request (substr($request, 1) / s#^/##). */
export function stripSlash(request: string): string {
  return request.startsWith('/') ? request.slice(1) : request;
}

/** L4_REFUSED_CODES are the errno codes that mean the peer or the path refused us (layer 4). */
const L4_REFUSED_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EADDRNOTAVAIL', 'EPIPE', 'ENETDOWN',
]);

/** describeError renders an error briefly: its code when it has one, then its text. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}

/**
 * classifyError maps a thrown error to a layer status: CheckFailure keeps its own, errno refusals are
 * l4-refused (or, once connected, a reset is a bad response), TLS library errors are tls.
 */
export function classifyError(err: unknown, connected: boolean): CheckStatus {
  if (err instanceof CheckFailure) return err.status;
  const code = String((err as NodeJS.ErrnoException | undefined)?.code ?? '');
  // ECONNREFUSED after "connect" only happens on UDP (ICMP port unreachable): still layer 4.
  if (code === 'ECONNREFUSED') return 'l4-refused';
  if (L4_REFUSED_CODES.has(code)) return connected ? 'l7-bad-response' : 'l4-refused';
  if (code === 'ETIMEDOUT') return connected ? 'l7-timeout' : 'l4-timeout';
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO') return 'tls';
  return connected ? 'l7-bad-response' : 'l4-refused';
}

/**
 * withDeadline runs one check under a hard outer deadline: ctx.timeoutMs or ctx.signal, whichever
 * comes first, aborts `work` through the signal it is given and resolves at once as a timeout, even if
 * `work` ignores the signal. A throw from `work` becomes a down result; nothing escapes.
 */
export async function withDeadline(
  ctx: CheckContext,
  trail: Trail,
  work: (signal: AbortSignal) => Promise<CheckResult>,
): Promise<CheckResult> {
  const inner = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onOuterAbort: (() => void) | undefined;
  const expired = new Promise<CheckResult>((resolve) => {
    const fire = (why: string) => {
      inner.abort(new CheckFailure(trail.connected ? 'l7-timeout' : 'l4-timeout', why));
      resolve(trail.down(trail.connected ? 'l7-timeout' : 'l4-timeout', why));
    };
    timer = setTimeout(() => fire(`timeout after ${ctx.timeoutMs} ms`), Math.max(0, ctx.timeoutMs));
    onOuterAbort = () => fire('aborted');
    if (ctx.signal.aborted) onOuterAbort();
    else ctx.signal.addEventListener('abort', onOuterAbort, { once: true });
  });
  const guarded = (async () => {
    try {
      return await work(inner.signal);
    } catch (err) {
      if (inner.signal.aborted) return expired;
      return trail.down(classifyError(err, trail.connected), describeError(err));
    }
  })();
  try {
    return await Promise.race([guarded, expired]);
  } finally {
    clearTimeout(timer);
    if (onOuterAbort) ctx.signal.removeEventListener('abort', onOuterAbort);
    if (!inner.signal.aborted) inner.abort(new CheckFailure('internal', 'check finished'));
  }
}

/** StreamOptions: plain TCP, or TLS without any certificate or name verification (reals are addressed by IP). */
export interface StreamOptions {
  readonly tls?: boolean;
}

/**
 * openStream connects to ip:port (TLS on top when asked) and resolves once the stream is usable. It
 * notes "connect ip:port" and sets trail.connected when TCP is up; the socket is destroyed on abort.
 */
export function openStream(
  ip: string,
  port: number,
  trail: Pick<Trail, 'add' | 'connected'>,
  signal: AbortSignal,
  opts: StreamOptions = {},
): Promise<net.Socket> {
  trail.add(`connect ${hostPort(ip, port)}${opts.tls ? ' (tls)' : ''}`);
  return new Promise<net.Socket>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const raw = net.connect({ host: ip, port, noDelay: true });
    let sock: net.Socket = raw;
    const onAbort = () => {
      sock.destroy();
      raw.destroy();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const fail = (err: Error) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      raw.destroy();
      reject(err);
    };
    raw.once('error', fail);
    raw.once('connect', () => {
      trail.connected = true;
      if (!opts.tls) {
        raw.removeListener('error', fail);
        // Keep the abort listener: it tears the socket down whatever phase the script is in.
        resolve(raw);
        return;
      }
      raw.removeListener('error', fail);
      // Errors of the TCP layer surface on the TLS socket; keep the raw one from throwing them.
      raw.on('error', () => undefined);
      const secure = tls.connect({ socket: raw, rejectUnauthorized: false, checkServerIdentity: () => undefined });
      sock = secure;
      const tlsFail = (err: Error) => fail(new CheckFailure('tls', `tls: ${describeError(err)}`));
      secure.once('error', tlsFail);
      secure.once('secureConnect', () => {
        secure.removeListener('error', tlsFail);
        trail.add('tls ok');
        resolve(secure);
      });
    });
  });
}

/**
 * receiveRegex translates a receive= pattern (Perl syntax) into a RegExp; an untranslatable pattern is
 * an internal failure (the parser should have rejected it with FILE:LINE already).
 */
export function receiveRegex(receive: string): RegExp {
  try {
    return translatePerlRegex(receive);
  } catch (err) {
    throw new CheckFailure('internal', `receive pattern ${JSON.stringify(receive)}: ${describeError(err)}`);
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
    if (seen > cap) sock.destroy(new CheckFailure('l7-bad-response', `answer longer than ${cap} bytes`));
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

/** runCheck is the usual entry of a check: a fresh trail, the hard deadline, then the protocol work. */
export function runCheck(
  ctx: CheckContext,
  work: (trail: Trail, signal: AbortSignal) => Promise<CheckResult>,
): Promise<CheckResult> {
  const trail = new Trail();
  return withDeadline(ctx, trail, (signal) => work(trail, signal));
}

/** CheckTarget re-exported for the per-service files. */
export type { CheckTarget, CheckContext, CheckResult };
