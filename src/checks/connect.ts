/**
 * connect: the original's check_connect — open a connection to the real's check port within
 * checktimeout and close it. TCP for tcp and fwm virtuals; for udp the original's ld_open_socket only
 * connect()s a datagram socket (which succeeds without sending anything), kept as is for the combined
 * checktype (plain connect on udp is dispatched to ping, as _check_real does).
 */
import { onAbort } from '../util/abort.js';
import { joinDeadline, patientTimeout } from '../util/timer.js';
import dgram from 'node:dgram';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { connect, defaultConnectFactory, l4Status } from './net.js';
import { CheckError, errText, Trail } from './result.js';
import { hostPort } from './target.js';
import { tcpHandles, type TcpHandles } from './tcp-handle.js';
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

/** Builds a check's result, its duration counted from the check's start. */
type Result = (ok: boolean, status: CheckStatus, message: string) => CheckResult;

/**
 * tcpConnectCheck is connectModule's TCP check run under its checktimeout deadline (what runCheck does
 * for checktype=connect), with the same results and messages, at the least cost: it is the check most
 * daemons run for every real every interval. One socket, one timer and one listener on the caller's
 * signal (through onAbort: the cycle's signal has one per check in flight; on the bare handle, one of each
 * per group of checks started together, through joinDeadline); no AbortController, deadline or trail of
 * its own (bench/README.md: CPU per check).
 */
export function tcpConnectCheck(ip: string, port: number, timeoutMs: number, signal: AbortSignal, factory?: ConnectFactory): Promise<CheckResult> {
  const started = performance.now();
  const where = hostPort(ip, port);
  const result: Result = (ok, status, message) => ({ ok, status, message, durationMs: Math.round(performance.now() - started) });
  if (signal.aborted) return Promise.resolve(result(false, 'l4-timeout', `connect ${where}: aborted before connect`));
  if (!(port > 0 && port < 65536)) return Promise.resolve(result(false, 'l4-refused', `connect ${where}: no port to connect to (${port})`));
  // The binding checks its arguments by aborting the process: only an IP and an integer port go to it.
  const family = factory || !Number.isInteger(port) ? 0 : net.isIP(ip);
  const handles = family ? tcpHandles() : undefined;
  if (handles) return handleConnect(handles, ip, port, family, timeoutMs, signal, where, result);
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

/**
 * tcpConnectCheck on a bare TCP handle (./tcp-handle.ts): the same system calls as net.connect for an IP
 * address, the same results and messages, without a stream around it.
 */
function handleConnect(h: TcpHandles, ip: string, port: number, family: number, timeoutMs: number, signal: AbortSignal, where: string, result: Result): Promise<CheckResult> {
  const fail = (status: number): CheckResult => {
    const code = uvCode(status);
    return result(false, code === 'ETIMEDOUT' ? 'l4-timeout' : 'l4-refused', `connect ${where}: ${code}`);
  };
  return new Promise<CheckResult>((resolve) => {
    const handle = h.newHandle();
    const req = h.newConnectReq();
    let done = false;
    let leave = noop;
    // Once finished, the handle is closed: a connect still pending completes with ECANCELED, unheard.
    const finish = (r: CheckResult): void => {
      if (done) return;
      done = true;
      leave();
      handle.close();
      resolve(r);
    };
    req.oncomplete = (status: number): void => finish(status === 0 ? result(true, 'ok', `connect ${where}`) : fail(status));
    let err: number;
    try {
      err = family === 6 ? handle.connect6(req, ip, port) : handle.connect(req, ip, port);
    } catch (e) {
      // an argument the binding refuses (net.connect would throw too): the handle is closed, not left open
      return finish(result(false, 'internal', `connect ${where}: ${errText(e)}`));
    }
    if (err) return finish(fail(err)); // refused before any packet (no route, no address of that family...)
    // The timeout and the caller's abort, shared with the checks started at the same moment.
    leave = joinDeadline(signal, timeoutMs, () => finish(result(false, 'l4-timeout', `connect ${where}: timed out`)));
  });
}

const noop = (): void => {};
