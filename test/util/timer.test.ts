/**
 * patientTimeout (src/util/timer.ts): a director whose event loop was held up (a big reload, a starved
 * machine) for longer than a timeout does not fail what completed in time. Each case holds the loop
 * with a busy wait right after the operation has started, as a long synchronous piece of work would.
 */
import { afterAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tcpConnectCheck } from '../../src/checks/connect.js';
import { runCheck } from '../../src/checks/index.js';
import { httpModule } from '../../src/checks/http.js';
import { checkTarget, realIdString } from '../../src/checks/target.js';
import { runProcess } from '../../src/util/process.js';
import { HELD_UP_MS, patientTimeout } from '../../src/util/timer.js';
import { listen, makeReal, makeVirtual, synDroppers } from '../checks/helpers.js';

const closers: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of closers) await c();
});

/** Holds the event loop for `ms` (a synchronous piece of work). */
function hold(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* busy */
  }
}

/** Holds the loop once the work queued so far in this tick (a socket's connect) has run. */
function holdNextTick(ms: number): void {
  process.nextTick(() => hold(ms));
}

const never = new AbortController().signal;

describe('patientTimeout', () => {
  it('expires after its delay on a loop that is not held up, and not at all once cancelled', async () => {
    const fired: string[] = [];
    patientTimeout(() => fired.push('a'), 20);
    const cancel = patientTimeout(() => fired.push('b'), 20);
    cancel();
    await new Promise((r) => setTimeout(r, 80));
    expect(fired).toEqual(['a']);
  });

  it('an event that came in while the loop was held up wins over a timer that came due meanwhile', async () => {
    const order: string[] = [];
    const l = await listen(() => {});
    closers.push(l.close);
    const sock = net.connect({ host: '127.0.0.1', port: l.port });
    const cancel = patientTimeout(() => order.push('timeout'), 10);
    sock.once('connect', () => {
      order.push('connect');
      cancel();
      sock.destroy();
    });
    holdNextTick(HELD_UP_MS / 2); // late, but not "held up": only the one turn of grace applies
    await new Promise((r) => setTimeout(r, 100));
    expect(order).toEqual(['connect']);
  });

  it('a loop held up gives the time back once, capped at the delay: the expiry still comes', async () => {
    const t0 = performance.now();
    const at = await new Promise<number>((resolve) => {
      patientTimeout(() => resolve(performance.now() - t0), 50);
      hold(HELD_UP_MS * 2);
    });
    // held 2*HELD_UP_MS, then 50 ms given back: it expires, once, after both.
    expect(at).toBeGreaterThanOrEqual(HELD_UP_MS * 2 + 50);
  });
});

describe('checks on a director whose loop was held up past their timeout', () => {
  it('connect: a real that accepted in time is up', async () => {
    const l = await listen(() => {});
    closers.push(l.close);
    const p = tcpConnectCheck('127.0.0.1', l.port, 100, never);
    holdNextTick(500);
    expect(await p).toMatchObject({ ok: true, status: 'ok' });
  });

  it('through the dispatch and its deadline: checktype=connect, and simpletcp (connect, answer) under negotiate', async () => {
    const l = await listen((sock) => sock.end('alive\n'));
    closers.push(l.close);
    for (const v of [
      makeVirtual({ checktype: 'connect', checktimeout: 0.1 }),
      makeVirtual({ checktype: 'negotiate', service: 'simpletcp', request: '', receive: 'alive', checktimeout: 0.1, negotiatetimeout: 0.1 }),
    ]) {
      const real = makeReal({ port: l.port });
      const p = runCheck({ key: realIdString(v, real), virtual: v, real }, { signal: never, hostname: 'director' });
      holdNextTick(500);
      const r = await p;
      expect(r, `${v.checktype}/${v.service}: ${r.message}`).toMatchObject({ ok: true });
    }
  });

  it('connect: a real that drops the SYN is still down (l4-timeout)', async () => {
    const d = await synDroppers(1);
    closers.push(d.close);
    const p = tcpConnectCheck('127.0.0.1', d.ports[0], 100, never);
    holdNextTick(500);
    expect(await p).toMatchObject({ ok: false, status: 'l4-timeout' });
  });

  it('http: a connect, a request and its answer finish in the time given back', async () => {
    const server = http.createServer((_req, res) => res.end('alive\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const virtual = makeVirtual({ service: 'http', checktype: 'negotiate', request: '/', receive: 'alive' });
    const run = (timeoutMs: number) => httpModule.run(checkTarget(virtual, makeReal({ port })), { timeoutMs, signal: never, hostname: 'director' });
    expect(await run(10_000)).toMatchObject({ ok: true }); // the HTTP client is loaded once, outside the held time
    // The time given back is the timeout (1 s), held 2.5 s: room for a busy machine.
    const p = run(1000);
    holdNextTick(2500);
    const r = await p;
    expect(r, r.message).toMatchObject({ ok: true, status: 'ok' });
  });

  it('a program that exited in time is not reported as timed out (nor killed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ldts-timer-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const pidFile = join(dir, 'pid');
    // Start from the loop's check phase: the next phase to run is then the timers', before the poll.
    await new Promise((r) => setImmediate(r));
    const p = runProcess('sh', ['-c', 'echo done; echo $$ >"$1"', 'sh', pidFile], { timeoutMs: 50 });
    // Hold the loop past the timeout until the program has surely exited (a zombie, or gone).
    const start = performance.now();
    hold(100);
    while (!exited(pidFile) && performance.now() - start < 30_000) hold(5);
    const r = await p;
    expect(r).toMatchObject({ timedOut: false, exitCode: 0, stdout: 'done\n' });
  });
});

/** The program that wrote its pid to `file` has exited (its /proc entry is a zombie, or gone). */
function exited(file: string): boolean {
  let pid: string;
  try {
    pid = readFileSync(file, 'utf8').trim();
  } catch {
    return false;
  }
  if (!/^\d+$/.test(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
}
