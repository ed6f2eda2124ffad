// The connect check on a bare TCP handle (src/checks/tcp-handle.ts) against the same check on net.connect
// (taken when a connect factory is given): the same results and messages for each outcome, a FIN for a
// connection made, no handle left open, and the lookup's refusals (opt-out, pending deprecation).
import { afterAll, describe, expect, it } from 'vitest';
import { tcpConnectCheck } from '../../src/checks/connect.js';
import { defaultConnectFactory } from '../../src/checks/net.js';
import { loadTcpHandles, tcpHandles } from '../../src/checks/tcp-handle.js';
import type { CheckResult } from '../../src/checks/types.js';
import { builtUrl, runScript } from '../support/built.js';
import { listen, synDroppers } from './helpers.js';

const closers: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const never = new AbortController().signal;
const IMPLS = [
  ['handle', undefined],
  ['net', defaultConnectFactory],
] as const;
const tcpWraps = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
const shape = (r: CheckResult) => ({ ok: r.ok, status: r.status, message: r.message });

/** A port nothing listens on (a listener opened and closed). */
async function closedPort(host: string): Promise<number> {
  const l = await listen(() => {}, host);
  await l.close();
  return l.port;
}

describe('the connect check on a TCP handle, as on net.connect', () => {
  it('this Node has the handles (else every check takes net.connect, and these tests compare net with net)', () => {
    expect(tcpHandles()).toBeDefined();
  });

  it('a listening real is up, on IPv4 and IPv6; the server sees the connection end with a FIN, not a reset', async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const ends: string[] = [];
      const l = await listen((s) => {
        s.on('end', () => ends.push('fin'));
        s.on('error', (e: NodeJS.ErrnoException) => ends.push(e.code ?? 'error'));
      }, host);
      closers.push(l.close);
      const where = host.includes(':') ? `[${host}]:${l.port}` : `${host}:${l.port}`;
      for (const [name, factory] of IMPLS) {
        const r = await tcpConnectCheck(host, l.port, 2000, never, factory);
        expect(shape(r), name).toEqual({ ok: true, status: 'ok', message: `connect ${where}` });
      }
      await expect.poll(() => ends.length, { timeout: 10_000 }).toBe(2);
      expect(ends).toEqual(['fin', 'fin']);
    }
  });

  it('a closed port is refused with the same message', async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const port = await closedPort(host);
      const [a, b] = await Promise.all(IMPLS.map(([, f]) => tcpConnectCheck(host, port, 2000, never, f)));
      expect(shape(a!)).toEqual(shape(b!));
      expect(a).toMatchObject({ ok: false, status: 'l4-refused' });
      expect(a!.message).toMatch(/: ECONNREFUSED$/);
    }
  });

  it('a refusal by connect() itself reads as net\'s', async () => {
    // TCP to a multicast address fails in connect() (ENETUNREACH, no packet sent): the handle's synchronous
    // error; 0.0.0.0 is this host, port 1 closed: refused.
    for (const ip of ['224.0.0.1', '0.0.0.0']) {
      const [a, b] = await Promise.all(IMPLS.map(([, f]) => tcpConnectCheck(ip, 1, 500, never, f)));
      expect(shape(a!), ip).toEqual(shape(b!));
      expect(a).toMatchObject({ ok: false, status: 'l4-refused' });
    }
  });

  it('a real that drops the SYN times out; an abort ends a check in flight; neither leaves a handle open', async () => {
    const d = await synDroppers(1);
    closers.push(d.close);
    const before = tcpWraps();
    for (const [name, factory] of IMPLS) {
      const r = await tcpConnectCheck('127.0.0.1', d.ports[0]!, 150, never, factory);
      expect(shape(r), name).toEqual({ ok: false, status: 'l4-timeout', message: `connect 127.0.0.1:${d.ports[0]}: timed out` });
      const ac = new AbortController();
      const p = tcpConnectCheck('127.0.0.1', d.ports[0]!, 60_000, ac.signal, factory);
      setTimeout(() => ac.abort(), 50);
      expect(shape(await p), name).toEqual({ ok: false, status: 'l4-timeout', message: `connect 127.0.0.1:${d.ports[0]}: timed out` });
    }
    // handle.close() is asynchronous: the wraps are gone a turn or two later.
    await expect.poll(tcpWraps, { timeout: 10_000 }).toBe(before);
  });

  it('many checks at once, up and refused, leave no handle open', async () => {
    const l = await listen((s) => s.destroy()); // the server's own sockets are TCP wraps of this process too
    closers.push(l.close);
    const refused = await closedPort('127.0.0.1');
    const before = tcpWraps();
    const rs = await Promise.all(Array.from({ length: 300 }, (_, i) => tcpConnectCheck('127.0.0.1', i % 2 ? l.port : refused, 2000, never)));
    expect(rs.filter((r) => r.ok)).toHaveLength(150);
    expect(rs.filter((r) => r.status === 'l4-refused')).toHaveLength(150);
    await expect.poll(tcpWraps, { timeout: 10_000 }).toBe(before);
  });

  it('a port that is not an integer is refused as net.connect refuses it (the binding would abort the process)', async () => {
    const [a, b] = await Promise.all(IMPLS.map(([, f]) => tcpConnectCheck('127.0.0.1', 80.5, 500, never, f)));
    expect(shape(a!)).toEqual(shape(b!));
    expect(a).toMatchObject({ ok: false, status: 'internal' });
  });

  it('the handles are not taken with LDIRECTORD_TCP_CONNECT=net, nor where process.binding would warn', () => {
    expect(loadTcpHandles({}, [])).toBeDefined();
    expect(loadTcpHandles({ LDIRECTORD_TCP_CONNECT: 'net' }, [])).toBeUndefined();
    expect(loadTcpHandles({}, ['--pending-deprecation'])).toBeUndefined();
    expect(loadTcpHandles({ NODE_OPTIONS: '--max-old-space-size=64 --pending-deprecation' }, [])).toBeUndefined();
    expect(loadTcpHandles({ NODE_PENDING_DEPRECATION: '1' }, [])).toBeUndefined();
  });

  it('under --pending-deprecation a check prints no warning (it takes net.connect) and still works', async () => {
    const l = await listen(() => {});
    closers.push(l.close);
    const script = `import { tcpConnectCheck } from ${builtUrl('checks/connect.js')};
      const r = await tcpConnectCheck('127.0.0.1', ${l.port}, 2000, new AbortController().signal);
      console.log(r.message);`;
    for (const o of [{ nodeArgs: ['--pending-deprecation'] }, { env: { NODE_PENDING_DEPRECATION: '1' } }, {}]) {
      const r = runScript(script, o);
      expect(r.stderr, JSON.stringify(o)).toBe('');
      expect(r.stdout.trim()).toBe(`connect 127.0.0.1:${l.port}`);
    }
  });
});
