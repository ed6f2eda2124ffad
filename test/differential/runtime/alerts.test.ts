/**
 * Differential alert mail: the Perl original and ours, same config, same fake ipvsadm, same real servers,
 * each mailing its own SMTP sink (smtp-server on port 25 of its own 127.x address: the original dials
 * port 25 whatever smtp= says). At every checkpoint both sides must have mailed the same messages
 * (subject, Daemon-Status, recipient, From), in every phase: start, running, reload, stop. At stop the
 * mails must have arrived by the time the process is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { Pair, Real, buildOnce, skipReason, sleep } from './harness.js';
import { processBudgetMs } from '../../support/load.js';

const reason = skipReason() ?? (process.getuid?.() === 0 ? undefined : 'the SMTP sinks need port 25 (root)');
if (reason) console.warn(`differential alert suite skipped: ${reason}`);

/** Three cases at a time: each runs two daemons, and the original runs a node process per ipvsadm call; the cases mostly wait. */
const LIMIT = Math.max(1, Number(process.env.LDIRECTORD_DIFF_CONCURRENCY ?? 3));
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

/** Each case's own /24 inside 127.0.0.0/8 (the runtime suite uses blocks 10..40 of the same scheme). */
const net = (n: number): string => `127.${(process.pid % 150) + 100}.${n}`;

/** One received mail, as compared: `<Daemon-Status> | <Subject> | to <rcpt> | from <From:>`. */
class Sink {
  readonly mails: string[] = [];
  private server?: SMTPServer;
  constructor(readonly ip: string) {}
  async listen(): Promise<void> {
    const mails = this.mails;
    const s = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, cb) {
        let data = '';
        stream.on('data', (c: Buffer) => (data += c.toString()));
        stream.on('end', () => {
          const text = data.replace(/\r\n/g, '\n').replace(/\n[ \t]+/g, ' ');
          const header = (h: string) => new RegExp(`^${h}: (.*)$`, 'mi').exec(text)?.[1]?.trim() ?? '';
          const status = /^Daemon-Status: (.*)$/m.exec(text)?.[1]?.trim() ?? '?';
          const rcpt = session.envelope.rcptTo.map((r) => r.address).join(',');
          mails.push(`${status} | ${header('Subject')} | to ${rcpt} | from ${header('From')}`);
          cb();
        });
      },
    });
    // A client that resets its connection (the original's Net::SMTP sends QUIT after refused commands
    // and may be gone before the answer) is an 'error' event of the server: not a test failure.
    s.on('error', () => {});
    this.server = s;
    await new Promise<void>((res, rej) => {
      s.server.once('error', rej);
      s.listen(25, this.ip, () => res());
    });
  }
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

interface Ctx {
  pair: Pair;
  real: (i: number) => Real;
  reload: (cf: string) => void;
}
interface Step {
  name: string;
  act: (c: Ctx) => Promise<void> | void;
  minMs: number;
  /**
   * How long no new mail must arrive before the checkpoint holds (default 2.5 s). A restart's start
   * phase mails its own add/check/re-add sequence in status "starting"; the next step must not act
   * inside it, or the status of a mail depends on which side had finished starting.
   */
  quietMs?: () => number;
}
interface Case {
  name: string;
  /** `N` in addresses is the case's block; smtp=@SMTP@ is each side's sink. */
  cf: string;
  reals: [number, number, boolean][];
  pre?: string;
  steps: Step[];
  /** The original's mails must include these (subjects, with the case's block): the case did something. */
  expectSome: string[];
  /** Subjects neither side may have delivered (a recipient the sink refuses). */
  expectNone?: string[];
  /**
   * Compare the sets of distinct mails, not the multisets: for resends at emailalertfreq, whose count in
   * a window depends on when each daemon's loop came round (the subjects must still be the same).
   */
  distinct?: boolean;
}

/** smtp= names port 2526, which both must drop (the sinks listen on 25 only); smtpuseport is off. */
const G = 'checktimeout=1\ncheckinterval=1\nemailalert=ops@example.org\nsmtp=@SMTP@:2526\n';
const kill = (i: number): Step => ({ name: `kill real ${i}`, act: (c) => c.real(i).kill(), minMs: 4000 });
const revive = (i: number): Step => ({ name: `start real ${i}`, act: (c) => c.real(i).listen(), minMs: 3000 });
// The original's start phase runs ipvsadm (a node process here) some 8 times per real before it runs.
const restart: Step = { name: 'restart', act: (c) => c.pair.restart(), minMs: 8000, quietMs: () => processBudgetMs(16, 3000) };
const wait = (ms: number): Step => ({ name: `${ms / 1000} s later`, act: () => {}, minMs: ms });

