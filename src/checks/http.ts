/**
 * http, https, http_proxy: the original's check_http (LWP::UserAgent).
 *
 * - method httpmethod, URL from checkTarget (ld_setup's rules), one fresh connection per request;
 * - Host header = virtualhost, else the real's address as the original writes it (`[v6]` bracketed);
 *   http_proxy sends the absolute URL to the real at its check port, with the URL's own Host;
 * - redirects followed as LWP does for GET/HEAD (301/302/303/307/308, at most 7, Host dropped);
 * - up iff the final status is 2xx and receive is empty (or only newlines) or matches the body, as
 *   Perl matches it (translatePerlRegex on the body's bytes);
 * - the whole exchange runs under negotiatetimeout; the body read is capped (MAX_HTTP_BODY_BYTES);
 * - TLS without certificate or name verification (project decision: reals are addressed by IP).
 */
import { STATUS_CODES } from 'node:http';
import type net from 'node:net';
import type { Client as UndiciClient } from 'undici';
import { perlSubject, translatePerlRegex } from '../util/perl-regex.js';
import { patientTimeoutSignal } from '../util/timer.js';
import { connect } from './net.js';
import { CheckError, errText, Trail } from './result.js';
import { hostPort, serverString } from './target.js';
import type { CheckContext, CheckModule, CheckResult, CheckStatus, CheckTarget, ConnectFactory } from './types.js';

/** undici is loaded on the first HTTP check (it costs ~20 MB of RSS that a daemon without HTTP checks need not pay). */
let undiciLoad: Promise<typeof import('undici')> | undefined;
const loadUndici = (): Promise<typeof import('undici')> => (undiciLoad ??= import('undici'));

/** MAX_HTTP_BODY_BYTES caps the body read for the receive match (LWP has no cap; a real answering endlessly must not cost memory). */
export const MAX_HTTP_BODY_BYTES = 1024 * 1024;
/** LWP's default max_redirect. */
export const MAX_REDIRECTS = 7;
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'libwww-perl/6.68';

interface Exchange {
  readonly statusCode: number;
  readonly location?: string;
  readonly body: Buffer;
  readonly capped: boolean;
}

/** Tracks whether a TCP connection was made, to tell l4 from l7 timeouts; and how connections are opened. */
interface Stage {
  connected: boolean;
  readonly factory?: ConnectFactory;
}

async function exchange(
  url: URL,
  method: string,
  headers: Record<string, string>,
  proxy: { ip: string; port: number } | undefined,
  signal: AbortSignal,
  timeoutMs: number,
  stage: Stage,
): Promise<Exchange> {
  const tlsWanted = !proxy && url.protocol === 'https:';
  const host = proxy ? proxy.ip : url.hostname.replace(/^\[|\]$/g, '');
  const port = proxy ? proxy.port : Number(url.port || (tlsWanted ? 443 : 80));
  const origin = `${tlsWanted ? 'https' : 'http'}://${hostPort(host, port)}`;
  const connector = (_opts: unknown, cb: (err: Error | null, sock: net.Socket | null) => void): void => {
    const servername = headers.host?.replace(/:\d+$/, '').replace(/^\[.*\]$/, '');
    const p = connect({ host, port, timeoutMs, signal, tls: tlsWanted ? { servername } : undefined, factory: stage.factory });
    p.then(
      (s) => {
        stage.connected = true;
        cb(null, s);
      },
      (err: unknown) => cb(err as Error, null),
    );
  };
  const { Client } = await loadUndici();
  const client: UndiciClient = new Client(origin, {
    connect: connector as never,
    // The whole exchange ends at the check's own (patient) deadline, `signal`; these only back it up.
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 1,
    pipelining: 1,
  });
  try {
    const res = await client.request({
      path: proxy ? url.href : `${url.pathname}${url.search}`,
      method: method as 'GET',
      headers,
      signal,
    });
    const chunks: Buffer[] = [];
    let total = 0;
    let capped = false;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      const room = MAX_HTTP_BODY_BYTES - total;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      total += Math.min(chunk.length, room);
      if (total >= MAX_HTTP_BODY_BYTES) {
        capped = true;
        break;
      }
    }
    if (capped) res.body.destroy();
    const loc = res.headers.location;
    return {
      statusCode: res.statusCode,
      location: Array.isArray(loc) ? loc[0] : loc,
      body: Buffer.concat(chunks),
      capped,
    };
  } finally {
    client.destroy().catch(() => {});
  }
}

