/**
 * The ping check when raw-socket cannot be loaded (its build skipped at install): the system ping
 * (iputils) takes over with the same per-attempt timeout, announced once; with no system ping either,
 * a clear internal failure and configtest's warning. raw-socket's absence is simulated by an injected
 * loader that throws. Silent and answering addresses live in a network namespace the test creates
 * (a veth pair, 10.200.78.0/24 and fd00:c8:78::/64); nothing leaves it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { build, ROOT } from '../cli/helpers.js';
import { createPingModule, pingMethod, pingWarning, type RawModule } from '../../src/checks/ping.js';
import { findSystemPing, systemPingArgs } from '../../src/checks/ping-system.js';

const missing = (): RawModule => {
  throw new Error("Cannot find module '../build/Release/raw.node'");
};

describe('ping fallback: decisions and messages', () => {
  it('raw-socket missing: the system ping is chosen; with no system ping either, none', () => {
    const sys = findSystemPing();
    const m = pingMethod({ loadRaw: missing });
    if (sys) expect(m).toEqual({ kind: 'system', bin: sys, why: "raw-socket cannot be loaded: Cannot find module '../build/Release/raw.node'" });
    expect(pingMethod({ loadRaw: missing, pingPaths: ['/nonexistent/ping'] }).kind).toBe('none');
    expect(pingMethod({ loadRaw: () => ({}) as RawModule }).kind).toBe('raw');
  });

  it('configtest warns only for a config using ping when neither way exists', () => {
    const none = { loadRaw: missing, pingPaths: ['/nonexistent/ping'] };
    const ping = [{ checktype: 'connect', protocol: 'tcp' }, { checktype: 'ping', protocol: 'tcp' }] as const;
    const udpConnect = [{ checktype: 'connect', protocol: 'udp' }] as const;
    expect(pingWarning(ping, none)).toMatch(/^Warning: ping checks cannot work here: raw-socket cannot be loaded: .*no system ping \(iputils\) in \/nonexistent\/ping$/);
    expect(pingWarning(udpConnect, none)).toBeDefined();
    expect(pingWarning([{ checktype: 'connect', protocol: 'tcp' }], none)).toBeUndefined();
    expect(pingWarning(ping, { loadRaw: missing, pingPaths: ['/bin/sh'] })).toBeUndefined();
  });

  it('one attempt = ping -c 1 -W <checktimeout in seconds>, numeric, family forced, no option injection', () => {
    expect(systemPingArgs('10.0.0.1', 4, 3000)).toEqual(['-n', '-q', '-c', '1', '-W', '3', '-4', '--', '10.0.0.1']);
    expect(systemPingArgs('fd00::1', 6, 1500)).toEqual(['-n', '-q', '-c', '1', '-W', '1.5', '-6', '--', 'fd00::1']);
    expect(systemPingArgs('10.0.0.1', 4, 0)[5]).toBe('0.001');
  });

  it('no ping at all: the check fails as internal, the notice is given once', async () => {
    const notices: string[] = [];
    const mod = createPingModule({ loadRaw: missing, pingPaths: ['/nonexistent/ping'], notice: (m) => notices.push(m) });
    const target = { ip: '127.0.0.1', family: 4, virtual: { checkcount: 1 } } as Parameters<typeof mod.run>[0];
    const ctx = { timeoutMs: 1000, signal: new AbortController().signal, hostname: 'h' };
    const r1 = await mod.run(target, ctx);
    const r2 = await mod.run(target, ctx);
    expect([r1.ok, r1.status, r2.status]).toEqual([false, 'internal', 'internal']);
    expect(r1.message).toContain('no system ping found');
    expect(notices).toHaveLength(1);
  });
});

const isRoot = process.getuid?.() === 0;
const haveIp = spawnSync('ip', ['-V']).status === 0;
const sysPing = findSystemPing();
const why = !isRoot ? 'not root' : !haveIp ? 'no ip command (iproute2)' : !sysPing ? 'no system ping (iputils)' : '';
if (why) console.warn(`system ping fallback tests skipped: ${why}`);

const A = `fidelity${process.pid % 100000}a`;
const B = `fidelity${process.pid % 100000}b`;
const sh = (...a: string[]) => execFileSync(a[0], a.slice(1), { stdio: 'ignore' });

interface NsResult {
  results: { ok: boolean; status: string; message: string; durationMs: number }[];
  notices: string[];
}

/** Runs ping checks inside namespace A with raw-socket made unloadable (an injected loader). */
function runInNs(reals: { ip: string; family: 4 | 6 }[], opt: { checkcount?: number; timeoutMs?: number } = {}): Promise<NsResult> {
  const script = `
    const { createPingModule } = await import(${JSON.stringify(join(ROOT, 'dist/checks/ping.js'))});
    const notices = [];
    const mod = createPingModule({ loadRaw: () => { throw new Error('raw-socket build skipped'); }, notice: (m) => notices.push(m) });
    const [reals, opt] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2])];
    const results = await Promise.all(reals.map((r) => mod.run({ ip: r.ip, family: r.family, virtual: { checkcount: opt.checkcount ?? 1 } },
      { timeoutMs: opt.timeoutMs ?? 1000, signal: new AbortController().signal, hostname: 'h' })));
    process.stdout.write(JSON.stringify({ results, notices }));
  `;
  return new Promise((resolve, reject) => {
    const c = spawn('ip', ['netns', 'exec', A, process.execPath, '--input-type=module', '-e', script, JSON.stringify(reals), JSON.stringify(opt)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as NsResult) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

describe.skipIf(Boolean(why))('ping fallback: the system ping in a network namespace', () => {
  beforeAll(() => {
    build();
    sh('ip', 'netns', 'add', A);
    sh('ip', 'netns', 'add', B);
    sh('ip', 'link', 'add', `${A}v`, 'netns', A, 'type', 'veth', 'peer', 'name', `${B}v`, 'netns', B);
    for (const [ns, dev, n] of [[A, `${A}v`, '1'], [B, `${B}v`, '2']]) {
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      sh('ip', '-n', ns, 'addr', 'add', `10.200.78.${n}/24`, 'dev', dev);
      sh('ip', '-n', ns, 'addr', 'add', `fd00:c8:78::${n}/64`, 'dev', dev, 'nodad');
      sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    }
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      if (![A, B].some((ns) => execFileSync('ip', ['-n', ns, '-6', 'addr', 'show']).toString().includes('tentative'))) break;
      execFileSync('sleep', ['0.1']);
    }
  }, 120_000);

  afterAll(() => {
    spawnSync('ip', ['netns', 'del', A]);
    spawnSync('ip', ['netns', 'del', B]);
  });

  it('IPv4 and IPv6: answering addresses up, silent ones down after the timeout; the fallback said once', async () => {
    // Answering addresses get a long timeout (a reply ends the wait at once; on a loaded machine the
    // ping process alone can take a second to start), silent ones 1 s.
    const [answering, silent] = await Promise.all([
      runInNs([{ ip: '10.200.78.2', family: 4 }, { ip: 'fd00:c8:78::2', family: 6 }, { ip: '127.0.0.1', family: 4 }], { timeoutMs: 20_000 }),
      runInNs([{ ip: '10.200.78.3', family: 4 }, { ip: 'fd00:c8:78::3', family: 6 }], { timeoutMs: 1000 }),
    ]);
    expect(answering.results.map((x) => x.ok)).toEqual([true, true, true]);
    expect(answering.results[0].message).toBe('ping 10.200.78.2: reply (attempt 1/1) (system ping)');
    const r = [answering.results[0], silent.results[0], answering.results[1], silent.results[1]];
    const notices = silent.notices;
    expect(r.map((x) => x.ok)).toEqual([true, false, true, false]);
    expect(r[1].status).toBe('l4-timeout');
    // The same timeout semantics: a silent address is given the timeout (iputils' own -W timer ends a
    // few ms early at most, hence 0.9 of it).
    expect(r[1].durationMs).toBeGreaterThanOrEqual(900);
    expect(r[3].durationMs).toBeGreaterThanOrEqual(900);
    expect(notices).toEqual([`ping checks: raw-socket cannot be loaded: raw-socket build skipped; using the system ping ${sysPing} instead`]);
  });

  it('checkcount attempts of the timeout each before giving up', async () => {
    // An address no other test pings: after the test above, 10.200.78.3's neighbour entry may be FAILED
    // (its ARP went unanswered), and then the kernel refuses the echo at once (host unreachable), ping
    // exits without waiting its -W, and the attempts took less than their timeouts (seen beside a CPU
    // hog, where the tests' timing moved into that state). A fresh one is mid-ARP for both attempts.
    const { results: [r] } = await runInNs([{ ip: '10.200.78.4', family: 4 }], { checkcount: 2, timeoutMs: 500 });
    expect(r.ok).toBe(false);
    expect(r.message).toContain('no reply to 2 attempt(s) of 500 ms (system ping)');
    expect(r.durationMs).toBeGreaterThanOrEqual(0.9 * 2 * 500);
  });
});