const CASES: Case[] = [
  {
    // The second virtual mails a list through smtp= (emailalertsplit off): Net::SMTP sends it as one
    // recipient, RCPT TO:<a@example.org, b@example.org>, which the sink refuses: no mail for it, either side.
    name: 'start, a real killed and revived with a fallback, then stop (purges mailed in "stopping"); an emailalert list refused as one recipient',
    cf: `${G}quiescent=no\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq 2\n\treal=127.0.N.3:8000 masq\n\tfallback=127.0.N.9:8000 masq\n\tchecktype=connect\n\tservicename=web\n\tcomment=front farm\nvirtual=127.0.N.101:80\n\treal=127.0.N.4:8000 masq\n\temailalert="a@example.org, b@example.org"\n\tchecktype=connect\n`,
    reals: [[2, 8000, true], [3, 8000, true], [4, 8000, true]],
    steps: [kill(2), kill(3), kill(4), revive(2)],
    expectSome: ['Purged real server (stop): 127.0.N.2:8000 (127.0.N.100:80)', 'Added fallback server: 127.0.N.9:8000 (127.0.N.100:80) (Weight set to 1)'],
    expectNone: ['Deleted real server: 127.0.N.4:8000 (127.0.N.101:80)'],
  },
  {
    name: 'stop with every real down (quiescent=yes, fallback in): nothing purged, nothing mailed at stop',
    cf: `${G}quiescent=yes\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq 3\n\tfallback=127.0.N.9:8000 masq\n\tchecktype=connect\n`,
    reals: [[2, 8000, false], [3, 8000, false]],
    steps: [],
    expectSome: ['Quiescent real server: 127.0.N.3:8000 (127.0.N.100:80) (Weight set to 0)'],
  },
  {
    name: 'restart over the table a cleanstop=no daemon left, one real down meanwhile',
    cf: `${G}quiescent=no\ncleanstop=no\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq\n\tchecktype=connect\n`,
    reals: [[2, 8000, true], [3, 8000, true]],
    steps: [kill(3), restart, revive(3), restart],
    expectSome: ['Deleted real server: 127.0.N.3:8000 (127.0.N.100:80)'],
  },
  {
    name: 'restart (cleanstop=yes) with quiescent=yes, readdquiescent=yes, an entry left by someone else',
    cf: `${G}quiescent=yes\nreaddquiescent=yes\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq\n\tchecktype=connect\n`,
    pre: '-A -t 127.0.N.100:80 -s wrr\n-a -t 127.0.N.100:80 -r 127.0.N.7:8000 -m -w 1\n',
    reals: [[2, 8000, true], [3, 8000, false]],
    steps: [restart, revive(3)],
    expectSome: ['Purged real server (start): 127.0.N.7:8000 (127.0.N.100:80)', 'Quiescent real server: 127.0.N.3:8000 (127.0.N.100:80) (Weight set to 0)'],
  },
  {
    name: 'reload (HUP): a weight changed, a real added, one removed, one down all along',
    cf: `${G}quiescent=yes\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\treal=127.0.N.3:8000 masq\n\treal=127.0.N.4:8000 masq\n\tchecktype=connect\n`,
    reals: [[2, 8000, true], [3, 8000, false], [4, 8000, true], [5, 8000, true]],
    steps: [
      {
        name: 'reload',
        act: (c) => c.reload(`${G}quiescent=yes\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq 5\n\treal=127.0.N.3:8000 masq\n\treal=127.0.N.5:8000 masq\n\tchecktype=connect\n`),
        minMs: 5000,
      },
    ],
    expectSome: ['Restored real server: 127.0.N.2:8000 (127.0.N.100:80) (Weight set to 5)'],
  },
  {
    // emailalertfreq: a real that stays down is resent as "Inaccessible real server"; the fallback's
    // Added/Deleted mails carry no alert time in the original, so it is never resent (quiescent or not).
    name: 'emailalertfreq=1: reals down resent, the fallback never (quiescent=no and =yes)',
    cf: `checktimeout=1\ncheckinterval=1\nemailalert=ops@example.org\nsmtp=@SMTP@\nemailalertfreq=1\nvirtual=127.0.N.100:80\n\treal=127.0.N.2:8000 masq\n\tfallback=127.0.N.9:8000 masq\n\tquiescent=no\n\tchecktype=connect\nvirtual=127.0.N.101:80\n\treal=127.0.N.3:8000 masq\n\tfallback=127.0.N.9:8000 masq\n\tquiescent=yes\n\tchecktype=connect\n`,
    reals: [[2, 8000, false], [3, 8000, false]],
    steps: [wait(3000), revive(2), revive(3)],
    expectSome: [
      'Inaccessible real server: 127.0.N.2:8000 (127.0.N.100:80)',
      'Inaccessible real server: 127.0.N.3:8000 (127.0.N.101:80)',
      'Deleted fallback server: 127.0.N.9:8000 (127.0.N.100:80)',
    ],
    distinct: true,
  },
];

