/**
 * Our daemon on the real kernel: each scenario of scenarios.ts (config, local real servers, STEPS of
 * action + wait + checkpoint) runs in the VM with the real ipvsadm (every scenario in its own network
 * namespace, in two parallel lanes, one VM boot for all) and on the host with the fake (one at a time). Every checkpoint's
 * `ipvsadm -S -n` (and `-L -n --thresholds` where asked) must be the step's expected table on each
 * side and equal real vs fake, except where a step declares the difference. Scenarios run through the
 * logging ./ipvsadm wrapper also check, from its log, how the driver talks to ipvsadm.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installFakeIpvsadm } from '../fake-ipvsadm/install.js';
import { expectedTable, scenarioFiles, SCENARIOS, sortedTable, withPorts, type Scenario, type Step } from './scenarios.js';
import { recordSummary } from './summary.js';
import { kernelHarnessMissing, runVm, VM_SCHEDULERS, type VmResult } from './vm.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DAEMON = join(ROOT, 'bin/ldirectord.js');
const missing =
  kernelHarnessMissing() ??
  (!existsSync(join(ROOT, 'dist/cli/main.js')) ? 'dist/cli/main.js not built (npx tsc -p tsconfig.json)' : undefined) ??
  (!existsSync('/usr/bin/socat') ? 'socat missing (real servers in the VM)' : undefined) ??
  (!existsSync('/usr/bin/unshare') ? 'unshare missing (one network namespace per scenario in the VM)' : undefined) ??
  (!existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip') && !existsSync('/bin/ip') ? 'ip (iproute2) missing (lo up in each namespace)' : undefined);
if (missing) console.warn(`kernel daemon scenarios skipped: ${missing}`);

/** What the driver appends to every `-R` batch to read the table back (src/ipvs/ipvsadm-driver.ts READ_LINES). */
const READ_LINES = '-L -n\n-L -n --thresholds\n';
const LANES = 2;
/** The VM lane of each scenario (the CLI restart scenario, with five node starts, shares its lane with the shortest). */
const LANE_OF = [0, 1, 1, 0];
/**
 * The same scenarios with the daemon on the netlink driver (LDIRECTORD_IPVS_DRIVER=netlink) run in the
 * same VM boot, in LANES more lanes, each in its own network namespace; ./ipvsadm is the logging
 * wrapper there, so any ipvsadm the daemon started would be counted.
 */
const NETLINK_LANES = 2;
/**
 * LDIRECTORD_KERNEL_DRIVERS=netlink runs only the netlink variants (half the VM's work, for a loaded
 * machine): the ipvsadm-driver and fake-side tests are skipped (with this reason) and the netlink
 * tables are compared with the expected ones only. Default: both.
 */
/**
 * Seconds the lanes may run in the VM; qemu itself is killed QEMU_GRACE_S later. The lanes end on their
 * own (~270 s on an idle host: four lanes on the VM's one emulated CPU); the watchdog only ends hung ones
 * so that what ran is still reported. The emulated CPU is one host thread: beside a CPU hog on a 2-core
 * host it gets about half the time, and the idle run's 270 s become 400-550 s, past the 420 s this
 * bound once was. Nothing is asserted on time: every step of a lane polls for its table.
 */
const LANES_DEADLINE_S = 720;
const QEMU_GRACE_S = 120;
const DRIVERS = process.env.LDIRECTORD_KERNEL_DRIVERS === 'netlink' ? 'netlink' : 'both';
if (DRIVERS === 'netlink') console.warn('kernel daemon scenarios: LDIRECTORD_KERNEL_DRIVERS=netlink: the ipvsadm-driver (real vs fake) checkpoints are skipped');

function section(out: string, name: string): string | undefined {
  const m = new RegExp(`@@@${name}\\n([\\s\\S]*?)@@@END`).exec(out);
  return m ? m[1] : undefined;
}

interface Checkpoint {
  wait: string;
  save?: string;
  thresholds?: string;
  probe?: string;
}

function checkpoint(out: string, k: number): Checkpoint | undefined {
  const m = new RegExp(`@@@CP ${k}\\n([\\s\\S]*?)@@@CPEND ${k}\\n`).exec(out);
  if (!m) return undefined;
  const body = m[1];
  return { wait: /@@@WAIT (.*)/.exec(body)?.[1] ?? '?', save: section(body, 'SAVE'), thresholds: section(body, 'THRESHOLDS'), probe: section(body, 'PROBE') };
}

