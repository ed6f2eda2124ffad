/**
 * connect: the original's check_connect — open a connection to the real's check port within
 * checktimeout and close it. TCP for tcp and fwm virtuals; for udp the original's ld_open_socket only
 * connect()s a datagram socket (which succeeds without sending anything), kept as is for the combined
 * checktype (plain connect on udp is dispatched to ping, as _check_real does).
 */
import { onAbort } from '../util/abort.js';
import { enterDeadline, patientTimeout, type DeadlineGroup, type DeadlineMember } from '../util/timer.js';
import dgram from 'node:dgram';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { connect, defaultConnectFactory, l4Status } from './net.js';
import { CheckError, errText, Trail } from './result.js';
import { hostPort } from './target.js';
import { tcpHandles, type TcpConnectReq, type TcpHandle, type TcpHandles } from './tcp-handle.js';
import type { CheckContext, CheckModule, CheckResult, CheckStatus, CheckTarget, ConnectFactory } from './types.js';

async function udpConnect(target: CheckTarget, sw: Trail): Promise<CheckResult> {
  const where = hostPort(target.ip, target.port);
  if (!(target.port > 0 && target.port < 65536)) return sw.down('l4-refused', `udp connect ${where}: no port`);
  const sock = dgram.createSocket(target.family === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.connect(target.port, target.ip, () => resolve());
    });
    return sw.up(`udp connect ${where}`);
  } catch (err) {
    return sw.down('l4-refused', `udp connect ${where}: ${errText(err)}`);
  } finally {
    sock.close();
  }
}

/** connectModule: TCP (or UDP-socket) connect check. */
export const connectModule: CheckModule = {
  name: 'connect',
  async run(target: CheckTarget, ctx: CheckContext): Promise<CheckResult> {
    const sw = new Trail();
    if (target.virtual.protocol === 'udp') return udpConnect(target, sw);
    const where = hostPort(target.ip, target.port);
    try {
      const sock = await connect({ host: target.ip, port: target.port, timeoutMs: ctx.timeoutMs, signal: ctx.signal, factory: ctx.connectFactory });
      sock.destroy(); // a plain close (FIN), as the original's close($sock)
      return sw.up(`connect ${where}`);
    } catch (err) {
      if (err instanceof CheckError) return sw.down(err.status, `connect ${where}: ${err.message.replace(/^connect: /, '')}`);
      return sw.down('internal', `connect ${where}: ${errText(err)}`);
    }
  },
};

/** A check's result, its duration counted from `started` (performance.now() at the check's start). */
function resultSince(started: number, ok: boolean, status: CheckStatus, message: string): CheckResult {
  return { ok, status, message, durationMs: Math.round(performance.now() - started) };
}

/**
 * tcpConnectCheck is connectModule's TCP check run under its checktimeout deadline (what runCheck does
 * for checktype=connect), with the same results and messages, at the least cost: it is the check most
 * daemons run for every real every interval. One socket, one timer and one listener on the caller's
 * signal (through onAbort: the cycle's signal has one per check in flight; on the bare handle, one of each
 * per group of checks started together, through enterDeadline); no AbortController, deadline or trail of
 * its own (bench/README.md: CPU per check).
 */
export function tcpConnectCheck(ip: string, port: number, timeoutMs: number, signal: AbortSignal, factory?: ConnectFactory): Promise<CheckResult> {
  const started = performance.now();
  const where = hostPort(ip, port);
  if (signal.aborted) return Promise.resolve(resultSince(started, false, 'l4-timeout', `connect ${where}: aborted before connect`));
  if (!(port > 0 && port < 65536)) return Promise.resolve(resultSince(started, false, 'l4-refused', `connect ${where}: no port to connect to (${port})`));
  // The binding checks its arguments by aborting the process: only an IP and an integer port go to it.
  const family = factory || !Number.isInteger(port) ? 0 : net.isIP(ip);
  const handles = family ? tcpHandles() : undefined;
  if (handles) return handleConnect(handles, ip, port, family, timeoutMs, signal, where, started);
  const result = (ok: boolean, status: CheckStatus, message: string): CheckResult => resultSince(started, ok, status, message);
  let sock: net.Socket;
  try {
    sock = (factory ?? defaultConnectFactory)({ host: ip, port, localAddress: undefined, noDelay: undefined });
  } catch (err) {
    // A bad argument throws before any socket exists.
    return Promise.resolve(result(false, 'internal', `connect ${where}: ${errText(err)}`));
  }
  return new Promise<CheckResult>((resolve) => {
    const finish = (r: CheckResult): void => {
      cancelTimer();
      offAbort();
      sock.removeListener('connect', onConnect);
      sock.removeListener('error', onError);
      sock.destroy(); // connected: a plain close (FIN), as the original's close($sock)
      resolve(r);
    };
    const onConnect = (): void => finish(result(true, 'ok', `connect ${where}`));
    const onError = (err: unknown): void => finish(result(false, l4Status(err), `connect ${where}: ${errText(err)}`));
    // The timeout and the caller's abort end the check alike (as connect's settleOn does).
    const onTimeout = (): void => finish(result(false, 'l4-timeout', `connect ${where}: timed out`));
    const cancelTimer = patientTimeout(onTimeout, timeoutMs);
    sock.once('connect', onConnect);
    sock.once('error', onError);
    const offAbort = onAbort(signal, onTimeout);
  });
}

