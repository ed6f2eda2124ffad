import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pair, Real, buildOnce, skipReason } from './harness.js';
import { readFakeLog } from '../../fake-ipvsadm/install.js';
import { FIELD_CASES, type FieldOp } from './field-cases.js';

const reason = skipReason();

/**
 * Cases run a few at a time (LDIRECTORD_DIFF_CONCURRENCY, default 4): the original calls ipvsadm (here a
 * node process) several times per change, and on a loaded 2-core machine too many at once only
 * slows every case down.
 */
const LIMIT = Math.max(1, Number(process.env.LDIRECTORD_DIFF_CONCURRENCY ?? 4));
let active = 0;
const waiting: (() => void)[] = [];
async function slot(): Promise<() => void> {
  if (active >= LIMIT) await new Promise<void>((r) => waiting.push(r));
  active++;
  return () => {
    active--;
    waiting.shift()?.();
  };
}
if (reason) console.warn(`differential runtime suite skipped: ${reason}`);

/** Each case's own /24 inside 127.0.0.0/8, away from the blocks other suites use (127.0.0.x). */
const net = (n: number): string => `127.${(process.pid % 150) + 100}.${n}`;

interface Ctx {
  pair: Pair;
  /** Rewrites the config (same substitutions as the case's) and HUPs both daemons. */
  reload: (cf: string) => void;
  real: (i: number) => Real;
  /** Creates (or removes) a file in each side's maintenance directory. */
  maint: (file: string, present: boolean) => void;
}
interface Step {
  name: string;
  act?: (c: Ctx) => Promise<void> | void;
  /** Time to let both daemons react before waiting for them to agree. */
  minMs: number;
}
interface Case {
  name: string;
  /** Config text; `N` in addresses is replaced by the case's own 127.0.N.x block, @DIR@ by the side's dir. */
  cf: string;
  /** Real servers `[host byte, port, listening at start]`, on 127.0.N.<host>. */
  reals: [number, number, boolean][];
  /** ipvsadm -R text loaded into both fakes before start (restart over an existing table). */
  pre?: string;
  steps: Step[];
}

const G = 'checktimeout=1\ncheckinterval=1\n';
const kill = (i: number): Step => ({ name: `kill real ${i}`, act: (c) => c.real(i).kill(), minMs: 4000 });
const revive = (i: number): Step => ({ name: `start real ${i}`, act: (c) => c.real(i).listen(), minMs: 3000 });

/** A shared field case's step, acted on this suite's pair. */
function fieldAct(op: FieldOp): (c: Ctx) => Promise<void> | void {
  switch (op.kind) {
    case 'kill':
      return (c) => c.real(op.host).kill();
    case 'revive':
      return (c) => c.real(op.host).listen();
    case 'maint':
      return (c) => c.maint(op.file, op.present);
    case 'reload':
      return (c) => c.reload(op.cf);
  }
}

