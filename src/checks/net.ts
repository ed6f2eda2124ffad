/**
 * Small TCP/TLS helpers for checks: connect with a timeout and an AbortSignal, read until a predicate
 * holds with a byte cap, half-close, TLS without certificate or name verification (the original's
 * behaviour: reals are addressed by IP). Every failure becomes a NetError carrying a CheckStatus.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { CheckStatus } from './types.js';

/** NetError: a network failure with the layer status a check reports. */
export class NetError extends Error {
  constructor(
    readonly status: CheckStatus,
    message: string,
  ) {
    super(message);
    this.name = 'NetError';
  }
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Source address to bind (optional). */
  readonly localAddress?: string;
}

export interface TlsConnectOptions extends ConnectOptions {
  /** SNI name; none by default (an IP is not a valid SNI name). */
  readonly servername?: string;
  /** Extra node:tls options (ALPN...). Certificate verification stays off unless rejectUnauthorized is set. */
  readonly tlsOptions?: tls.ConnectionOptions;
}

function describeErr(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code}` : e instanceof Error ? e.message : String(err);
}

function l4Status(err: unknown): CheckStatus {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ETIMEDOUT') return 'l4-timeout';
  return 'l4-refused';
}

/**
 * settleOn waits for `event` on `sock` within timeoutMs, or until the signal aborts. It resolves with the
 * socket, or destroys it (and `also`, the socket under it) and rejects with the NetError made by
 * `failed` (for an error) or `timedOut`. Every listener and the timer are gone once it has settled.
 */
function settleOn<S extends net.Socket>(
  sock: S,
  event: 'connect' | 'secureConnect',
  o: { timeoutMs: number; signal?: AbortSignal; failed: (err: unknown) => NetError; timedOut: () => NetError; also?: net.Socket },
): Promise<S> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: NetError): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
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
    const timer = setTimeout(onAbort, Math.max(0, o.timeoutMs));
    sock.once('error', onError);
    sock.once(event, onOk);
    o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * connectTcp opens a TCP connection or rejects with a NetError (l4-refused; l4-timeout at the timeout or
 * an abort). The socket is destroyed on every failure path; on success the caller owns it.
 */
export function connectTcp(opts: ConnectOptions): Promise<net.Socket> {
  if (opts.signal?.aborted) return Promise.reject(new NetError('l4-timeout', 'aborted before connect'));
  if (!(opts.port > 0 && opts.port < 65536)) {
    return Promise.reject(new NetError('l4-refused', `no port to connect to (${opts.port})`));
  }
  let sock: net.Socket;
  try {
    sock = net.connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress });
  } catch (err) {
    return Promise.reject(err); // a bad argument (e.g. localAddress) throws before any socket exists
  }
  return settleOn(sock, 'connect', {
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
    failed: (err) => new NetError(l4Status(err), `connect: ${describeErr(err)}`),
    timedOut: () => new NetError('l4-timeout', 'connect: timed out'),
  });
}

/**
 * connectTls: TCP connect then a TLS handshake (both within timeoutMs), certificates not verified.
 * Handshake failures reject with status 'tls'.
 */
export async function connectTls(opts: TlsConnectOptions): Promise<tls.TLSSocket> {
  const started = Date.now();
  const raw = await connectTcp(opts);
  const s = tls.connect({
    rejectUnauthorized: false,
    ...opts.tlsOptions,
    socket: raw,
    servername: opts.servername && net.isIP(opts.servername) === 0 ? opts.servername : undefined,
  });
  return settleOn(s, 'secureConnect', {
    timeoutMs: opts.timeoutMs - (Date.now() - started),
    signal: opts.signal,
    failed: (err) => new NetError('tls', `tls: ${describeErr(err)}`),
    timedOut: () => new NetError('l7-timeout', 'tls: handshake timed out'),
    also: raw,
  });
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
   * or abort rejects with NetError('l7-timeout'), a socket error with NetError('l7-bad-response').
   * Pauses the socket while the buffer is at the cap, so an endless sender costs nothing.
   */
  readUntil(done: (data: Buffer) => boolean | number, opts: ReadOptions): Promise<ReadResult> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        this.wake = undefined;
        if (timer) clearTimeout(timer);
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
          reject(new NetError('l7-bad-response', `read: ${describeErr(this.error)}`));
          return;
        }
        if (this.ended) {
          cleanup();
          resolve({ data: take(this.buf.length), matched: false, ended: true, capped: false });
        }
      };
      const onAbort = (): void => {
        cleanup();
        reject(new NetError('l7-timeout', `read: timed out after ${this.received} bytes`));
      };
      if (opts.signal?.aborted) {
        onAbort();
        return;
      }
      timer = setTimeout(onAbort, Math.max(0, opts.timeoutMs));
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
    sock.write(data, (err) => (err ? reject(new NetError('l7-bad-response', `write: ${describeErr(err)}`)) : resolve()));
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
