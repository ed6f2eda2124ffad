/**
 * connect and simpletcp against real listeners on 127.0.0.1: up, down (closed port), wrong answer,
 * timeout (accepts, never answers; and SYNs dropped), slow drip, oversized answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import type net from 'node:net';
import { connectModule } from '../../src/checks/connect.js';
import { simpletcpModule, simpletcpRequest } from '../../src/checks/simpletcp.js';
import { checkTarget } from '../../src/checks/target.js';
import type { CheckContext, CheckTarget } from '../../src/checks/types.js';
import { closedPort, listen, makeReal, makeVirtual, synDroppers } from './helpers.js';

const closers: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of closers) await c();
});

function ctx(timeoutMs: number): CheckContext {
  return { timeoutMs, signal: new AbortController().signal, hostname: 'director' };
}

function target(port: number, extra: Parameters<typeof makeVirtual>[0] = {}): CheckTarget {
  const v = makeVirtual({ service: 'simpletcp', checktype: 'negotiate', ...extra });
  return checkTarget(v, makeReal({ port }));
}

const havePerl = spawnSync('perl', ['-e', '1']).status === 0;

describe('connect', () => {
  it('up on a listener, l4-refused on a closed port', async () => {
    const l = await listen((s) => s.end());
    closers.push(l.close);
    const up = await connectModule.run(target(l.port, { checktype: 'connect' }), ctx(1000));
    expect(up.ok).toBe(true);
    expect(up.message).toContain(`127.0.0.1:${l.port}`);
    const down = await connectModule.run(target(await closedPort(), { checktype: 'connect' }), ctx(1000));
    expect(down).toMatchObject({ ok: false, status: 'l4-refused' });
  });

  it('up on [::1]', async () => {
    const l = await listen((s) => s.end(), '::1').catch(() => undefined);
    if (!l) return console.warn('no IPv6 loopback: skipping [::1] connect');
    closers.push(l.close);
    const t = checkTarget(makeVirtual({ checktype: 'connect' }), makeReal({ ip: '::1', port: l.port }));
    expect((await connectModule.run(t, ctx(1000))).ok).toBe(true);
  });

  it.skipIf(!havePerl)('l4-timeout when SYNs are dropped', async () => {
    const d = await synDroppers(1);
    closers.push(d.close);
    const r = await connectModule.run(target(d.ports[0], { checktype: 'connect' }), ctx(300));
    expect(r).toMatchObject({ ok: false, status: 'l4-timeout' });
  });

  it('udp virtual: a datagram socket connect (no packet), as ld_open_socket does', async () => {
    const t = target(5353, { checktype: 'combined', protocol: 'udp' });
    expect((await connectModule.run(t, ctx(1000))).ok).toBe(true);
  });
});

describe('simpletcp', () => {
  it('sends the request minus its first char with \\n expanded, half-closes, matches a line', async () => {
    let got = '';
    const l = await listen((s) => {
      s.on('data', (d) => (got += d.toString()));
      s.on('end', () => s.end(`hello\n${got.includes('PING\nX') ? 'PONG ok' : 'bad'}\nbye\n`));
    });
    closers.push(l.close);
    const r = await simpletcpModule.run(target(l.port, { request: '/PING\\nX', receive: '^PONG' }), ctx(2000));
    expect(got).toBe('PING\nX');
    expect(r).toMatchObject({ ok: true, status: 'ok' });
    expect(r.message).toContain('line 2');
    expect(simpletcpRequest('/a\\nb\\n')).toBe('a\nb\n');
  });

  it('$ matches before the line end, as Perl on "line\\n"', async () => {
    const l = await listen((s) => s.end('200 ready\n'));
    closers.push(l.close);
    expect((await simpletcpModule.run(target(l.port, { receive: 'ready$' }), ctx(2000))).ok).toBe(true);
  });

  it('wrong answer: l7-no-match', async () => {
    const l = await listen((s) => s.end('nope\nnothing here\n'));
    closers.push(l.close);
    const r = await simpletcpModule.run(target(l.port, { receive: 'OK' }), ctx(2000));
    expect(r).toMatchObject({ ok: false, status: 'l7-no-match' });
    expect(r.message).toContain('2 line(s)');
  });

  it('down on a closed port', async () => {
    const r = await simpletcpModule.run(target(await closedPort(), { receive: 'OK' }), ctx(1000));
    expect(r).toMatchObject({ ok: false, status: 'l4-refused' });
  });

  it('timeout: accepts and never answers', async () => {
    const l = await listen(() => {});
    closers.push(l.close);
    const r = await simpletcpModule.run(target(l.port, { receive: 'OK' }), ctx(300));
    expect(r).toMatchObject({ ok: false, status: 'l7-timeout' });
  });

  it('slow drip: the match arrives after the timeout', async () => {
    const l = await listen((s) => {
      const timer = setInterval(() => !s.destroyed && s.write('.'), 50);
      s.on('close', () => clearInterval(timer));
    });
    closers.push(l.close);
    const r = await simpletcpModule.run(target(l.port, { receive: 'OK' }), ctx(400));
    expect(r).toMatchObject({ ok: false, status: 'l7-timeout' });
  });

  it('oversized answer: an endless line without newline is capped, not buffered', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const l = await listen((s: net.Socket) => {
      const pump = (): void => {
        while (!s.destroyed && s.write(chunk));
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    });
    closers.push(l.close);
    const before = process.memoryUsage().rss;
    const r = await simpletcpModule.run(target(l.port, { receive: 'OK' }), ctx(5000));
    expect(r).toMatchObject({ ok: false, status: 'l7-no-match' });
    expect(r.message).toContain('first 1048576 bytes');
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('simpletcp on a udp virtual (datagram socket, as ld_open_socket)', () => {
  it('up on a matching reply line, timeout on silence, refused on a closed port', async () => {
    const dgram = await import('node:dgram');
    const srv = dgram.createSocket('udp4');
    await new Promise<void>((r) => srv.bind(0, '127.0.0.1', () => r()));
    closers.push(() => new Promise<void>((r) => srv.close(() => r())));
    srv.on('message', (m, rinfo) => {
      if (m.toString() === 'STATUS\n') srv.send('x\nSTATE ok\n', rinfo.port, rinfo.address);
    });
    const port = (srv.address() as { port: number }).port;
    const up = await simpletcpModule.run(target(port, { protocol: 'udp', request: '/STATUS\\n', receive: 'ok$' }), ctx(1000));
    expect(up).toMatchObject({ ok: true });
    expect(up.message).toContain('line 2');
    const silent = await simpletcpModule.run(target(port, { protocol: 'udp', request: '/OTHER', receive: 'ok' }), ctx(300));
    expect(silent).toMatchObject({ ok: false, status: 'l7-timeout' });
    const closed = await simpletcpModule.run(target(await closedPort(), { protocol: 'udp', request: '/X', receive: 'ok' }), ctx(1000));
    expect(closed.ok).toBe(false);
  });
});
