/**
 * connect: the original's check_connect — open a connection to the real's check port within
 * checktimeout and close it. TCP for tcp and fwm virtuals; for udp the original's ld_open_socket only
 * connect()s a datagram socket (which succeeds without sending anything), kept as is for the combined
 * checktype (plain connect on udp is dispatched to ping, as _check_real does).
 */
import dgram from 'node:dgram';
import { connect } from './net.js';
import { CheckError, errText, Trail } from './result.js';
import { hostPort } from './target.js';
import type { CheckContext, CheckModule, CheckResult, CheckTarget } from './types.js';

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
