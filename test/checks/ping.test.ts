/**
 * ping (ICMP and ICMPv6 over a raw socket) inside network namespaces the test creates: a veth pair
 * between two namespaces with addresses of their own (10.200.77.0/24, fd00:c8:77::/64) — no traffic
 * leaves them. The check runs in the first namespace through `ip netns exec ... node`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { build, ROOT } from '../cli/helpers.js';
import { nodeStartMs } from '../support/load.js';

const isRoot = process.getuid?.() === 0;
const haveIp = spawnSync('ip', ['-V']).status === 0;
const why = !isRoot ? 'not root' : !haveIp ? 'no ip command (iproute2)' : '';
if (why) console.warn(`ping tests skipped: ${why} (network namespaces and raw sockets need both)`);

const A = `ldck${process.pid}a`;
const B = `ldck${process.pid}b`;

function sh(...args: string[]): void {
  execFileSync(args[0], args.slice(1), { stdio: 'ignore' });
}

/** Runs checks inside namespace A with the built dist; returns one result per real. */
function runInNs(reals: Array<{ ip: string; family: 4 | 6 }>, opts: { checkcount?: number; checktimeout?: number; user?: boolean } = {}): Promise<Array<{ ok: boolean; status: string; message: string; durationMs: number }>> {
  const script = `
    const { runCheck } = await import(${JSON.stringify(join(ROOT, 'dist/checks/index.js'))});
    const reals = JSON.parse(process.argv[1]);
    const opt = JSON.parse(process.argv[2]);
    const results = await Promise.all(reals.map((r) => {
      const real = { ip: r.ip, family: r.family, port: 0, forward: 'gate', weight: 1, upperThreshold: 0, lowerThreshold: 0, source: r.ip, pos: { file: 't', line: 1 } };
      const virtual = { keyword: 'virtual', family: r.family, protocol: 'tcp', ip: r.ip, port: 0, vaddr: '', vid: '', reals: [real],
        checktype: 'ping', service: 'none', serviceExplicit: false, checkcommand: '', checktimeout: opt.checktimeout ?? 1,
        negotiatetimeout: 1, checkinterval: 1, checkcount: opt.checkcount ?? 1, failurecount: 1, request: '/', receive: '',
        httpmethod: 'GET', login: '', passwd: '', database: '', secret: '', scheduler: 'wrr', ops: false, quiescent: false,
        cleanstop: true, emailalert: '', emailalertfreq: 0, emailalertstatus: [], pos: { file: 't', line: 1 } };
      return runCheck({ key: r.ip, virtual, real }, { signal: new AbortController().signal, hostname: 'h' });
    }));
    process.stdout.write(JSON.stringify(results));
  `;
  const argv = ['netns', 'exec', A, ...(opts.user ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : []),
    process.execPath, '--input-type=module', '-e', script, JSON.stringify(reals), JSON.stringify(opts)];
  return new Promise((resolve, reject) => {
    const c = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

describe.skipIf(Boolean(why))('ping in a network namespace', () => {
  beforeAll(() => {
    build();
    sh('ip', 'netns', 'add', A);
    sh('ip', 'netns', 'add', B);
    sh('ip', 'link', 'add', `${A}v`, 'netns', A, 'type', 'veth', 'peer', 'name', `${B}v`, 'netns', B);
    for (const [ns, dev, n] of [[A, `${A}v`, '1'], [B, `${B}v`, '2']]) {
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      sh('ip', '-n', ns, 'addr', 'add', `10.200.77.${n}/24`, 'dev', dev);
      sh('ip', '-n', ns, 'addr', 'add', `fd00:c8:77::${n}/64`, 'dev', dev, 'nodad');
      sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    }
    // Wait for IPv6 duplicate address detection of the link-local addresses (neighbour discovery needs them).
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const tentative = [A, B].some((ns) => execFileSync('ip', ['-n', ns, '-6', 'addr', 'show']).toString().includes('tentative'));
      if (!tentative) break;
      execFileSync('sleep', ['0.1']);
    }
  }, 120_000);

  afterAll(() => {
    spawnSync('ip', ['netns', 'del', A]);
    spawnSync('ip', ['netns', 'del', B]);
  });

  it('IPv4 and IPv6: the answering address is up, the silent one down, side by side', async () => {
    const r = await runInNs([
      { ip: '10.200.77.2', family: 4 },
      { ip: '10.200.77.3', family: 4 },
      { ip: 'fd00:c8:77::2', family: 6 },
      { ip: 'fd00:c8:77::3', family: 6 },
    ]);
    expect(r.map((x) => x.ok)).toEqual([true, false, true, false]);
    expect(r[1].status).toBe('l4-timeout');
    expect(r[3].status).toBe('l4-timeout');
    expect(r[0].message).toContain('reply');
  });

  it("another process's echo replies are not taken for ours", async () => {
    // Process 1 pings the silent address while process 2 pings the answering one: process 1's raw
    // socket sees process 2's replies (other identifier, other source) and must ignore them.
    // Both processes wait the same: 2 s plus two process starts at the machine's current start time.
    // Beside a CPU hog a fixed 1 s for process 2 ran out while its checks were still loading the raw
    // socket; the silent one must still be listening while process 2's replies come in.
    const t = 2 + Math.ceil((2 * nodeStartMs()) / 1000);
    const [silent, busy] = await Promise.all([
      runInNs([{ ip: '10.200.77.3', family: 4 }], { checktimeout: t }),
      runInNs(Array.from({ length: 20 }, () => ({ ip: '10.200.77.2', family: 4 as const })), { checktimeout: t }),
    ]);
    expect(busy.every((x) => x.ok)).toBe(true);
    expect(silent[0].ok).toBe(false);
  });

  it('checkcount attempts before giving up', async () => {
    const [r] = await runInNs([{ ip: '10.200.77.3', family: 4 }], { checkcount: 2, checktimeout: 1 });
    expect(r.ok).toBe(false);
    expect(r.message).toContain('2 attempt(s)');
    expect(r.durationMs).toBeGreaterThanOrEqual(1900);
  });

  it('without CAP_NET_RAW: a clear internal error', async () => {
    const haveSetpriv = spawnSync('setpriv', ['--version']).status === 0;
    if (!haveSetpriv) return console.warn('setpriv missing: skipping the unprivileged ping case');
    const [r] = await runInNs([{ ip: '10.200.77.2', family: 4 }], { user: true });
    expect(r.ok).toBe(false);
    expect(r.status).toBe('internal');
    expect(r.message).toContain('CAP_NET_RAW');
  });
});
