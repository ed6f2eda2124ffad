/**
 * runCheck (the original's _check_real dispatch, timeouts, checkport, combined, hard deadline) and
 * runCycle (concurrency bound, results as they arrive, abort).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { COMBINED_START, runCheck, serviceRegistry } from '../../src/checks/index.js';
import { SERVICES } from '../../src/model/config.js';
import { buildCheckJobs, runCycle } from '../../src/checks/scheduler.js';
import { realIdString } from '../../src/checks/target.js';
import type { CheckJob, CheckModule, CheckResult, ConnectFactory } from '../../src/checks/types.js';
import type { RealServer, VirtualService } from '../../src/model/config.js';
import { closedPort, listen, makeReal, makeVirtual, synDroppers } from './helpers.js';

const closers: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of closers) await c();
});

function job(v: Partial<VirtualService>, r: Partial<RealServer> = {}): CheckJob {
  const virtual = makeVirtual(v);
  const real = makeReal(r);
  return { key: realIdString(virtual, real), virtual, real };
}

const opts = (extra: Partial<Parameters<typeof runCheck>[1]> = {}) => ({
  signal: new AbortController().signal,
  hostname: 'director',
  ...extra,
});

function recorder(ok: boolean): CheckModule & { calls: number } {
  const m = {
    name: 'rec',
    calls: 0,
    async run(): Promise<CheckResult> {
      m.calls++;
      return { ok, status: ok ? 'ok' : 'l7-bad-response', message: 'rec', durationMs: 0 };
    },
  };
  return m;
}

const havePerl = spawnSync('perl', ['-e', '1']).status === 0;

describe('runCheck dispatch', () => {
  it('the registry has a module for every service of the original', async () => {
    const reg = await serviceRegistry();
    for (const s of SERVICES) expect(typeof reg[s]?.run, s).toBe('function');
    expect(Object.keys(reg).sort()).toEqual([...SERVICES].sort());
  });

  it('every TCP connection of connect, simpletcp, http and the line protocols goes through the injected factory', async () => {
    const smtp = await listen((s) => {
      s.write('220 ready\r\n');
      s.on('data', (d) => /^EHLO/.test(String(d)) && s.write('250 ok\r\n'));
    });
    const web = await listen((s) => s.once('data', () => s.end('HTTP/1.0 200 OK\r\n\r\nalive\n')));
    closers.push(smtp.close, web.close);
    // The jobs name closed ports; the factory sends each to its server, so only it can make them up.
    // Two different ports: the kernel may hand out the port it just freed again, and one key for both
    // servers would send the simpletcp check to the web server, which waits for a request (a 20 s timeout).
    const toSmtp = await closedPort();
    let toWeb = await closedPort();
    while (toWeb === toSmtp) toWeb = await closedPort();
    const route = new Map([
      [toSmtp, smtp.port],
      [toWeb, web.port],
    ]);
    const calls: Array<{ host?: string; port?: number }> = [];
    const connectFactory: ConnectFactory = (o) => {
      const { host, port } = o as net.TcpNetConnectOpts;
      calls.push({ host, port });
      return net.connect({ ...(o as net.TcpNetConnectOpts), port: route.get(port) ?? port });
    };
    const cases: Array<[Partial<VirtualService>, number]> = [
      [{ checktype: 'connect' }, toSmtp],
      [{ checktype: 'negotiate', service: 'simpletcp', receive: '^220' }, toSmtp],
      [{ checktype: 'negotiate', service: 'smtp' }, toSmtp],
      [{ checktype: 'negotiate', service: 'http', receive: 'alive' }, toWeb],
    ];
    for (const [v, port] of cases) {
      // Generous timeouts: every case is up; the timeout only bounds a failure (the machine may be loaded).
      const r = await runCheck(job({ checktimeout: 20, negotiatetimeout: 20, ...v }, { port }), opts({ connectFactory }));
      expect(r, JSON.stringify(v)).toMatchObject({ ok: true, status: 'ok' });
    }
    expect(calls).toEqual(cases.map(([, port]) => ({ host: '127.0.0.1', port })));
    // Without the factory the same jobs find the closed ports.
    expect(await runCheck(job({ checktype: 'connect', checktimeout: 5 }, { port: toSmtp }), opts())).toMatchObject({ ok: false, status: 'l4-refused' });
  });

  it('on is up, off is never up, service none is up', async () => {
    expect((await runCheck(job({ checktype: 'on' }), opts())).ok).toBe(true);
    expect((await runCheck(job({ checktype: 'off' }), opts())).ok).toBe(false);
    expect((await runCheck(job({ checktype: 'negotiate', service: 'none' }), opts())).ok).toBe(true);
  });

  it('negotiate goes to the service module with negotiatetimeout', async () => {
    let seen = 0;
    const m: CheckModule = {
      name: 'x',
      run: async (_t, ctx) => {
        seen = ctx.timeoutMs;
        return { ok: true, status: 'ok', message: 'x', durationMs: 0 };
      },
    };
    const r = await runCheck(job({ checktype: 'negotiate', service: 'smtp', negotiatetimeout: 7, checktimeout: 3 }), opts({ services: { smtp: m } }));
    expect(r.ok).toBe(true);
    expect(seen).toBe(7000);
  });

  it('connect uses checkport over the real port', async () => {
    const l = await listen((s) => s.end());
    closers.push(l.close);
    const closed = await closedPort();
    expect((await runCheck(job({ checktype: 'connect', checkport: l.port }, { port: closed }), opts())).ok).toBe(true);
    expect((await runCheck(job({ checktype: 'connect' }, { port: closed }), opts())).ok).toBe(false);
  });

  it.skipIf(!havePerl)('connect is bounded by checktimeout, not negotiatetimeout', async () => {
    const d = await synDroppers(1);
    closers.push(d.close);
    const r = await runCheck(job({ checktype: 'connect', checktimeout: 1, negotiatetimeout: 30 }, { port: d.ports[0] }), opts());
    expect(r).toMatchObject({ ok: false, status: 'l4-timeout' });
    expect(r.durationMs).toBeLessThan(3000);
  });

  it('simpletcp is bounded by negotiatetimeout', async () => {
    const l = await listen(() => {});
    closers.push(l.close);
    const r = await runCheck(
      job({ checktype: 'negotiate', service: 'simpletcp', receive: 'x', checktimeout: 30, negotiatetimeout: 1 }, { port: l.port }),
      opts(),
    );
    expect(r).toMatchObject({ ok: false, status: 'l7-timeout' });
    expect(r.durationMs).toBeLessThan(3000);
  });

  it('hard deadline: a module that ignores its abort signal is abandoned at timeout + grace', async () => {
    const stuck: CheckModule = { name: 'stuck', run: () => new Promise<CheckResult>(() => {}) };
    const r = await runCheck(job({ checktype: 'negotiate', service: 'ldap', negotiatetimeout: 1, checktimeout: 1 }), opts({ services: { ldap: stuck }, graceMs: 100 }));
    expect(r).toMatchObject({ ok: false, status: 'l7-timeout' });
    expect(r.message).toContain('abandoned');
    expect(r.durationMs).toBeGreaterThanOrEqual(1000);
    expect(r.durationMs).toBeLessThan(3000);
  });

  it('a module that throws yields an internal failure, not an exception', async () => {
    const bad: CheckModule = { name: 'bad', run: async () => { throw new Error('boom'); } };
    const r = await runCheck(job({ checktype: 'negotiate', service: 'sip' }), opts({ services: { sip: bad } }));
    expect(r).toMatchObject({ ok: false, status: 'internal' });
    expect(r.message).toContain('boom');
  });

  it('combined N: negotiate first, then N connects, then negotiate again; a connect failure forces negotiate', async () => {
    const l = await listen((s) => s.end());
    closers.push(l.close);
    const neg = recorder(true);
    const state = new Map<string, number>();
    const j = job({ checktype: 'combined', combinedCount: 2, service: 'smtp' }, { port: l.port });
    const o = opts({ services: { smtp: neg }, combinedState: state });
    const seq: number[] = [];
    const passes: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      const before = neg.calls;
      const r = await runCheck(j, o);
      expect(r.ok).toBe(true);
      seq.push(neg.calls - before);
      passes.push(r.pass);
    }
    expect(seq).toEqual([1, 0, 0, 1, 0]); // negotiate every N+1 passes
    // the connect passes say so (the engine logs them to the monitorfile as plain connect checks)
    expect(passes).toEqual([undefined, 'connect', 'connect', undefined, 'connect']);
    // connect failure: counter back to 999999, so the next pass negotiates
    const down = { ...j, real: makeReal({ port: await closedPort() }) };
    expect((await runCheck(down, o)).ok).toBe(false);
    expect(state.get(j.key)).toBe(COMBINED_START);
  });

  it('connect on a udp virtual is a ping (as _check_real)', async () => {
    const r = await runCheck(job({ checktype: 'connect', protocol: 'udp', checktimeout: 1 }, { ip: '127.0.0.1', port: 53 }), opts());
    expect(r.message).toContain('ping');
    if (process.getuid?.() === 0) expect(r.ok).toBe(true);
  });
});

describe('runCycle', () => {
  const jobs = (n: number): CheckJob[] => Array.from({ length: n }, (_, i) => job({ checktype: 'on' }, { ip: `127.0.0.${i + 1}` }));

  it('bounds concurrency and delivers every result once', async () => {
    let inFlight = 0;
    let max = 0;
    const seen: string[] = [];
    await runCycle(jobs(50), {
      concurrency: 7,
      // A 5 ms check is never "slow" here, however late a busy machine runs its timer (the rule for
      // slow checks has its own test below).
      slowAfterMs: 600_000,
      runCheck: async () => {
        inFlight++;
        max = Math.max(max, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return { ok: true, status: 'ok', message: '', durationMs: 5 };
      },
      onResult: (j) => seen.push(j.real.ip),
    });
    expect(max).toBe(7);
    expect(new Set(seen).size).toBe(50);
    expect(seen).toHaveLength(50);
  });

  it('slow checks stop holding the concurrency bound: the others go on, under a hard bound on all in flight', async () => {
    const all = jobs(40);
    const slow = new Set(all.filter((_, i) => i % 4 === 0)); // 10 slow (silent reals)
    let inFlight = 0;
    let max = 0;
    let slowRunning = 0;
    let fastDone = 0;
    let fastDoneWhileSlowRan = 0;
    await runCycle(all, {
      concurrency: 3,
      maxInFlight: 8,
      slowAfterMs: 20,
      runCheck: async (j) => {
        inFlight++;
        max = Math.max(max, inFlight);
        if (slow.has(j)) {
          slowRunning++;
          // Silent until every fast check is done (however slow a busy machine is), or 10 s at most: a
          // scheduler that let the slow ones hold the bound would finish them first, and fail below.
          const until = Date.now() + 10_000;
          while (fastDone < 30 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
          slowRunning--;
        } else {
          await new Promise((r) => setTimeout(r, 2));
          fastDone++;
          if (slowRunning > 0) fastDoneWhileSlowRan++;
        }
        inFlight--;
        return { ok: true, status: 'ok', message: '', durationMs: 0 };
      },
      onResult: () => {},
    });
    expect(max).toBeGreaterThan(3); // slow ones released their young slots
    expect(max).toBeLessThanOrEqual(8); // the hard bound held
    expect(fastDoneWhileSlowRan).toBe(30); // every fast check ran while slow ones were still running
  });

  it('delivers a fast result before a slow one finishes', async () => {
    const order: string[] = [];
    const [slow, fast] = jobs(2);
    let fastDeliveredWhileSlowRunning = false;
    let slowDone = false;
    await runCycle([slow, fast], {
      runCheck: async (j) => {
        if (j === slow) {
          await new Promise((r) => setTimeout(r, 200));
          slowDone = true;
        }
        return { ok: true, status: 'ok', message: '', durationMs: 0 };
      },
      onResult: (j) => {
        order.push(j === slow ? 'slow' : 'fast');
        if (j === fast && !slowDone) fastDeliveredWhileSlowRunning = true;
      },
    });
    expect(order).toEqual(['fast', 'slow']);
    expect(fastDeliveredWhileSlowRunning).toBe(true);
  });

  it('real checks: up and down reals of one cycle, all reported', async () => {
    const l = await listen((s) => s.end());
    closers.push(l.close);
    const closed = await closedPort();
    const js = [job({ checktype: 'connect' }, { port: l.port }), job({ checktype: 'connect' }, { port: closed })];
    const got = new Map<CheckJob, CheckResult>();
    await runCycle(js, { onResult: (j, r) => got.set(j, r) });
    expect(got.get(js[0])?.ok).toBe(true);
    expect(got.get(js[1])?.ok).toBe(false);
  });

  it('abort: no new jobs start; jobs in flight still report', async () => {
    const ac = new AbortController();
    let started = 0;
    const results: CheckResult[] = [];
    await runCycle(jobs(10), {
      concurrency: 2,
      signal: ac.signal,
      runCheck: async (_j, o) => {
        started++;
        if (started === 2) ac.abort();
        return { ok: !o.signal.aborted, status: 'ok', message: '', durationMs: 0 };
      },
      onResult: (_j, r) => results.push(r),
    });
    expect(started).toBe(2);
    expect(results).toHaveLength(2);
  });

  it('an exception in onResult does not stop the cycle and is rethrown at its end', async () => {
    let n = 0;
    await expect(
      runCycle(jobs(5), {
        runCheck: async () => ({ ok: true, status: 'ok', message: '', durationMs: 0 }),
        onResult: () => {
          n++;
          if (n === 1) throw new Error('engine bug');
        },
      }),
    ).rejects.toThrow('engine bug');
    expect(n).toBe(5);
  });
});

describe('buildCheckJobs', () => {
  it('one job per real id in config order; without dedupe one per real of every virtual', () => {
    const r1 = makeReal({ ip: '10.0.0.1', port: 80 });
    const r2 = makeReal({ ip: '10.0.0.2', port: 80 });
    const a = makeVirtual({ ip: '192.0.2.1', service: 'http', reals: [r1, r2] });
    const b = makeVirtual({ ip: '192.0.2.2', service: 'http', reals: [r2, makeReal({ ip: '10.0.0.1', port: 80, weight: 2 })] });
    const jobs = buildCheckJobs([a, b]);
    // r2 is shared (same id); the weight-2 real of b has another id (weight is part of it)
    expect(jobs.map((j) => [j.virtual.ip, j.real.ip, j.real.weight])).toEqual([
      ['192.0.2.1', '10.0.0.1', 1],
      ['192.0.2.1', '10.0.0.2', 1],
      ['192.0.2.2', '10.0.0.1', 2],
    ]);
    expect(buildCheckJobs([a, b], { dedupe: false })).toHaveLength(4);
  });
});