describe.skipIf(Boolean(reason))('differential alert mail: Perl original vs ours, same SMTP sink kind', () => {
  beforeAll(() => buildOnce(), 180_000);
  const pairs: Pair[] = [];
  afterAll(() => {
    for (const p of pairs) p.cleanup();
  });

  CASES.forEach((k, idx) => {
    it.concurrent(k.name, { timeout: 900_000 }, async () => {
      const queued = Date.now();
      const release = await slot();
      const began = Date.now();
      const n = 60 + idx;
      const sub = (t: string) => t.replaceAll('127.0.N.', `${net(n)}.`);
      const sinks = { orig: new Sink(`${net(n)}.251`), ours: new Sink(`${net(n)}.252`) };
      const pair = new Pair(sub(k.cf), { orig: { '@SMTP@': sinks.orig.ip }, ours: { '@SMTP@': sinks.ours.ip } });
      pairs.push(pair);
      const reals = new Map<number, Real>();
      for (const [h, port] of k.reals) reals.set(h, new Real(`${net(n)}.${h}`, port));
      const ctx: Ctx = { pair, real: (i) => reals.get(i)!, reload: (cf) => pair.hup(sub(cf)) };
      const view = (mails: string[]) => (k.distinct ? [...new Set(mails)] : [...mails]).sort();
      const both = () => `orig:\n  ${sinks.orig.mails.join('\n  ')}\nours:\n  ${sinks.ours.mails.join('\n  ')}\n${pair.logs()}`;
      /**
       * Waits minMs, or less once both sides have mailed since the call and agree (both reacted); then
       * until both sides' mails are the same multiset and unchanged for 2.5 s. It gives up (and the
       * checkpoint shows the difference) once nothing has arrived for 30 s while they differ: a slow
       * side (the original under load runs a node process per ipvsadm call) is waited for as long as it
       * makes progress, up to 5 minutes; with
       * `started`, also until both have mailed something (every case mails at start, and a loaded
       * machine can take many seconds to start the Perl original).
       */
      const settle = async (minMs: number, started = false, quietMs = 2500): Promise<void> => {
        const n0 = [sinks.orig.mails.length, sinks.ours.mails.length];
        const tm = Date.now();
        while (Date.now() - tm < minMs) {
          if (sinks.orig.mails.length > n0[0] && sinks.ours.mails.length > n0[1] && view(sinks.orig.mails).join('\n') === view(sinks.ours.mails).join('\n')) break;
          await sleep(200);
        }
        if (started) {
          const t = Date.now();
          while ((sinks.orig.mails.length === 0 || sinks.ours.mails.length === 0) && Date.now() - t < 120_000) await sleep(200);
        }
        const t0 = Date.now();
        let last = '';
        let since = Date.now();
        for (;;) {
          const key = k.distinct ? `${view(sinks.orig.mails).join('\n')}\u0000${view(sinks.ours.mails).join('\n')}` : `${sinks.orig.mails.length}/${sinks.ours.mails.length}`;
          if (key !== last) {
            last = key;
            since = Date.now();
          }
          const same = view(sinks.orig.mails).join('\n') === view(sinks.ours.mails).join('\n');
          if (same ? Date.now() - since >= quietMs : Date.now() - since >= 30_000 || Date.now() - t0 > 300_000) return;
          await sleep(200);
        }
      };
      const marks: string[] = [];
      const check = (name: string) => {
        marks.push(`${name} ${((Date.now() - began) / 1000).toFixed(1)}`);
        expect(view(sinks.ours.mails), `checkpoint "${name}" of "${k.name}"\n${both()}`).toEqual(view(sinks.orig.mails));
      };
      try {
        await sinks.orig.listen();
        await sinks.ours.listen();
        for (const [h, , on] of k.reals) if (on) await reals.get(h)!.listen();
        if (k.pre) pair.preload(sub(k.pre));
        pair.start();
        await settle(6000, true);
        check('after start');
        for (const st of k.steps) {
          await st.act(ctx);
          await settle(st.minMs, false, st.quietMs?.() ?? 2500);
          check(st.name);
        }
        // Stop: whatever the stop mails must be in the sinks by the time both processes are gone.
        await pair.stop();
        check('at exit after stop');
        const subjects = sinks.orig.mails.map((m) => m.split(' | ')[1].replace(/^\[[^\]]*\] /, ''));
        for (const s of k.expectSome) expect(subjects, both()).toContain(sub(s));
        const oursSubjects = sinks.ours.mails.map((m) => m.split(' | ')[1].replace(/^\[[^\]]*\] /, ''));
        for (const s of k.expectNone ?? []) {
          expect(subjects, both()).not.toContain(sub(s));
          expect(oursSubjects, both()).not.toContain(sub(s));
        }
        console.log(`mails for "${k.name}": ${sinks.orig.mails.length} each; ${((Date.now() - began) / 1000).toFixed(1)} s run after ${((began - queued) / 1000).toFixed(1)} s waiting for a slot; checkpoints at: ${marks.join(', ')}`);
      } finally {
        await pair.stop();
        for (const r of reals.values()) await r.kill();
        await sinks.orig.close();
        await sinks.ours.close();
        release();
      }
    });
  });
});
