import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, halfClose, SocketReader, writeAll, type ConnectFactory } from '../../src/checks/net.js';
import { CheckError } from '../../src/checks/result.js';
import { closedPort, listen } from './helpers.js';

const servers: Array<{ close: () => Promise<void> }> = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

describe('net helpers', () => {
  it('connect to a closed port is l4-refused', async () => {
    const port = await closedPort();
    const err = await connect({ host: '127.0.0.1', port, timeoutMs: 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(CheckError);
    expect(err.status).toBe('l4-refused');
  });

  it('connects through the injected factory, with the options it was given', async () => {
    const l = await listen((s) => s.end());
    servers.push(l);
    const calls: net.NetConnectOpts[] = [];
    const factory: ConnectFactory = (o) => {
      calls.push(o);
      return net.connect(o);
    };
    let connected = 0;
    const sock = await connect({ host: '127.0.0.1', port: l.port, localAddress: '127.0.0.1', noDelay: true, factory, onConnected: () => connected++ });
    expect(calls).toEqual([{ host: '127.0.0.1', port: l.port, localAddress: '127.0.0.1', noDelay: true }]);
    expect(connected).toBe(1);
    expect(sock.remoteAddress).toBe('127.0.0.1');
    sock.destroy();
  });

  it("a factory socket's error is a CheckError of layer 4 with the errno error as cause", async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:80'), { code: 'ECONNREFUSED' });
    const factory: ConnectFactory = () => {
      const s = new net.Socket();
      process.nextTick(() => s.emit('error', refused));
      return s;
    };
    const err = await connect({ host: '127.0.0.1', port: 80, timeoutMs: 1000, factory }).catch((e) => e);
    expect(err).toBeInstanceOf(CheckError);
    expect(err).toMatchObject({ status: 'l4-refused', code: 'LDIR_ERR_CHECK', message: 'connect: ECONNREFUSED' });
    expect(err.cause).toBe(refused);
    const timedOut = Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' });
    const slow: ConnectFactory = () => {
      const s = new net.Socket();
      process.nextTick(() => s.emit('error', timedOut));
      return s;
    };
    expect(await connect({ host: '127.0.0.1', port: 80, factory: slow }).catch((e) => e)).toMatchObject({ status: 'l4-timeout' });
  });

  it('a port out of range is refused before any socket is made', async () => {
    const factory: ConnectFactory = () => {
      throw new Error('must not be called');
    };
    expect(await connect({ host: '127.0.0.1', port: 0, factory }).catch((e) => e)).toMatchObject({ status: 'l4-refused', message: 'no port to connect to (0)' });
  });

  it('abort signal ends a connect', async () => {
    const ac = new AbortController();
    ac.abort();
    const err = await connect({ host: '127.0.0.1', port: 1, timeoutMs: 1000, signal: ac.signal }).catch((e) => e);
    expect(err.status).toBe('l4-timeout');
  });

  it('reads lines, keeps the rest buffered, sees half-close', async () => {
    const l = await listen((s) => {
      s.write('one\ntwo\n');
      s.resume();
      s.on('end', () => s.end('bye'));
    });
    servers.push(l);
    const sock = await connect({ host: '127.0.0.1', port: l.port, timeoutMs: 1000 });
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
    const sock = await connect({ host: '127.0.0.1', port: l.port, timeoutMs: 1000 });
    const r = await new SocketReader(sock).readToEnd({ timeoutMs: 5000, maxBytes: 1000 });
    expect(r.capped).toBe(true);
    expect(r.data.length).toBe(1000);
    sock.destroy();

    const silent = await listen(() => {});
    servers.push(silent);
    const s2 = await connect({ host: '127.0.0.1', port: silent.port, timeoutMs: 1000 });
    const err = await new SocketReader(s2).readLine({ timeoutMs: 100, maxBytes: 10 }).catch((e) => e);
    expect(err.status).toBe('l7-timeout');
    s2.destroy();
  });
});
