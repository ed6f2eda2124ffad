/**
 * http, https (self-signed certificate made by openssl in the test), http_proxy against node:http(s)
 * servers on 127.0.0.1 / [::1]: up, down, wrong status, wrong body, timeout, slow drip, oversized body,
 * redirects, Host header.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpModule, MAX_HTTP_BODY_BYTES } from '../../src/checks/http.js';
import { checkTarget } from '../../src/checks/target.js';
import type { CheckContext, CheckResult } from '../../src/checks/types.js';
import type { VirtualService } from '../../src/model/config.js';
import { closedPort, makeReal, makeVirtual } from './helpers.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers) await c();
});

async function serve(handler: Handler, host = '127.0.0.1', tlsOpts?: https.ServerOptions): Promise<number> {
  const server = tlsOpts ? https.createServer(tlsOpts, handler) : http.createServer(handler);
  const sockets = new Set<net.Socket>();
  server.on(tlsOpts ? 'secureConnection' : 'connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((res) => server.listen(0, host, res));
  closers.push(
    () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

function ctx(timeoutMs = 2000): CheckContext {
  return { timeoutMs, signal: new AbortController().signal, hostname: 'director' };
}

function check(port: number, v: Partial<VirtualService> = {}, ip = '127.0.0.1', timeoutMs = 2000): Promise<CheckResult> {
  const virtual = makeVirtual({ service: 'http', checktype: 'negotiate', request: '/health', receive: 'alive', ...v });
  return httpModule.run(checkTarget(virtual, makeReal({ ip, port })), ctx(timeoutMs));
}

describe('http', () => {
  it('up: 2xx and the receive pattern matches; Host = real address; GET path from request', async () => {
    let seen: http.IncomingHttpHeaders = {};
    let path = '';
    const port = await serve((req, res) => {
      seen = req.headers;
      path = req.url ?? '';
      res.end('I am alive\n');
    });
    const r = await check(port);
    expect(r).toMatchObject({ ok: true, status: 'ok' });
    expect(seen.host).toBe('127.0.0.1');
    expect(path).toBe('/health');
  });

  it('virtualhost is the Host header; HEAD is used when httpmethod=HEAD', async () => {
    let seen = '';
    let method = '';
    const port = await serve((req, res) => {
      seen = req.headers.host ?? '';
      method = req.method ?? '';
      res.end('alive');
    });
    const r = await check(port, { virtualhost: 'www.example.com', httpmethod: 'HEAD', receive: '' });
    expect(r.ok).toBe(true);
    expect(seen).toBe('www.example.com');
    expect(method).toBe('HEAD');
    // HEAD has no body: a receive pattern cannot match (as the original)
    expect((await check(port, { httpmethod: 'HEAD', receive: 'alive' })).status).toBe('l7-no-match');
  });

  it('IPv6 real: the Host header is the bracketed address', async () => {
    let seen = '';
    const port = await serve((req, res) => {
      seen = req.headers.host ?? '';
      res.end('alive');
    }, '::1').catch(() => 0);
    if (!port) return console.warn('no IPv6 loopback: skipping');
    expect((await check(port, {}, '::1')).ok).toBe(true);
    expect(seen).toBe('[::1]');
  });

  it('down: closed port is l4-refused', async () => {
    expect(await check(await closedPort())).toMatchObject({ ok: false, status: 'l4-refused' });
  });

  it('wrong status and wrong body', async () => {
    const port = await serve((req, res) => {
      if (req.url === '/health') {
        res.statusCode = 503;
        res.end('alive but failing');
      } else res.end('dead');
    });
    expect(await check(port)).toMatchObject({ ok: false, status: 'l7-bad-status' });
    expect(await check(port, { request: '/other' })).toMatchObject({ ok: false, status: 'l7-no-match' });
    // a receive of only newlines counts as empty in the original (/.+/ does not match it)
    expect((await check(port, { request: '/other', receive: '\n' })).ok).toBe(true);
  });

  it('receive is a Perl pattern: (?i) and $ before a final newline', async () => {
    const port = await serve((_req, res) => res.end('Status: ALIVE\n'));
    expect((await check(port, { receive: '(?i)status: alive$' })).ok).toBe(true);
    expect((await check(port, { receive: 'status: alive$' })).ok).toBe(false);
  });

  it('timeout: accepts and never answers', async () => {
    const port = await serve(() => {});
    const r = await check(port, {}, '127.0.0.1', 300);
    expect(r).toMatchObject({ ok: false, status: 'l7-timeout' });
    expect(r.durationMs).toBeLessThan(2000);
  });

  it('slow drip: headers then one byte at a time past the timeout', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200);
      const t = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(t));
    });
    expect(await check(port, {}, '127.0.0.1', 400)).toMatchObject({ ok: false, status: 'l7-timeout' });
  });

  it('oversized body: read up to the cap, matched within it, never buffered whole', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const port = await serve((req, res) => {
      res.writeHead(200);
      if (req.url === '/health') res.write('alive ');
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const up = await check(port, {}, '127.0.0.1', 5000);
    expect(up.ok).toBe(true);
    expect(up.message).toContain(`${MAX_HTTP_BODY_BYTES} (capped)`);
    const down = await check(port, { request: '/x' }, '127.0.0.1', 5000);
    expect(down).toMatchObject({ ok: false, status: 'l7-no-match' });
  });

  it('follows redirects like LWP (Host header dropped), gives up after 7', async () => {
    const hosts: string[] = [];
    const port = await serve((req, res) => {
      hosts.push(req.headers.host ?? '');
      if (req.url === '/health') res.writeHead(302, { location: '/final' }).end();
      else if (req.url === '/final') res.end('alive');
      else res.writeHead(301, { location: '/loop' }).end();
    });
    expect((await check(port, { virtualhost: 'vh.example' })).ok).toBe(true);
    expect(hosts).toEqual(['vh.example', `127.0.0.1:${port}`]);
    const loop = await check(port, { request: '/loop' });
    expect(loop).toMatchObject({ ok: false, status: 'l7-bad-status' });
    // Counted by status line: the server's port may contain "301" too.
    expect(loop.message.match(/: 301 Moved Permanently/g)?.length).toBe(8);
  });
});

const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
if (!haveOpenssl) console.warn('openssl CLI not installed: skipping https tests');

describe.skipIf(!haveOpenssl)('https', () => {
  let key = '';
  let cert = '';
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'ldir-https-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=not-the-ip.example',
      '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'),
    ], { stdio: 'ignore' });
    key = readFileSync(join(dir, 'k.pem'), 'utf8');
    cert = readFileSync(join(dir, 'c.pem'), 'utf8');
    rmSync(dir, { recursive: true });
  });

  it('up with a self-signed certificate for another name (not verified)', async () => {
    const port = await serve((_req, res) => res.end('alive'), '127.0.0.1', { key, cert });
    const r = await check(port, { service: 'https' });
    expect(r).toMatchObject({ ok: true, status: 'ok' });
    expect(r.message).toContain(`https://127.0.0.1:${port}/health`);
  });

  it('wrong body and timeout over TLS', async () => {
    const port = await serve((_req, res) => res.end('nope'), '127.0.0.1', { key, cert });
    expect(await check(port, { service: 'https' })).toMatchObject({ ok: false, status: 'l7-no-match' });
    const silent = await serve(() => {}, '127.0.0.1', { key, cert });
    expect(await check(silent, { service: 'https' }, '127.0.0.1', 300)).toMatchObject({ ok: false, status: 'l7-timeout' });
  });

  it('a plain-text server on an https check fails the handshake', async () => {
    const port = await serve((_req, res) => res.end('alive'));
    const r = await check(port, { service: 'https' });
    expect(r.ok).toBe(false);
    expect(['tls', 'l7-bad-response']).toContain(r.status);
  });
});

describe('http_proxy', () => {
  it('sends the absolute URL of request to the real as a proxy', async () => {
    let line = '';
    let host = '';
    const port = await serve((req, res) => {
      line = `${req.method} ${req.url}`;
      host = req.headers.host ?? '';
      res.end(req.url === 'http://www.example.org/index.html' ? 'proxied alive' : 'wrong');
    });
    const r = await check(port, { service: 'http_proxy', request: '/http://www.example.org/index.html' });
    expect(r).toMatchObject({ ok: true });
    expect(line).toBe('GET http://www.example.org/index.html');
    expect(host).toBe('www.example.org');
    expect(r.message).toContain(`via 127.0.0.1:${port}`);
  });
});
