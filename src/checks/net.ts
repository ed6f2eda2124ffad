/**
 * The connection side of the check toolkit: one `connect` (TCP, TLS on top when asked) built on an
 * injectable connect factory, with a timeout and an AbortSignal; reading until a predicate holds with a
 * byte cap; half-close. TLS is without certificate or name verification (the original's behaviour:
 * reals are addressed by IP). Every failure becomes a CheckError carrying the layer that failed.
 */
import { patientTimeout, type CancelTimeout } from '../util/timer.js';
import net from 'node:net';
import type tls from 'node:tls';
import { CheckError, errText } from './result.js';
import type { ConnectFactory } from './types.js';

export type { ConnectFactory };

/** node:tls, loaded by the first TLS connection (~1.5 MB of RSS that a daemon without TLS checks need not pay). */
let tlsLoad: Promise<typeof tls> | undefined;
export const loadTls = (): Promise<typeof tls> => (tlsLoad ??= import('node:tls').then((m) => m.default));

/** defaultConnectFactory: node's own net.connect. */
export const defaultConnectFactory: ConnectFactory = (opts) => net.connect(opts);

export interface TlsOptions {
  /** SNI name; none by default (an IP is not a valid SNI name, and one is never sent). */
  readonly servername?: string;
  /** Extra node:tls options (ALPN...). Certificate verification stays off unless rejectUnauthorized is set. */
  readonly tlsOptions?: tls.ConnectionOptions;
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  /** Own timeout for the connect (and the TLS handshake); none when absent: the caller's deadline aborts the signal. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Source address to bind (optional). */
  readonly localAddress?: string;
  /** Disable Nagle (the line protocols: each command goes out at once). */
  readonly noDelay?: boolean;
  /** A TLS handshake on top of the TCP connection. */
  readonly tls?: TlsOptions;
  /** How the TCP socket is opened (default: net.connect). */
  readonly factory?: ConnectFactory;
  /** Called once TCP is up (before any TLS handshake): tells l4 from l7 failures. */
  readonly onConnected?: () => void;
  /**
   * The signal keeps owning the socket once connected: aborting it later destroys the socket (the
   * negotiate checks, whose signal is aborted when the check ends). By default the caller owns it.
   */
  readonly signalOwnsSocket?: boolean;
}

/** L4 status of a TCP connect failure (errno ETIMEDOUT is a timeout, anything else a refusal). */
export function l4Status(err: unknown): 'l4-timeout' | 'l4-refused' {
  return (err as NodeJS.ErrnoException)?.code === 'ETIMEDOUT' ? 'l4-timeout' : 'l4-refused';
}

/**
 * settleOn waits for `event` on `sock` until `deadline` (performance.now() ms), or until the signal
 * aborts. It resolves with the socket, or destroys it (and `also`, the socket under it) and rejects
 * with the CheckError made by `failed` (for an error) or `timedOut`. Every listener and the timer are
 * gone once it has settled.
 */
function settleOn<S extends net.Socket>(
  sock: S,
  event: 'connect' | 'secureConnect',
  o: { deadline?: number; signal?: AbortSignal; failed: (err: unknown) => CheckError; timedOut: () => CheckError; also?: net.Socket },
): Promise<S> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: CheckError): void => {
      if (done) return;
      done = true;
      cancelTimer?.();
      o.signal?.removeEventListener('abort', onAbort);
      sock.removeListener('error', onError);
      sock.removeListener(event, onOk);
      if (err) {
        sock.destroy();
        o.also?.destroy();
        reject(err);
      } else resolve(sock);
    };
    const onError = (err: unknown): void => finish(o.failed(err));
    const onOk = (): void => finish();
    const onAbort = (): void => finish(o.timedOut());
    const cancelTimer = o.deadline === undefined ? undefined : patientTimeout(onAbort, o.deadline - performance.now());
    sock.once('error', onError);
    sock.once(event, onOk);
    o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * connect opens a TCP connection, then a TLS session on it when `tls` is given (both within timeoutMs),
 * or rejects with a CheckError: l4-refused (errno text `connect: ECONNREFUSED`, the errno error as
 * cause), l4-timeout at the timeout or an abort, tls for a failed handshake (`tls: CODE`, cause kept),
 * l7-timeout for a handshake cut by the timeout. Sockets are destroyed on every failure path; on
 * success the caller owns the socket (or the signal does, with signalOwnsSocket).
 */
