/**
 * simpletcp: the original's check_simpletcp — connect to the check port, send the request minus its
 * first character (the "/" the parser adds) with every literal `\n` turned into a newline, half-close,
 * then read lines; up at the first line matching receive (as Perl matches `$_ =~ /$receive/`, the line
 * with its "\n"). EOF without a match = down. All under negotiatetimeout; lines and the total read are
 * capped. An empty receive (Perl would reuse the last successful pattern, unpredictable) matches any
 * line. On a udp virtual the original uses a datagram socket: the request is one datagram, replies are
 * read as lines until a match, an ICMP refusal, or the timeout (UDP has no end of stream).
 */
import { patientTimeout, patientTimeoutSignal } from '../util/timer.js';
import dgram from 'node:dgram';
import { perlSubject, translatePerlRegex } from '../util/perl-regex.js';
import { connect, destroySocket, halfClose, SocketReader, writeAll } from './net.js';
import { CheckError, errText, Trail } from './result.js';
import { hostPort } from './target.js';
import type { CheckContext, CheckModule, CheckResult, CheckTarget } from './types.js';

/** MAX_LINE_BYTES caps one line; a longer one is matched on its first MAX_LINE_BYTES bytes. */
export const MAX_LINE_BYTES = 64 * 1024;
/** MAX_TOTAL_BYTES caps everything read from the peer in one check. */
export const MAX_TOTAL_BYTES = 1024 * 1024;

/** simpletcpRequest: the bytes the original sends for a request= value. */
export function simpletcpRequest(request: string): string {
  return request.slice(1).replace(/\\n/g, '\n');
}

function udpCheck(target: CheckTarget, ctx: CheckContext, re: RegExp | undefined, sw: Trail): Promise<CheckResult> {
  const where = `udp ${hostPort(target.ip, target.port)}`;
  if (!(target.port > 0 && target.port < 65536)) return Promise.resolve(sw.down('l4-refused', `simpletcp ${where}: no port`));
  return new Promise((resolve) => {
    const sock = dgram.createSocket(target.family === 6 ? 'udp6' : 'udp4');
    let pending = Buffer.alloc(0);
    let lines = 0;
    let received = 0;
    let done = false;
    const finish = (r: CheckResult): void => {
      if (done) return;
      done = true;
      cancelTimer();
      ctx.signal.removeEventListener('abort', onAbort);
      sock.close();
      resolve(r);
    };
    const onAbort = (): void => finish(sw.down('l7-timeout', `simpletcp ${where}: ${lines} line(s), none matched in time`));
    const cancelTimer = patientTimeout(onAbort, Math.max(1, ctx.timeoutMs));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const test = (line: Buffer): boolean => {
      lines++;
      return re === undefined || re.test(perlSubject(line.subarray(0, MAX_LINE_BYTES)));
    };
    sock.on('error', (err) => finish(sw.down(lines ? 'l7-bad-response' : 'l4-refused', `simpletcp ${where}: ${errText(err)}`)));
    sock.on('message', (msg: Buffer) => {
      received += msg.length;
      pending = Buffer.concat([pending, msg]);
      let i;
      while ((i = pending.indexOf(0x0a)) >= 0) {
        const line = pending.subarray(0, i + 1);
        pending = pending.subarray(i + 1);
        if (test(line)) return finish(sw.up(`simpletcp ${where}: line ${lines} matched`));
      }
      if (received > MAX_TOTAL_BYTES) finish(sw.down('l7-no-match', `simpletcp ${where}: no line matched in the first ${MAX_TOTAL_BYTES} bytes`));
    });
    sock.connect(target.port, target.ip, () => {
      const req = Buffer.from(simpletcpRequest(target.request), 'utf8');
      if (req.length > 0) sock.send(req);
    });
  });
}

export const simpletcpModule: CheckModule = {
  name: 'simpletcp',
  async run(target: CheckTarget, ctx: CheckContext): Promise<CheckResult> {
    const sw = new Trail();
    const where = hostPort(target.ip, target.port);
    let re: RegExp | undefined;
    try {
      re = target.receive === '' ? undefined : translatePerlRegex(target.receive);
    } catch (err) {
      return sw.down('internal', `simpletcp ${where}: ${(err as Error).message}`);
    }
    if (target.virtual.protocol === 'udp') return udpCheck(target, ctx, re, sw);
    // The whole exchange ends at the check's own (patient) deadline; each step's timer only backs it up.
    const step = Math.max(1, ctx.timeoutMs);
    const own = patientTimeoutSignal(step);
    const signal = AbortSignal.any([ctx.signal, own.signal]);
    let sock;
    try {
      sock = await connect({ host: target.ip, port: target.port, timeoutMs: step, signal, factory: ctx.connectFactory });
    } catch (err) {
      own.cancel();
      const e = err instanceof CheckError ? err : new CheckError('internal', errText(err));
      return sw.down(e.status, `simpletcp ${where}: ${e.message}`);
    }
    const reader = new SocketReader(sock);
    let lines = 0;
    try {
      const req = simpletcpRequest(target.request);
      if (req.length > 0) await writeAll(sock, Buffer.from(req, 'utf8'));
      halfClose(sock);
      for (;;) {
        if (reader.received > MAX_TOTAL_BYTES) {
          return sw.down('l7-no-match', `simpletcp ${where}: no line matched in the first ${MAX_TOTAL_BYTES} bytes`);
        }
        const r = await reader.readLine({ timeoutMs: step, signal, maxBytes: MAX_LINE_BYTES });
        if (r.data.length === 0 && r.ended) break;
        lines++;
        if (re === undefined || re.test(perlSubject(r.data))) {
          return sw.up(`simpletcp ${where}: line ${lines} matched`);
        }
        if (r.capped) {
          // Skip the rest of an over-long line.
          for (;;) {
            const rest = await reader.readLine({ timeoutMs: step, signal, maxBytes: MAX_LINE_BYTES });
            if (rest.matched || rest.ended || reader.received > MAX_TOTAL_BYTES) break;
          }
        }
        if (r.ended) break;
      }
      return sw.down('l7-no-match', `simpletcp ${where}: ${lines} line(s) received, none matched`);
    } catch (err) {
      const e = err instanceof CheckError ? err : new CheckError('l7-bad-response', errText(err));
      return sw.down(e.status, `simpletcp ${where}: ${lines} line(s); ${e.message}`);
    } finally {
      own.cancel();
      destroySocket(sock);
    }
  },
};