/** classify: the layer and text of an exchange that threw (a connect failure keeps its CheckError's). */
function classify(err: unknown, stage: Stage, timedOut: boolean): { status: CheckStatus; message: string } {
  const timeout = (): CheckStatus => (stage.connected ? 'l7-timeout' : 'l4-timeout');
  if (err instanceof CheckError) {
    return { status: err.status === 'l7-timeout' || err.status === 'l4-timeout' ? timeout() : err.status, message: err.message };
  }
  if (timedOut) return { status: timeout(), message: 'timed out' };
  const code = (err as { code?: string })?.code ?? '';
  if (/TIMEOUT/.test(code)) return { status: timeout(), message: 'timed out' };
  const text = errText(err);
  if (/SSL|TLS|CERT/i.test(text) && !stage.connected) return { status: 'tls', message: text };
  return { status: stage.connected ? 'l7-bad-response' : 'l4-refused', message: text };
}

function statusLine(code: number): string {
  return `${code} ${STATUS_CODES[code] ?? ''}`.trim();
}

/** httpModule serves http, https and http_proxy (the service comes from the target's virtual). */
export const httpModule: CheckModule = {
  name: 'http',
  async run(target: CheckTarget, ctx: CheckContext): Promise<CheckResult> {
    const trail = new Trail();
    const v = target.virtual;
    const isProxy = v.service === 'http_proxy';
    let url: URL;
    try {
      url = new URL(target.url);
    } catch {
      return trail.down('l7-bad-response', `${v.service} ${target.url}: invalid URL`);
    }
    const own = patientTimeoutSignal(Math.max(1, ctx.timeoutMs));
    const signal = AbortSignal.any([ctx.signal, own.signal]);
    let hostHeader: string | undefined = isProxy ? undefined : (v.virtualhost ?? serverString(target.real.ip, target.real.family));
    const stage: Stage = { connected: false, factory: ctx.connectFactory };
    try {
      for (let hop = 0; ; hop++) {
        if (url.protocol !== 'http:' && url.protocol !== 'https:') {
          return trail.down('l7-bad-response', `${url.href}: protocol ${url.protocol} not supported`);
        }
        const viaProxy = isProxy && url.protocol === 'http:' ? { ip: target.ip, port: target.port } : undefined;
        // LWP sends "Connection: TE, close": one request per connection.
        const headers: Record<string, string> = { 'user-agent': USER_AGENT, connection: 'close' };
        headers.host = hostHeader ?? url.host;
        stage.connected = false;
        const res = await exchange(url, v.httpmethod, headers, viaProxy, signal, Math.max(1, ctx.timeoutMs), stage);
        trail.add(`${v.httpmethod} ${url.href}${viaProxy ? ` via ${hostPort(viaProxy.ip, viaProxy.port)}` : ''}: ${statusLine(res.statusCode)}`);
        if (REDIRECT_CODES.has(res.statusCode) && res.location !== undefined && hop < MAX_REDIRECTS) {
          url = new URL(res.location, url);
          hostHeader = undefined; // LWP drops the Host header of a redirected request
          continue;
        }
        if (res.statusCode < 200 || res.statusCode > 299) {
          return trail.down('l7-bad-status');
        }
        const receive = target.receive;
        if (!/[^\n]/.test(receive)) return trail.up();
        let re: RegExp;
        try {
          re = translatePerlRegex(receive);
        } catch (err) {
          return trail.down('internal', (err as Error).message);
        }
        const n = `${res.body.length}${res.capped ? ' (capped)' : ''} bytes`;
        if (re.test(perlSubject(res.body))) return trail.up(`receive matched in ${n}`);
        return trail.down('l7-no-match', `receive not matched in ${n}`);
      }
    } catch (err) {
      const f = classify(err, stage, own.signal.aborted || ctx.signal.aborted);
      return trail.down(f.status, `${v.httpmethod} ${url.href}: ${f.message}`);
    } finally {
      own.cancel();
    }
  },
};