/** A libuv error number as net names it in its errors (ECONNREFUSED, ETIMEDOUT...). */
function uvCode(status: number): string {
  try {
    return getSystemErrorName(status);
  } catch {
    return `errno ${status}`;
  }
}

/** A connect request that knows its check (onConnectComplete, called with the request as `this`, finds it there). */
interface CheckConnectReq extends TcpConnectReq {
  check?: HandleConnect;
}

/** The connect request's oncomplete, one function for every check: the binding calls it on the request. */
function onConnectComplete(this: CheckConnectReq, status: number): void {
  this.check?.complete(status);
}

/**
 * One connect check on a bare TCP handle: its state, and what the handle's completion and the shared
 * deadline call. An object with methods, so that a check in flight holds one object and its promise
 * instead of a closure and a context for each callback: 200 of them are in flight during each pass, and
 * a young-generation collection that comes then copies all of them (bench/README.md, stop 22: one object
 * per connect check).
 */
class HandleConnect implements DeadlineMember {
  private done = false;
  private group: DeadlineGroup | undefined;

  constructor(
    private readonly handle: TcpHandle,
    private readonly where: string,
    private readonly started: number,
    private readonly resolve: (r: CheckResult) => void,
  ) {}

  /** Starts the connect: every outcome, even a refusal now, resolves the check's promise. */
  start(req: CheckConnectReq, ip: string, port: number, family: number, timeoutMs: number, signal: AbortSignal): void {
    req.oncomplete = onConnectComplete;
    req.check = this;
    let err: number;
    try {
      err = family === 6 ? this.handle.connect6(req, ip, port) : this.handle.connect(req, ip, port);
    } catch (e) {
      // an argument the binding refuses (net.connect would throw too): the handle is closed, not left open
      return this.finish(false, 'internal', `connect ${this.where}: ${errText(e)}`);
    }
    if (err) return this.fail(err); // refused before any packet (no route, no address of that family...)
    // The timeout and the caller's abort, shared with the checks started at the same moment.
    this.group = enterDeadline(signal, timeoutMs, this);
  }

  complete(status: number): void {
    if (status === 0) this.finish(true, 'ok', `connect ${this.where}`);
    else this.fail(status);
  }

  expire(): void {
    this.finish(false, 'l4-timeout', `connect ${this.where}: timed out`);
  }

  private fail(status: number): void {
    const code = uvCode(status);
    this.finish(false, code === 'ETIMEDOUT' ? 'l4-timeout' : 'l4-refused', `connect ${this.where}: ${code}`);
  }

  /** Once finished, the handle is closed: a connect still pending completes with ECANCELED, unheard. */
  private finish(ok: boolean, status: CheckStatus, message: string): void {
    if (this.done) return;
    this.done = true;
    this.group?.leave(this);
    this.handle.close();
    this.resolve(resultSince(this.started, ok, status, message));
  }
}

/** Where `new Promise(takeResolve)` leaves its resolve function (one executor for every check, not a closure each). */
let resolveSlot: ((r: CheckResult) => void) | undefined;
const takeResolve = (resolve: (r: CheckResult) => void): void => {
  resolveSlot = resolve;
};

/**
 * tcpConnectCheck on a bare TCP handle (./tcp-handle.ts): the same system calls as net.connect for an IP
 * address, the same results and messages, without a stream around it.
 */
function handleConnect(h: TcpHandles, ip: string, port: number, family: number, timeoutMs: number, signal: AbortSignal, where: string, started: number): Promise<CheckResult> {
  const promise = new Promise<CheckResult>(takeResolve);
  const resolve = resolveSlot!;
  resolveSlot = undefined;
  new HandleConnect(h.newHandle(), where, started, resolve).start(h.newConnectReq(), ip, port, family, timeoutMs, signal);
  return promise;
}
