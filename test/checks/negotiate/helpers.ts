/** Test helpers of the negotiate checks: targets, contexts and small scripted servers on 127.0.0.1. */
import net from 'node:net';
import dgram from 'node:dgram';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RealServer, VirtualService } from '../../../src/model/config.js';
import type { CheckContext, CheckTarget } from '../../../src/checks/types.js';

export interface TargetOpts {
  ip?: string;
  port: number;
  protocol?: 'tcp' | 'udp' | 'fwm';
  request?: string;
  receive?: string;
  login?: string;
  passwd?: string;
  database?: string;
  secret?: string;
}

/** target builds a CheckTarget the way src/checks/target.ts would for these settings. */
export function target(o: TargetOpts): CheckTarget {
  const ip = o.ip ?? '127.0.0.1';
  const virtual = {
    protocol: o.protocol ?? 'tcp',
    family: ip.includes(':') ? 6 : 4,
    login: o.login ?? '',
    passwd: o.passwd ?? '',
    database: o.database ?? '',
    secret: o.secret ?? '',
    request: o.request ?? '',
    receive: o.receive ?? '',
  } as unknown as VirtualService;
  const real = { ip, port: o.port } as unknown as RealServer;
  return { virtual, real, ip, family: ip.includes(':') ? 6 : 4, port: o.port, request: o.request ?? '/', receive: o.receive ?? '', url: '' };
}

/** ctx: a check context with the given negotiate timeout. */
export function ctx(timeoutMs = 1500, signal: AbortSignal = new AbortController().signal): CheckContext {
  return { timeoutMs, signal, hostname: 'test.example' };
}

export interface Server {
  port: number;
  close(): Promise<void>;
}

/** tcpServer listens on 127.0.0.1:0 and hands each connection to `onConn`. */
export async function tcpServer(onConn: (s: net.Socket) => void, secure?: { key: string; cert: string }, host = '127.0.0.1'): Promise<Server> {
  const socks = new Set<net.Socket>();
  const handler = (s: net.Socket) => {
    socks.add(s);
    s.on('close', () => socks.delete(s));
    s.on('error', () => undefined);
    onConn(s);
  };
  const srv = secure ? tls.createServer(secure, handler) : net.createServer(handler);
  await new Promise<void>((r) => srv.listen(0, host, r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of socks) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** lineServer: greeting, then `answer(line)` for each received line (undefined = say nothing). */
export function lineServer(greeting: string | undefined, answer: (line: string, s: net.Socket) => string | undefined, secure?: { key: string; cert: string }, host = '127.0.0.1'): Promise<Server> {
  return tcpServer((s) => {
    if (greeting !== undefined) s.write(greeting);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        const out = answer(line, s);
        if (out !== undefined) s.write(out);
      }
    });
  }, secure, host);
}

/** silentServer accepts and never answers. */
export const silentServer = (secure?: { key: string; cert: string }) => tcpServer(() => undefined, secure);

/** dripServer sends `text` one byte every `everyMs` (slower than any timeout used here in total). */
export function dripServer(text: string, everyMs = 150): Promise<Server> {
  return tcpServer((s) => {
    let i = 0;
    const t = setInterval(() => {
      if (i >= text.length || s.destroyed) return clearInterval(t);
      s.write(text[i++]!);
    }, everyMs);
    s.on('close', () => clearInterval(t));
  });
}

/** floodServer sends `bytes` bytes of "A" without any line end. */
export function floodServer(bytes = 200_000, prefix = ''): Promise<Server> {
  return tcpServer((s) => {
    s.write(prefix);
    s.write(Buffer.alloc(bytes, 'A'));
  });
}

/** closedPort: a port nothing listens on (bound then released). */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** closedUdpPort: a UDP port nothing listens on. */
export async function closedUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface UdpServer {
  port: number;
  close(): Promise<void>;
}

/** udpServer answers each datagram with `answer(msg)` (undefined = silence). */
export async function udpServer(answer: (msg: Buffer) => Buffer | Buffer[] | undefined): Promise<UdpServer> {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, rinfo) => {
    const out = answer(msg);
    for (const b of out === undefined ? [] : Array.isArray(out) ? out : [out]) s.send(b, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return { port: s.address().port, close: () => new Promise<void>((r) => s.close(() => r())) };
}

let certCache: { key: string; cert: string } | undefined;
/** selfSigned: a throw-away self-signed certificate (openssl), or undefined without openssl. */
export function selfSigned(): { key: string; cert: string } | undefined {
  if (certCache) return certCache;
  try {
    const dir = mkdtempSync(join(tmpdir(), 'neg-cert-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=real.example', '-days', '2',
      '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    certCache = { key: readFileSync(join(dir, 'k.pem'), 'utf8'), cert: readFileSync(join(dir, 'c.pem'), 'utf8') };
    return certCache;
  } catch {
    return undefined;
  }
}