interface Call {
  args: string;
  input: string;
  step: number;
}

/** The wrapper's log: `@@STEP k` markers and `@@CALL argv` / stdin / `@@ENDCALL` records. */
function parseIpvsLog(log: string): Call[] {
  const calls: Call[] = [];
  let step = -1;
  const re = /@@STEP (\d+)\n|@@CALL ([^\n]*)\n([\s\S]*?)@@ENDCALL\n/g;
  for (const m of log.matchAll(re)) {
    if (m[1] !== undefined) step = Number(m[1]);
    else calls.push({ args: m[2], input: m[3], step });
  }
  return calls;
}

/** The destinations of an `ipvsadm -L -n --thresholds` listing as `addr:port upper lower`. */
function thresholdDests(listing: string | undefined): string[] {
  return [...(listing ?? '').matchAll(/^ {2}-> (\S+)\s+(\d+)\s+(\d+)\s/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
}

const sortLines = (t: string | undefined) => sortedTable((t ?? '').split('\n').filter((l) => l !== ''));

describe.skipIf(missing !== undefined)('our daemon on the real kernel vs on the fake ipvsadm', () => {
  // Below the ephemeral port range (32768-), where a client socket may hold a port.
  const base = 20000 + (process.pid % 1200) * 10;
  let vm: VmResult | undefined;
  const real = new Map<number, string>();
  const fake = new Map<number, string>();
  const nl = new Map<number, string>();
  let checkpoints = 0;
  let checkpointsEqual = 0;
  let checkpointsDiffering = 0;
  let scenariosOk = 0;
  const scenarioFailed = new Set<number>();

  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'ldts-kernel-daemon-'));
    const vmDir = join(root, 'vm');
    mkdirSync(vmDir);
    const top = ['#!/bin/sh', 'cd "$(dirname "$0")"'];
    // The VM has one (emulated) CPU and starting node there takes seconds of it: scenarios run in
    // LANES parallel lanes (one's start-up overlaps another's waits), each lane one after the other.
    const lanes: string[][] = Array.from({ length: LANES + NETLINK_LANES }, () => []);
    const hostRuns: (() => Promise<void>)[] = [];
    SCENARIOS.forEach((s, i) => {
      const write = (d: string, side: 'real' | 'fake') => {
        mkdirSync(d, { recursive: true });
        for (const [name, text] of Object.entries(scenarioFiles(s, i, base, side, process.execPath, DAEMON))) writeFileSync(join(d, name), text);
        chmodSync(join(d, 'run.sh'), 0o755);
      };
      write(join(vmDir, `s${i}`), 'real');
      // Each scenario in its own network namespace (its own IPVS table and lo).
      if (DRIVERS === 'both') lanes[LANE_OF[i] ?? i % LANES].push(`unshare -n sh -c 'ip link set lo up && exec sh ./s${i}/run.sh' >out-${i}.txt 2>&1`);
      const nd = join(vmDir, `n${i}`);
      mkdirSync(nd, { recursive: true });
      for (const [name, text] of Object.entries(scenarioFiles(s, i, base, 'real', process.execPath, DAEMON, { netlink: true }))) writeFileSync(join(nd, name), text);
      chmodSync(join(nd, 'run.sh'), 0o755);
      lanes[LANES + ((LANE_OF[i] ?? i) % NETLINK_LANES)].push(`unshare -n sh -c 'ip link set lo up && exec sh ./n${i}/run.sh' >nout-${i}.txt 2>&1`);
      const d = join(root, `host-${i}`);
      write(d, 'fake');
      const fakePath = installFakeIpvsadm(join(d, 'fake'), { state: join(d, 'state.json'), env: { FAKE_IPVSADM_SCHEDULERS: VM_SCHEDULERS.join(',') } });
      if (DRIVERS === 'both') hostRuns.push(
        () => new Promise<void>((res) => {
          const c = spawn('sh', [join(d, 'run.sh')], { env: { ...process.env, IPVSADM: fakePath }, stdio: ['ignore', 'pipe', 'pipe'] });
          let o = '';
          c.stdout.on('data', (b) => (o += b));
          c.stderr.on('data', (b) => (o += b));
          c.on('close', () => {
            fake.set(i, o);
            res();
          });
        }),
      );
    });
    // A watchdog ends the lanes before qemu is killed, so that what ran is still reported.
    const pids: string[] = [];
    lanes.forEach((lane, n) => {
      if (!lane.length) return;
      top.push(`( ${lane.join('; ')} ) & P${n}=$!`);
      pids.push(`$P${n}`);
    });
    top.push(`( sleep ${LANES_DEADLINE_S}; echo "@@@WATCHDOG: lanes killed after ${LANES_DEADLINE_S} s" >&2; kill -KILL ${pids.join(' ')} ) & W=$!`);
    top.push(`wait ${pids.join(' ')}`, 'kill $W 2>/dev/null');
    SCENARIOS.forEach((_, i) => top.push(`echo "@@@SCENARIO ${i}"; cat out-${i}.txt; echo "@@@SCENARIO_END ${i}"`));
    SCENARIOS.forEach((_, i) => top.push(`echo "@@@NETLINK ${i}"; cat nout-${i}.txt; echo "@@@NETLINK_END ${i}"`));
    writeFileSync(join(vmDir, 'run.sh'), top.join('\n') + '\n');
    const vmRun = runVm(vmDir, { timeoutMs: (LANES_DEADLINE_S + QEMU_GRACE_S) * 1000, memory: '1536M' });
    // The host side one scenario at a time (distinct ports; leaves a CPU to qemu).
    for (const run of hostRuns) await run();
    vm = await vmRun;
    SCENARIOS.forEach((_, i) => real.set(i, new RegExp(`@@@SCENARIO ${i}\\n([\\s\\S]*?)@@@SCENARIO_END ${i}\\n`).exec(vm!.stdout)?.[1] ?? ''));
    SCENARIOS.forEach((_, i) => nl.set(i, new RegExp(`@@@NETLINK ${i}\\n([\\s\\S]*?)@@@NETLINK_END ${i}\\n`).exec(vm!.stdout)?.[1] ?? ''));
  }, (LANES_DEADLINE_S + QEMU_GRACE_S + 60) * 1000);

  afterAll(() => {
    // Where the VM's time goes: seconds from each scenario's start to the start of each step and to its end.
    for (const [i, out] of nl)
      console.log(`VM scenario ${i} (netlink driver): steps began at ${[...out.matchAll(/@@@AT (\d+)/g)].map((m) => m[1]).join(', ')} s; done at ${/@@@DONE (\d+)/.exec(out)?.[1] ?? '?'} s`);
    for (const [i, out] of real)
      console.log(`VM scenario ${i}: steps began at ${[...out.matchAll(/@@@AT (\d+)/g)].map((m) => m[1]).join(', ')} s; done at ${/@@@DONE (\d+)/.exec(out)?.[1] ?? '?'} s`);
    SCENARIOS.forEach((_, i) => !scenarioFailed.has(i) && scenariosOk++);
    console.log(`netlink driver: ${nlCheckpoints} checkpoints equal to the expected table and to the ipvsadm driver's on the same kernel; ipvsadm processes started by the netlink daemons: ${nlIpvsadmCalls}`);
    recordSummary({
      bootSeconds: vm?.bootSeconds,
      vmSeconds: vm?.totalSeconds,
      scenarios: SCENARIOS.length,
      scenariosEqual: scenariosOk,
      checkpoints,
      checkpointsEqual,
      checkpointsDiffering,
    });
  });

  let nlCheckpoints = 0;
  let nlIpvsadmCalls = 0;

  const logs = (i: number) =>
    `--- real (VM) daemon log:\n${section(real.get(i) ?? '', 'LOG') ?? '(none)'}\n--- fake (host) daemon log:\n${section(fake.get(i) ?? '', 'LOG') ?? '(none)'}`;

  SCENARIOS.forEach((s: Scenario, i) => {
    describe.skipIf(DRIVERS === 'netlink')(`scenario ${i}: ${s.name}`, () => {
      s.steps.forEach((st: Step, k) => {
        it(`checkpoint ${k}: ${st.name}`, () => {
          try {
            expect(vm?.timedOut, `VM timed out\n${vm?.console.slice(-3000)}`).toBe(false);
            const r = checkpoint(real.get(i) ?? '', k);
            const f = checkpoint(fake.get(i) ?? '', k);
            const both = `real checkpoint:\n${JSON.stringify(r, null, 1)}\nfake checkpoint:\n${JSON.stringify(f, null, 1)}\n${logs(i)}`;
            expect(r, `real side never reached checkpoint ${k}\n${both}\n${vm?.stderr ?? ''}`).toBeDefined();
            expect(f, `fake side never reached checkpoint ${k}\n${both}`).toBeDefined();
            checkpoints++;
            // Sanity: each side reached the step's expected table (a timeout fails, never passes).
            expect(r!.wait, `real side: wait timed out\n${both}`).toMatch(/^ok /);
            expect(f!.wait, `fake side: wait timed out\n${both}`).toMatch(/^ok /);
            expect(sortLines(r!.save), both).toBe(sortedTable(expectedTable(st, 'real').map((l) => withPorts(l, base, i))));
            expect(sortLines(f!.save), both).toBe(sortedTable(expectedTable(st, 'fake').map((l) => withPorts(l, base, i))));
            if (st.thresholdLines) {
              const want = sortedTable(st.thresholdLines.map((l) => withPorts(l, base, i)));
              for (const [side, cp] of [['real', r!], ['fake', f!]] as const)
                expect(sortedTable(thresholdDests(cp.thresholds)), `${side} side --thresholds\n${both}`).toBe(want);
            }
            if (st.probeExpect) {
              expect(r!.probe, both).toBe(withPorts(st.probeExpect.real, base, i));
              expect(f!.probe, both).toBe(withPorts(st.probeExpect.fake, base, i));
            }
            if (Array.isArray(st.table)) {
              // Real vs fake, byte for byte (order included).
              expect(r!.save, both).toBe(f!.save);
              if (st.thresholds) {
                expect(r!.thresholds, both).toBeDefined();
                expect(r!.thresholds, both).toBe(f!.thresholds);
              }
              checkpointsEqual++;
            } else {
              // A declared difference (a property of the real kernel the fake does not model).
              expect(r!.save, both).not.toBe(f!.save);
              checkpointsDiffering++;
            }
          } catch (e) {
            scenarioFailed.add(i);
            throw e;
          }
        });
      });

      if (s.wrap) {
        it('the daemon talks to ipvsadm in one -R batch per sync, read back in the same process', () => {
          try {
            for (const [side, out] of [
              ['real', real.get(i) ?? ''],
              ['fake', fake.get(i) ?? ''],
            ] as const) {
              const log = section(out, 'IPVSLOG') ?? '';
              const calls = parseIpvsLog(log);
              const info = `${side} side, ipvsadm log:\n${log.slice(-6000)}\n${logs(i)}`;
              expect(calls.length, info).toBeGreaterThan(0);
              let reads = 0;
              let writes = 0;
              calls.forEach((c, n) => {
                // Every ipvsadm process is `ipvsadm -R` whose input ends with the read-back lines.
                expect(c.args, `${side} call ${n}\n${info}`).toBe('-R');
                expect(c.input.endsWith(READ_LINES), `${side} call ${n} input ${JSON.stringify(c.input)}\n${info}`).toBe(true);
                if (c.input === READ_LINES) reads++;
                else {
                  writes++;
                  // A change is planned against the last table listed back: a read's, or the previous batch's
                  // own read-back lines (#20): so a write batch follows some ipvsadm process, never comes first.
                  expect(n, `${side} call ${n}: a write batch before any table was read\n${info}`).toBeGreaterThan(0);
                  // Nothing but table commands before the read-back lines.
                  for (const l of c.input.slice(0, -READ_LINES.length).split('\n').filter(Boolean))
                    expect(l, `${side} call ${n}\n${info}`).toMatch(/^-[AEDaed] /);
                }
              });
              expect(reads + writes).toBe(calls.length);
              expect(calls[0]!.input, `${side}: the first ipvsadm process is not a read of the table\n${info}`).toBe(READ_LINES);
              expect(writes, `${side}: no write batch at all\n${info}`).toBeGreaterThan(0);
              console.log(`scenario ${i}, ${side} side: ${calls.length} ipvsadm processes = ${reads} reads (-R with the read-back lines only) + ${writes} write batches (-R, changes + read-back), the first process a read`);
              s.steps.forEach((st, k) => {
                const batch = calls
                  .filter((c) => c.step === k && c.input !== READ_LINES)
                  .flatMap((c) => c.input.slice(0, -READ_LINES.length).split('\n'))
                  .filter(Boolean);
                const prev = k === 0 ? '' : sortedTable(expectedTable(s.steps[k - 1], side));
                if (sortedTable(expectedTable(st, side)) !== prev && s.steps[k].action)
                  expect(batch.length, `${side} step ${k} changed the table but logged no -R batch\n${info}`).toBeGreaterThan(0);
                for (const re of st.require ?? [])
                  expect(
                    batch.some((l) => new RegExp(withPorts(re, base, i)).test(l)),
                    `${side} step ${k}: no batch line matches ${withPorts(re, base, i)}\n${batch.join('\n')}\n${info}`,
                  ).toBe(true);
                for (const re of st.forbid ?? [])
                  expect(
                    batch.filter((l) => new RegExp(withPorts(re, base, i)).test(l)),
                    `${side} step ${k}: batch lines match ${withPorts(re, base, i)}\n${info}`,
                  ).toEqual([]);
              });
            }
          } catch (e) {
            scenarioFailed.add(i);
            throw e;
          }
        });
      }
    });

    describe(`scenario ${i} with the netlink driver: ${s.name}`, () => {
      const nlInfo = () => `--- netlink daemon log:\n${section(nl.get(i) ?? '', 'LOG') ?? '(none)'}\n--- ipvsadm wrapper log:\n${section(nl.get(i) ?? '', 'IPVSLOG') ?? '(none)'}`;
      s.steps.forEach((st: Step, k) => {
        it(`checkpoint ${k}: ${st.name}`, () => {
          expect(vm?.timedOut, 'VM timed out').toBe(false);
          const n = checkpoint(nl.get(i) ?? '', k);
          const r = checkpoint(real.get(i) ?? '', k);
          const both = `netlink checkpoint:\n${JSON.stringify(n, null, 1)}\nipvsadm driver checkpoint (same kernel):\n${JSON.stringify(r, null, 1)}\n${nlInfo()}`;
          expect(n, `netlink side never reached checkpoint ${k}\n${both}\n${vm?.stderr ?? ''}`).toBeDefined();
          expect(n!.wait, `netlink side: wait timed out\n${both}`).toMatch(/^ok /);
          expect(sortLines(n!.save), both).toBe(sortedTable(expectedTable(st, 'real').map((l) => withPorts(l, base, i))));
          // the same kernel table as the ipvsadm driver made, byte for byte (entry order included)
          if (DRIVERS === 'both') expect(n!.save, both).toBe(r?.save);
          if (st.thresholdLines) expect(sortedTable(thresholdDests(n!.thresholds)), `netlink --thresholds\n${both}`).toBe(sortedTable(st.thresholdLines.map((l) => withPorts(l, base, i))));
          if (st.thresholds && DRIVERS === 'both') expect(n!.thresholds, both).toBe(r?.thresholds);
          if (st.probeExpect) expect(n!.probe, both).toBe(withPorts(st.probeExpect.real, base, i));
          nlCheckpoints++;
        });
      });
      it('the daemon chose netlink and started no ipvsadm process', () => {
        const out = nl.get(i) ?? '';
        const calls = parseIpvsLog(section(out, 'IPVSLOG') ?? '');
        nlIpvsadmCalls += calls.length;
        expect(calls.map((c) => c.args), nlInfo()).toEqual([]);
        expect(section(out, 'LOG') ?? '', nlInfo()).toMatch(/IPVS driver: netlink \(family \d+\): LDIRECTORD_IPVS_DRIVER=netlink/);
        expect(section(out, 'LOG') ?? '', nlInfo()).not.toMatch(/IPVS driver: ipvsadm/);
        console.log(`scenario ${i}, netlink driver: ${calls.length} ipvsadm processes; ${(section(out, 'LOG') ?? '').match(/IPVS driver: .*/g)?.length ?? 0} driver selection line(s)`);
      });
    });
  });
});