export async function connect(opts: ConnectOptions): Promise<net.Socket> {
  // Loaded before the socket exists and before the timeout starts (once per process).
  const tlsModule = opts.tls ? await loadTls() : undefined;
  if (opts.signal?.aborted) throw new CheckError('l4-timeout', 'aborted before connect');
  if (!(opts.port > 0 && opts.port < 65536)) throw new CheckError('l4-refused', `no port to connect to (${opts.port})`);
  const deadline = opts.timeoutMs === undefined ? undefined : performance.now() + opts.timeoutMs;
  // A bad argument (e.g. localAddress) throws before any socket exists: it is rethrown as is.
  const raw = (opts.factory ?? defaultConnectFactory)({
    host: opts.host,
    port: opts.port,
    localAddress: opts.localAddress,
    noDelay: opts.noDelay,
  });
  await settleOn(raw, 'connect', {
    deadline,
    signal: opts.signal,
    failed: (err) => new CheckError(l4Status(err), `connect: ${errText(err)}`, { cause: err }),
    timedOut: () => new CheckError('l4-timeout', 'connect: timed out'),
  });
  opts.onConnected?.();
  let sock: net.Socket = raw;
  if (opts.tls) {
    // Errors of the TCP layer surface on the TLS socket; keep the raw one from throwing them.
    raw.on('error', () => undefined);
    const servername = opts.tls.servername;
    const secure = tlsModule!.connect({
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      ...opts.tls.tlsOptions,
      socket: raw,
      servername: servername && net.isIP(servername) === 0 ? servername : undefined,
    });
    sock = await settleOn(secure, 'secureConnect', {
      deadline,
      signal: opts.signal,
      failed: (err) => new CheckError('tls', `tls: ${errText(err)}`, { cause: err }),
      timedOut: () => new CheckError('l7-timeout', 'tls: handshake timed out'),
      also: raw,
    });
  }
  if (opts.signalOwnsSocket && opts.signal) {
    const owned = sock;
    opts.signal.addEventListener(
      'abort',
      () => {
        owned.destroy();
        raw.destroy();
      },
      { once: true },
    );
  }
  return sock;
}

/** The outcome of a read: the bytes so far, and why reading stopped. */
export interface ReadResult {
  readonly data: Buffer;
  /** The predicate was satisfied. */
  readonly matched: boolean;
  /** The peer closed its side (EOF) before the predicate held. */
  readonly ended: boolean;
  /** The byte cap was reached (data holds exactly maxBytes bytes). */
  readonly capped: boolean;
}

export interface ReadOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Byte cap: reading stops (capped) when this many bytes are buffered. */
  readonly maxBytes: number;
}

/**
 * SocketReader buffers a socket's data from construction on, so that nothing is lost between reads.
 * Each readUntil consumes what it returns.
 */
export class SocketReader {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private error: unknown = undefined;
  private wake: (() => void) | undefined;
  /** Total bytes ever received (for messages). */
  received = 0;

  constructor(private readonly sock: net.Socket) {
    sock.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.wake?.();
    });
    sock.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    sock.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
    sock.on('error', (err) => {
      this.error = err;
      this.wake?.();
    });
  }

  /**
   * readUntil waits until `done(buffer)` is true (take everything buffered) or a number >= 0 (take that
   * many bytes, the rest stays for the next read; false or -1 = not yet), the peer ends, or maxBytes are buffered; a timeout
   * or abort rejects with CheckError('l7-timeout'), a socket error with CheckError('l7-bad-response').
   * Pauses the socket while the buffer is at the cap, so an endless sender costs nothing.
   */
  readUntil(done: (data: Buffer) => boolean | number, opts: ReadOptions): Promise<ReadResult> {
    return new Promise((resolve, reject) => {
      let cancelTimer: CancelTimeout | undefined;
      const cleanup = (): void => {
        this.wake = undefined;
        cancelTimer?.();
        opts.signal?.removeEventListener('abort', onAbort);
      };
      const take = (n: number): Buffer => {
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return out;
      };
      const check = (): void => {
        const d = done(this.buf);
        if (d === true || (typeof d === 'number' && d >= 0)) {
          cleanup();
          const n = d === true ? this.buf.length : Math.min(d, this.buf.length);
          resolve({ data: take(n), matched: true, ended: false, capped: false });
          return;
        }
        if (this.buf.length >= opts.maxBytes) {
          cleanup();
          this.sock.pause();
          resolve({ data: take(opts.maxBytes), matched: false, ended: false, capped: true });
          return;
        }
        if (this.error !== undefined) {
          cleanup();
          reject(new CheckError('l7-bad-response', `read: ${errText(this.error)}`));
          return;
        }
        if (this.ended) {
          cleanup();
          resolve({ data: take(this.buf.length), matched: false, ended: true, capped: false });
        }
      };
      const onAbort = (): void => {
        cleanup();
        reject(new CheckError('l7-timeout', `read: timed out after ${this.received} bytes`));
      };
      if (opts.signal?.aborted) {
        onAbort();
        return;
      }
      cancelTimer = patientTimeout(onAbort, opts.timeoutMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.wake = check;
      this.sock.resume();
      check();
    });
  }

  /** readToEnd: everything until EOF (or the cap). */
  readToEnd(opts: ReadOptions): Promise<ReadResult> {
    return this.readUntil(() => false, opts);
  }

  /** readLine: up to and including the first "\n" (or EOF/cap); later bytes stay buffered. */
  readLine(opts: ReadOptions): Promise<ReadResult> {
    return this.readUntil((b) => {
      const i = b.indexOf(0x0a);
      return i < 0 ? -1 : i + 1;
    }, opts);
  }
}

/** writeAll writes data and resolves once it is flushed to the kernel (or rejects with l7-bad-response). */
export function writeAll(sock: net.Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.write(data, (err) => (err ? reject(new CheckError('l7-bad-response', `write: ${errText(err)}`)) : resolve()));
  });
}

/** halfClose sends FIN (shutdown(SHUT_WR)) while keeping the read side open. */
export function halfClose(sock: net.Socket): void {
  sock.end();
}

/** destroySocket closes a socket at once, whatever its state; `reset` sends RST instead of FIN. */
export function destroySocket(sock: net.Socket | undefined, reset = false): void {
  if (!sock || sock.destroyed) return;
  if (reset) {
    try {
      sock.resetAndDestroy();
      return;
    } catch {
      // not connected yet: a plain destroy
    }
  }
  sock.destroy();
}
