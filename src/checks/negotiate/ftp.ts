/**
 * ftp (check_ftp, Net::FTP): greeting 2xx, USER (PASS on 3xx), CWD /, TYPE I, passive mode, RETR of the
 * request path; up iff the retrieved content matches receive. The login defaults (anonymous,
 * ldirectord@<hostname>) are applied by the config parser, as the original applies them when reading.
 *
 * Deviations, on purpose: the original ignores every error and matches whatever was retrieved (so an
 * empty or always-matching receive made a dead server look up). Here a failed connect, greeting, login,
 * passive set-up or RETR is down with its reason; CWD and TYPE failures are still ignored. With an empty
 * receive the check is up iff the file was retrieved. The data connection always goes to the real's own
 * address (the port from PASV, or EPSV for IPv6 as Net::FTP does), never to an address the server names.
 */
import type { CheckModule, CheckTarget, CheckContext, CheckResult } from '../types.js';
import { CheckError } from '../result.js';
import { MAX_BODY_BYTES, connectStep, receiveMatches, receiveRegex } from './common.js';
import { runLineScript, type LineIo, type LineScript } from './line-script.js';

/** parsePassivePort extracts the data port from a 227 (PASV) or 229 (EPSV) reply; undefined if absent. */
export function parsePassivePort(reply: string): number | undefined {
  const epsv = /\(([\x21-\x7e])\1\1(\d+)\1\)/.exec(reply);
  if (epsv) return Number(epsv[2]);
  const pasv = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(reply);
  if (pasv) return Number(pasv[5]) * 256 + Number(pasv[6]);
  return undefined;
}

/** readAll reads a data connection to its end, failing past `cap` bytes. */
function readAll(sock: import('node:net').Socket, signal: AbortSignal, cap: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onAbort = () => {
      sock.destroy();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('data', (c: Buffer) => {
      size += c.length;
      if (size > cap) {
        signal.removeEventListener('abort', onAbort);
        sock.destroy();
        reject(new CheckError('l7-bad-response', `data: file larger than ${cap} bytes`));
        return;
      }
      chunks.push(c);
    });
    sock.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(new CheckError('l7-bad-response', `data: ${err.message}`));
    });
    sock.once('end', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** retrieve is the passive-mode RETR: it stores the file's bytes in `out.content`. */
async function retrieve(io: LineIo, out: { content?: Buffer }): Promise<void> {
  const v6 = io.target.family === 6;
  io.send(v6 ? 'EPSV' : 'PASV');
  const pasv = await io.reader.reply(v6 ? 'EPSV' : 'PASV', 'coded');
  const port = /^2\d\d/.test(pasv.last) ? parsePassivePort(pasv.lines.join(' ')) : undefined;
  if (port === undefined || port < 1 || port > 65535) {
    throw new CheckError('l7-bad-status', `${v6 ? 'EPSV' : 'PASV'}: unexpected ${JSON.stringify(pasv.last)}`);
  }
  io.trail.add(`${v6 ? 'EPSV' : 'PASV'}: data port ${port}`);
  // Net::FTP sends the command first, then opens the data connection, then wants a 1xx.
  io.send(`RETR ${io.target.request}`);
  const dataTrail = { add: (s: string) => io.trail.add(`data ${s}`), connected: false };
  const data = await connectStep(io.target.ip, port, dataTrail, io.signal, { factory: io.connectFactory }).catch((err: unknown) => {
    throw err instanceof CheckError ? err : new CheckError('l7-bad-response', `data connection: ${String((err as Error).message ?? err)}`);
  });
  const body = readAll(data, io.signal, MAX_BODY_BYTES);
  body.catch(() => undefined);
  const prelim = await io.reader.reply('RETR', 'coded');
  if (!/^1\d\d/.test(prelim.last)) {
    data.destroy();
    throw new CheckError('l7-bad-status', `RETR: unexpected ${JSON.stringify(prelim.last)}`);
  }
  io.trail.add(`RETR: ${prelim.last}`);
  out.content = await body;
  // The transfer-complete reply (226) decides nothing in the original (errors are ignored once the
  // content is there), so it is not waited for.
  io.trail.add(`retrieved ${out.content.length} bytes`);
}

/** ftpScript builds the step list; `out.content` receives the retrieved file. */
export function ftpScript(login: string, passwd: string, out: { content?: Buffer }): LineScript {
  return {
    steps: [
      { op: 'expect', label: 'greeting', framing: 'coded', ok: /^2\d\d/ },
      { op: 'send', line: `USER ${login}` },
      {
        op: 'expect',
        label: 'USER',
        framing: 'coded',
        ok: /^2\d\d/,
        orElse: {
          when: /^3\d\d/,
          steps: [
            { op: 'send', line: `PASS ${passwd}`, shown: 'PASS ****' },
            { op: 'expect', label: 'PASS', framing: 'coded', ok: /^2\d\d/ },
          ],
        },
      },
      { op: 'send', line: 'CWD /' },
      { op: 'expect', label: 'CWD', framing: 'coded', ok: /^2\d\d/, soft: true },
      { op: 'send', line: 'TYPE I' },
      { op: 'expect', label: 'TYPE', framing: 'coded', ok: /^2\d\d/, soft: true },
      { op: 'custom', label: 'RETR', run: (io) => retrieve(io, out) },
      { op: 'bye', line: 'QUIT' },
    ],
  };
}

/** ftp negotiate check. */
export const ftp: CheckModule = {
  name: 'ftp',
  async run(target: CheckTarget, ctx: CheckContext): Promise<CheckResult> {
    const out: { content?: Buffer } = {};
    const res = await runLineScript(ftpScript(target.virtual.login, target.virtual.passwd, out), target, ctx);
    if (!res.ok || out.content === undefined) return res;
    if (target.receive === '') return res;
    let re: RegExp;
    try {
      re = receiveRegex(target.receive);
    } catch (err) {
      return { ...res, ok: false, status: 'internal', message: `${res.message}; ${(err as Error).message}` };
    }
    return receiveMatches(re, out.content)
      ? { ...res, message: `${res.message}; receive matched` }
      : { ...res, ok: false, status: 'l7-no-match', message: `${res.message}; receive ${JSON.stringify(target.receive)} did not match` };
  },
};
