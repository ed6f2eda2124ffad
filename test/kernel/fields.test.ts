/**
 * The differential suite's field cases (every field of every entry after quiesce, restore, fallback in
 * and out, reload edits, maintenance) on the REAL kernel: the Perl original, ours on the ipvsadm driver
 * and ours on the netlink driver in one network namespace of the VM (fields.ts has the lane).
 *
 * Its own VM boot, run by `npm run test:kernel:fields` (LDIRECTORD_KERNEL_FIELDS=1): three daemons per
 * case under the VM's one emulated CPU take ~350 s (measured: case 0 200 s, case 1 147 s, boot 3 s),
 * which as one more lane of the daemon suite's boot would push that suite past its 420 s lane watchdog.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe } from 'vitest';
import { describeFieldCases, FIELD_CASES, fieldTimes, writeFieldLane } from './fields.js';
import { kernelHarnessMissing, runVm, type VmResult } from './vm.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const missing =
  (process.env.LDIRECTORD_KERNEL_FIELDS === '1' ? undefined : 'LDIRECTORD_KERNEL_FIELDS is not 1 (npm run test:kernel:fields runs them, ~6 min)') ??
  kernelHarnessMissing() ??
  (process.getuid?.() === 0 ? undefined : 'needs root');
if (missing) console.warn(`kernel field cases skipped: ${missing}`);

describe.skipIf(missing !== undefined)('field cases on the real kernel: the Perl original vs ours on both drivers', () => {
  let vm: VmResult | undefined;
  const out = new Map<number, string>();
  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'ldts-kernel-fields-'));
    const d = join(root, 'vm');
    mkdirSync(d);
    const lane = writeFieldLane(d, process.execPath, join(ROOT, 'bin/ldirectord.js'));
    const top = ['#!/bin/sh', 'cd "$(dirname "$0")"', `unshare -n sh -c 'ip link set lo up && ${lane}'`];
    FIELD_CASES.forEach((_, i) => top.push(`echo "@@@FIELDS ${i}"; cat fout-${i}.txt; echo "@@@FIELDS_END ${i}"`));
    writeFileSync(join(d, 'run.sh'), top.join('\n') + '\n');
    vm = await runVm(d, { timeoutMs: 720_000, memory: '1536M' });
    FIELD_CASES.forEach((_, i) => out.set(i, new RegExp(`@@@FIELDS ${i}\\n([\\s\\S]*?)@@@FIELDS_END ${i}\\n`).exec(vm!.stdout)?.[1] ?? ''));
  });
  afterAll(() => {
    console.log(`VM: boot to payload ${vm?.bootSeconds?.toFixed(1)} s, whole run ${vm?.totalSeconds.toFixed(1)} s`);
    for (const l of fieldTimes((i) => out.get(i))) console.log(l);
  });
  describeFieldCases(
    (i) => out.get(i),
    () => (vm?.timedOut ? `VM timed out\n${vm.console.slice(-3000)}` : (vm?.stderr ?? '').slice(-3000)),
  );
});