const CASES: Case[] = [
  {
    name: 'quiescent=no, masq, one real down at start, killed and revived',
    cf: `${G}quiescent=no\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq 2\n\treal=127.0.N.3:8000 masq 3\n\tchecktype=connect\n\tscheduler=wrr\n`,
    reals: [[2, 8000, true], [3, 8000, false]],
    steps: [kill(2), revive(3), revive(2)],
  },
  {
    name: 'quiescent=yes, failurecount=2',
    cf: `${G}quiescent=yes\nfailurecount=2\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq 2\n\treal=127.0.N.3:8000 masq\n\tchecktype=connect\n`,
    reals: [[2, 8000, true], [3, 8000, false]],
    steps: [kill(2), revive(3), revive(2)],
  },
  {
    name: 'fallback server while every real is down',
    cf: `${G}quiescent=no\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq\n\tfallback=127.0.N.9:8000 masq\n\tchecktype=connect\n`,
    reals: [[2, 8000, false], [3, 8000, false]],
    steps: [revive(2), kill(2)],
  },
  {
    name: 'global fallback, quiescent=yes',
    cf: `${G}quiescent=yes\nfallback=127.0.N.9:8000 masq\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq\n\tchecktype=connect\n`,
    reals: [[2, 8000, false], [3, 8000, true]],
    steps: [kill(3), revive(2)],
  },
  {
    name: 'PFWM: firewall-mark service with persistence and netmask',
    cf: `${G}quiescent=no\nvirtual=1N\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq 4\n\tchecktype=connect\n\tpersistent=600\n\tnetmask=255.255.255.0\n\tscheduler=wlc\n`,
    reals: [[2, 8000, true], [3, 8000, true]],
    steps: [kill(3), revive(3)],
  },
  {
    name: 'PCC: port 0 persistent service, gate reals',
    cf: `${G}quiescent=no\nvirtual=127.0.N.100:0\n\treal=127.0.N.2:8000 gate\n\treal=127.0.N.3:8000 gate\n\tchecktype=connect\n\tpersistent=300\n`,
    reals: [[2, 8000, true], [3, 8000, false]],
    steps: [revive(3), kill(2)],
  },
  {
    name: 'UDP service (connect = ping on udp), ops and sh with flags',
    cf: `${G}quiescent=no\nvirtual=127.0.N.100:53\n\treal=127.0.N.2:53 masq\n\treal=127.0.N.3:5353 masq 3\n\tprotocol=udp\n\tchecktype=connect\n\tscheduler=sh\n\tschedflags=sh-port\n\tops=yes\n`,
    reals: [],
    steps: [],
  },
  {
    name: 'shared real across two virtuals (double counted failures), quiescent=yes failurecount=3',
    cf: `${G}quiescent=yes\nfailurecount=3\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq\n\tchecktype=connect\nvirtual=127.0.N.101:80\n\treal=127.0.N.2:8000 masq\n\tchecktype=connect\n`,
    reals: [[2, 8000, true], [3, 8000, true]],
    steps: [kill(2), revive(2), kill(3)],
  },
  {
    name: 'shared real, quiescent=no, failurecount=2, a third virtual on its own',
    cf: `${G}quiescent=no\nfailurecount=2\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\tchecktype=connect\nvirtual=127.0.N.101:443\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.4:8000 masq\n\tchecktype=connect\nvirtual=127.0.N.102:80\n\treal=127.0.N.4:8000 masq\n\tchecktype=connect\n\tfailurecount=1\n`,
    reals: [[2, 8000, true], [4, 8000, true]],
    steps: [kill(2), kill(4), revive(2)],
  },
  {
    name: 'maintenance file ip:port, quiescent=no',
    cf: `${G}quiescent=no\nmaintenancedir=@DIR@/maint\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq\n\tchecktype=connect\n`,
    reals: [[2, 8000, true], [3, 8000, true]],
    steps: [
      { name: 'maintenance 127.0.N.2:8000', act: (c) => c.maint('127.0.N.2:8000', true), minMs: 3000 },
      { name: 'end of maintenance', act: (c) => c.maint('127.0.N.2:8000', false), minMs: 3000 },
    ],
  },
  {
    name: 'maintenance file by ip, quiescent=yes, fallback',
    cf: `${G}quiescent=yes\nmaintenancedir=@DIR@/maint\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\tfallback=127.0.N.9:80 masq\n\tchecktype=connect\n`,
    reals: [[2, 8000, true]],
    steps: [
      { name: 'maintenance 127.0.N.2', act: (c) => c.maint('127.0.N.2', true), minMs: 3000 },
      { name: 'end of maintenance', act: (c) => c.maint('127.0.N.2', false), minMs: 3000 },
    ],
  },
  {
    name: 'restart over an existing table: stale real purged, weight-0 and missing reals, unmanaged service kept',
    cf: `${G}quiescent=no\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq\n\treal=127.0.N.4:8000 masq\n\tchecktype=connect\n\tscheduler=wlc\n`,
    pre: '-A -t 127.0.N.100:80 -s wrr\n-a -t 127.0.N.100:80 -r 127.0.N.2:8000 -m -w 1\n-a -t 127.0.N.100:80 -r 127.0.N.3:8000 -m -w 0\n-a -t 127.0.N.100:80 -r 127.0.N.7:8000 -m -w 1\n-A -t 127.0.N.101:80 -s rr\n-a -t 127.0.N.101:80 -r 127.0.N.8:80 -m -w 1\n',
    reals: [[2, 8000, true], [3, 8000, true], [4, 8000, false]],
    steps: [kill(2), revive(4)],
  },
  {
    name: 'restart over an existing table with quiescent=yes: a dead real listed at weight 1',
    cf: `${G}quiescent=yes\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq 2\n\treal=127.0.N.3:8000 masq\n\tchecktype=connect\n`,
    pre: '-A -t 127.0.N.100:80 -s wrr\n-a -t 127.0.N.100:80 -r 127.0.N.2:8000 -m -w 1\n-a -t 127.0.N.100:80 -r 127.0.N.3:8000 -m -w 1\n',
    reals: [[2, 8000, true], [3, 8000, false]],
    steps: [revive(3)],
  },
  {
    name: 'gate reals on another port than the service (kernel rewrites the port), quiescent=no',
    cf: `${G}quiescent=no\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 gate\n\treal=127.0.N.3:8000 ipip\n\tchecktype=connect\n`,
    reals: [[2, 8000, true], [3, 8000, true]],
    steps: [kill(2), revive(2)],
  },
  {
    name: 'cleanstop=no leaves the table at stop',
    cf: `${G}quiescent=no\ncleanstop=no\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq\n\tchecktype=connect\n`,
    reals: [[2, 8000, true], [3, 8000, false]],
    steps: [revive(3)],
  },
  {
    name: 'checktype=on (always up) next to a connect virtual',
    cf: `${G}quiescent=no\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq\n\tchecktype=on\nvirtual=127.0.N.101:80\n\treal=127.0.N.3:8000 masq\n\tchecktype=connect\n`,
    reals: [[2, 8000, false], [3, 8000, false]],
    steps: [revive(3)],
  },
  {
    name: 'readdquiescent=yes with quiescent=yes, reals coming and going',
    cf: `${G}quiescent=yes\nreaddquiescent=yes\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq 5\n\tchecktype=connect\n`,
    reals: [[2, 8000, false], [3, 8000, true]],
    steps: [revive(2), kill(3)],
  },
  {
    name: 'reload (HUP): a real and a virtual removed, a weight changed, a real added',
    cf: `${G}quiescent=yes\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq\n\tchecktype=connect\nvirtual=127.0.N.101:80\n\treal=127.0.N.4:8000 masq\n\tchecktype=connect\n`,
    reals: [[2, 8000, true], [3, 8000, false], [4, 8000, true], [5, 8000, true]],
    steps: [
      {
        name: 'reload',
        act: (c) => c.reload(`${G}quiescent=yes\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq 7\n\treal=127.0.N.5:8000 masq\n\tchecktype=connect\n`),
        minMs: 5000,
      },
      kill(2),
    ],
  },
  {
    name: 'restart over the table left by cleanstop=no (quiescent=no, fallback)',
    cf: `${G}quiescent=no\ncleanstop=no\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq\n\tfallback=127.0.N.9:8000 masq\n\tchecktype=connect\n`,
    reals: [[2, 8000, true], [3, 8000, true]],
    steps: [
      kill(3),
      { name: 'restart with real 3 back', act: async (c) => { await c.real(3).listen(); await c.pair.restart(); }, minMs: 6000 },
      { name: 'both down, restart', act: async (c) => { await c.real(2).kill(); await c.real(3).kill(); await c.pair.restart(); }, minMs: 6000 },
    ],
  },
  // The field cases, shared with the kernel suite (test/kernel/fields.ts runs them on the real kernel).
  ...FIELD_CASES.map(
    (f): Case => ({
      name: f.name,
      cf: f.cf,
      reals: f.reals.map(([h, p, on]) => [h, p, on] as [number, number, boolean]),
      steps: f.steps.map((st) => ({ name: st.name, minMs: st.minMs, act: fieldAct(st.op) })),
    }),
  ),
];

