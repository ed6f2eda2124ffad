// The daemon with maxconcurrentchecks and checkspread (ours, issue 20), against real HTTP servers on
// 127.0.0.0/8 and the simulated IPVS table. What is asserted is counted at the servers' side (requests
// open at once, the order they arrive in), not measured in time.
import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, ld, tmp, until, read, killPidFile } from '../cli/helpers.js';
import { freePort } from '../support/net.js';
import { parseConfigText } from '../../src/config/parse.js';
import { spreadOffset } from '../../src/checks/pacing.js';
import { realIdString } from '../../src/checks/target.js';

/** HTTP real servers (one per address, one port) that hold each request until `hold` lets it go. */
class Farm {
  readonly servers: http.Server[] = [];
  readonly arrivals: string[] = [];
  /** Requests already open when each arrival came. */
  readonly openAtArrival: number[] = [];
  open = 0;
  most = 0;
  private held: (() => void)[] = [];
  /** Decides, when a request arrives, whether it is answered at once (else it waits for release()). */
  answerAtOnce: (ip: string) => boolean = () => true;

  async listen(ips: readonly string[], port: number): Promise<void> {
    for (const ip of ips) {
      const s = http.createServer((_req, res) => {
        this.arrivals.push(ip);
        this.openAtArrival.push(this.open);
        this.open++;
        this.most = Math.max(this.most, this.open);
        const answer = () => {
          this.open--;
          res.end('OK');
        };
        if (this.answerAtOnce(ip)) setTimeout(answer, 30); // long enough to overlap another arrival
        else this.held.push(answer);
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, ip, () => resolve());
      });
      this.servers.push(s);
    }
  }
  /** Answers the oldest held request. */
  release(): void {
    this.held.shift()?.();
  }
  get holding(): number {
    return this.held.length;
  }
  async close(): Promise<void> {
    for (const a of this.held.splice(0)) a();
    await Promise.all(
      this.servers.splice(0).map(
        (s) =>
          new Promise<void>((r) => {
            s.close(() => r());
            s.closeAllConnections();
          }),
      ),
    );
  }
}

const REALS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7'];

describe('daemon: maxconcurrentchecks and checkspread with real servers', () => {
  let dir: string;
  let farm: Farm;
  beforeAll(() => build());
  afterEach(async () => {
    killPidFile(join(dir, 'ldirectord.k.cf.pid'));
    await farm.close();
  });

  const conf = (log: string, port: number, reals: readonly string[], extra: string, interval = 5) =>
    `logfile="${log}"\ncheckinterval=${interval}\nnegotiatetimeout=20\nchecktimeout=20\n${extra}virtual=127.0.0.1:${port}\n` +
    reals.map((r) => `\treal=${r}:${port} masq\n`).join('') +
    `\tservice=http\n\trequest="health"\n\treceive="OK"\n`;

  async function run(extra: string, drive: () => Promise<void>, reals = REALS, interval = 5, port?: number): Promise<string> {
    dir = tmp('knobs-');
    farm = new Farm();
    port ??= await freePort('127.0.0.2');
    const log = join(dir, 'ld.log');
    writeFileSync(join(dir, 'k.cf'), conf(log, port, reals, extra, interval));
    await farm.listen(reals, port);
    const env = { LDIRECTORD_RUNDIR: dir, LDIRECTORD_SIM_STATE: join(dir, 'table.json') };
    // `start` returns once the first pass is done, which the test holds: run it alongside.
    const started = ld(['./k.cf', 'start'], { cwd: dir, env });
    await drive();
    expect((await started).code).toBe(0);
    return log;
  }

  it('without maxconcurrentchecks every check of the first pass is in flight at once (the burst)', async () => {
    await run('', async () => {
      farm.answerAtOnce = () => false;
      await until(() => farm.open === 6, 20_000, 'six requests open at once');
      while (farm.holding) farm.release();
    });
    expect(farm.most).toBe(6);
  });

  it('maxconcurrentchecks=2: never more than two requests open at the servers; every real is checked, in order', async () => {
    const log = await run('maxconcurrentchecks=2\n', async () => {
      farm.answerAtOnce = () => false;
      await until(() => farm.open === 2, 20_000, 'two requests open');
      for (let served = 1; served <= 6; served++) {
        farm.release();
        if (served <= 4) await until(() => farm.open === 2, 20_000, `two open again after ${served} answered`);
      }
    });
    expect(farm.most).toBe(2);
    expect(farm.arrivals.slice(0, 6)).toEqual(REALS);
    // all six went up in the table
    await until(() => (read(join(dir, 'table.json')).match(/"weight": ?1\b/g) ?? []).length === 6, 20_000, 'six reals in the table');
    expect(read(log)).not.toContain('wait longer than their checkinterval');
  });

  it('checkspread=yes: the reals are checked one at a time, in the order of their offsets, again each interval', async () => {
    // Four reals whose offsets within checkinterval=2 lie at least 300 ms apart (around the circle).
    const port = await freePort('127.0.0.2');
    const candidates = Array.from({ length: 200 }, (_, i) => `127.0.0.${i + 10}`);
    const parsed = await parseConfigText(conf('/dev/null', port, candidates, 'checkspread=yes\n', 2), 'k.cf', { checkFiles: false });
    const v = parsed.virtuals[0];
    const offset = new Map(v.reals.map((r) => [r.ip, spreadOffset(v.vid, realIdString(v, r), 2000)]));
    const picked: string[] = [];
    const gap = (a: number, b: number) => Math.min(Math.abs(a - b), 2000 - Math.abs(a - b));
    for (const ip of candidates) {
      if (picked.every((p) => gap(offset.get(p)!, offset.get(ip)!) >= 300)) picked.push(ip);
      if (picked.length === 4) break;
    }
    expect(picked).toHaveLength(4);
    const byOffset = [...picked].sort((a, b) => offset.get(a)! - offset.get(b)!);

    await run('checkspread=yes\n', async () => {
      await until(() => farm.arrivals.length >= 12, 30_000, 'three rounds of checks');
    }, picked, 2, port);
    // The first round is not judged: the daemon loads its HTTP client at the first check, which may hold
    // up the next one on a busy machine. From then on: each real answers after 30 ms, the reals are spread
    // 300 ms apart, and no request found another one open.
    expect(farm.openAtArrival.slice(4, 12)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    // Each round goes in the order of the offsets, starting wherever the start fell in the interval.
    const first = byOffset.indexOf(farm.arrivals[4]);
    const rotated = [...byOffset.slice(first), ...byOffset.slice(0, first)];
    expect(farm.arrivals.slice(4, 12)).toEqual([...rotated, ...rotated]);
    expect(new Set(farm.arrivals.slice(0, 4))).toEqual(new Set(picked));
  });
});
