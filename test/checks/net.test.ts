import { afterAll, describe, expect, it } from 'vitest';
import { connectTcp, halfClose, NetError, SocketReader, writeAll } from '../../src/checks/net.js';
import { closedPort, listen } from './helpers.js';

const servers: Array<{ close: () => Promise<void> }> = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

describe('net helpers', () => {
  it('connect to a closed port is l4-refused', async () => {
    const port = await closedPort();
    const err = await connectTcp({ host: '127.0.0.1', port, timeoutMs: 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(NetError);
    expect(err.status).toBe('l4-refused');
  });

  it('abort signal ends a connect', async () => {
    const ac = new AbortController();
    ac.abort();
    const err = await connectTcp({ host: '127.0.0.1', port: 1, timeoutMs: 1000, signal: ac.signal }).catch((e) => e);
    expect(err.status).toBe('l4-timeout');
  });

  it('reads lines, keeps the rest buffered, sees half-close', async () => {
    const l = await listen((s) => {
      s.write('one\ntwo\n');
      s.resume();
      s.on('end', () => s.end('bye'));
    });
    servers.push(l);
    const sock = await connectTcp({ host: '127.0.0.1', port: l.port, timeoutMs: 1000 });
    const r = new SocketReader(sock);
    expect((await r.readLine({ timeoutMs: 1000, maxBytes: 100 })).data.toString()).toBe('one\n');
    expect((await r.readLine({ timeoutMs: 1000, maxBytes: 100 })).data.toString()).toBe('two\n');
    await writeAll(sock, 'x');
    halfClose(sock);
    const rest = await r.readToEnd({ timeoutMs: 1000, maxBytes: 100 });
    expect(rest.data.toString()).toBe('bye');
    expect(rest.ended).toBe(true);
    sock.destroy();
  });

  it('caps an endless sender and times out a silent one', async () => {
    const big = Buffer.alloc(64 * 1024, 0x61);
    const l = await listen((s) => {
      const pump = (): void => {
        while (!s.destroyed && s.write(big));
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    });
    servers.push(l);
    const sock = await connectTcp({ host: '127.0.0.1', port: l.port, timeoutMs: 1000 });
    const r = await new SocketReader(sock).readToEnd({ timeoutMs: 5000, maxBytes: 1000 });
    expect(r.capped).toBe(true);
    expect(r.data.length).toBe(1000);
    sock.destroy();

    const silent = await listen(() => {});
    servers.push(silent);
    const s2 = await connectTcp({ host: '127.0.0.1', port: silent.port, timeoutMs: 1000 });
    const err = await new SocketReader(s2).readLine({ timeoutMs: 100, maxBytes: 10 }).catch((e) => e);
    expect(err.status).toBe('l7-timeout');
    s2.destroy();
  });
});