describe.skipIf(Boolean(reason))('differential runtime: Perl original vs ours, same fake ipvsadm, same reals', () => {
  beforeAll(() => buildOnce(), 180_000);
  const pairs: Pair[] = [];
  afterAll(() => {
    for (const p of pairs) p.cleanup();
  });

  CASES.forEach((k, idx) => {
    it.concurrent(k.name, { timeout: 900_000 }, async () => {
      const release = await slot();
      const n = 10 + idx;
      const cf = k.cf.replaceAll('127.0.N.', `${net(n)}.`).replace(/^virtual=1N$/m, `virtual=1${n}`);
      const pair = new Pair(cf);
      pairs.push(pair);
      const reals = new Map<number, Real>();
      for (const [h, port] of k.reals) reals.set(h, new Real(`${net(n)}.${h}`, port));
      const ctx: Ctx = {
        pair,
        reload: (text) => pair.hup(text.replaceAll('127.0.N.', `${net(n)}.`)),
        real: (i) => reals.get(i)!,
        maint: (file, present) => {
          for (const s of pair.sides) {
            const d = join(s.dir, 'maint');
            mkdirSync(d, { recursive: true });
            if (present) writeFileSync(join(d, file.replaceAll('127.0.N.', `${net(n)}.`)), '');
            else rmSync(join(d, file.replaceAll('127.0.N.', `${net(n)}.`)), { force: true });
          }
        },
      };
      for (const s of pair.sides) mkdirSync(join(s.dir, 'maint'), { recursive: true });
      try {
        for (const [h, , on] of k.reals) if (on) await reals.get(h)!.listen();
        if (k.pre) pair.preload(k.pre.replaceAll('127.0.N.', `${net(n)}.`));
        pair.start();
        const seen: string[] = [];
        const check = async (name: string, minMs: number, mustChange = false) => {
          const [a, b] = await pair.settle(minMs, undefined, undefined, undefined, mustChange);
          seen.push(`${name}:\n${a}`);
          expect(b, `checkpoint "${name}" of "${k.name}"\n${pair.logs()}`).toBe(a);
        };
        // Every start writes the table (a service at least): its checkpoint waits for that, not a time.
        await check('after start', 6000, true);
        for (const st of k.steps) {
          await st.act?.(ctx);
          await check(st.name, st.minMs);
        }
        await pair.stop();
        const counts = pair.sides.map((sd) => `${sd.name} ${readFakeLog(join(sd.dir, 'ipvsadm.log')).length}`);
        console.log(`ipvsadm processes for "${k.name}": ${counts.join(', ')}`);
        const [a, b] = pair.tables();
        expect(b, `final table after stop of "${k.name}"\n${pair.logs()}`).toBe(a);
        // The run must have gone through more than one distinct table (the scenario did something).
        if (k.steps.length > 0) expect(new Set(seen.map((s) => s.split(':\n')[1])).size, seen.join('\n')).toBeGreaterThan(1);
        else expect(seen[0].split(':\n')[1], 'the table is not empty').not.toBe('');
      } finally {
        await pair.stop();
        for (const r of reals.values()) await r.kill();
        release();
      }
    });
  });
});
