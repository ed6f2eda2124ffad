/**
 * sip (check_sip): an OPTIONS request for sip:<login> built exactly as the original builds it, over UDP
 * when the virtual is udp and TCP otherwise (the Via always says UDP, as in the original); the reply is
 * read line by line up to the first empty line, and its first line must start with "SIP/2.0 200 OK".
 * The original also printed request and reply on stdout; we do not.
 */
import type net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { CheckModule, CheckTarget, CheckContext, CheckResult, ConnectFactory } from '../types.js';
import { CheckError, type Trail } from '../result.js';
import { hostPort } from '../target.js';
import { MAX_REPLY_BYTES, connectStep, runNegotiation, udpExchange } from './common.js';

/** sipOptionsRequest renders the original's OPTIONS request (local address/port go into the Via). */
export function sipOptionsRequest(login: string, localIp: string, localPort: number, callId = randomBytes(8).toString('hex')): string {
  return (
    `OPTIONS sip:${login} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP ${localIp}:${localPort};branch=z9hG4bKhjhs8ass877\r\n` +
    'Max-Forwards: 70\r\n' +
    `To: <sip:${login}>\r\n` +
    `From: <sip:${login}>;tag=1928301774\r\n` +
    `Call-ID: ${callId}\r\n` +
    'CSeq: 63104 OPTIONS\r\n' +
    `Contact: <sip:${login}>\r\n` +
    'Accept: application/sdp\r\n' +
    'Content-Length: 0\r\n\r\n'
  );
}

/**
 * SipReplyParser consumes reply bytes and decides as the original's read loop: lines up to the first
 * empty one; the first must start "SIP/2.0 200 OK".
 */
export class SipReplyParser {
  private pending = '';
  private total = 0;
  status: string | undefined;
  /** done: an empty line was seen (the loop's `last`). */
  done = false;

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.total > MAX_REPLY_BYTES) throw new CheckError('l7-bad-response', `reply longer than ${MAX_REPLY_BYTES} bytes`);
    this.pending += chunk.toString('latin1');
    let nl: number;
    while (!this.done && (nl = this.pending.indexOf('\n')) >= 0) {
      this.line(this.pending.slice(0, nl));
      this.pending = this.pending.slice(nl + 1);
    }
  }

  /** end: the stream ended; a last unterminated line still counts. */
  end(): void {
    if (!this.done && this.pending !== '') this.line(this.pending);
    this.pending = '';
  }

  private line(raw: string): void {
    const l = raw.replace(/\r$/, '');
    if (l === '') {
      this.done = true;
      return;
    }
    if (this.status === undefined) {
      this.status = l;
      if (!/^SIP\/2.0 200 OK/.test(l)) throw new CheckError('l7-bad-status', `status ${JSON.stringify(l.slice(0, 120))}`);
    }
  }
}

function verdict(p: SipReplyParser, trail: Trail): CheckResult {
  if (p.status === undefined) return trail.down('l7-bad-response', 'no status line');
  return trail.up(p.status);
}

async function overTcp(target: CheckTarget, login: string, trail: Trail, signal: AbortSignal, factory?: ConnectFactory): Promise<CheckResult> {
  const sock: net.Socket = await connectStep(target.ip, target.port, trail, signal, { factory });
  try {
    const request = sipOptionsRequest(login, sock.localAddress ?? '', sock.localPort ?? 0);
    trail.add(`OPTIONS sip:${login}`);
    sock.write(request);
    const p = new SipReplyParser();
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const stop = (err?: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      sock.on('data', (c: Buffer) => {
        try {
          p.push(c);
          if (p.done) stop();
        } catch (err) {
          stop(err);
        }
      });
      sock.on('end', () => {
        try {
          p.end();
          stop();
        } catch (err) {
          stop(err);
        }
      });
      sock.on('error', (err) => stop(new CheckError('l7-bad-response', `read: ${err.message}`)));
    });
    return verdict(p, trail);
  } finally {
    sock.destroy();
  }
}

function overUdp(target: CheckTarget, login: string, trail: Trail, signal: AbortSignal): Promise<CheckResult> {
  trail.add(`udp ${hostPort(target.ip, target.port)}`);
  const p = new SipReplyParser();
  return udpExchange(target, trail, signal, {
    request: (local) => {
      trail.add(`OPTIONS sip:${login}`);
      return sipOptionsRequest(login, local.address, local.port);
    },
    onMessage: (msg) => {
      p.push(msg);
      return p.done ? verdict(p, trail) : undefined;
    },
  });
}

/** sip negotiate check. */
export const sip: CheckModule = {
  name: 'sip',
  run(target: CheckTarget, ctx: CheckContext): Promise<CheckResult> {
    return runNegotiation(ctx, (trail, signal) =>
      target.virtual.protocol === 'udp'
        ? overUdp(target, target.virtual.login, trail, signal)
        : overTcp(target, target.virtual.login, trail, signal, ctx.connectFactory),
    );
  },
};
