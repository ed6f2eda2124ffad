/**
 * The differential suite's field cases (every field of every entry after quiesce, restore, fallback in
 * and out, reload edits, maintenance) on the REAL kernel, in their own VM boot (fields.ts has the lane):
 * the Perl original vs ours on the ipvsadm driver, each case in its own network namespace, the cases at
 * once. Part of the kernel suite (`npm run test:kernel`, hence `npm run test:all`).
 *
 * Ours on the netlink driver as a third side of every case runs with LDIRECTORD_KERNEL_FIELDS=1, i.e.
 * `npm run test:kernel:fields`: the VM's one emulated CPU is the limit, and each daemon's start costs
 * it ~25 s (measured: two sides per case, cases at once, 204 s for the lane, ~115 s of it until the
 * four daemons were up; three sides per case, one case after the other, 350 s). By default it is left
 * out: the daemon suite (daemon.test.ts) runs every one of its scenarios on both drivers in the VM and
 * asserts the netlink daemon's tables equal the ipvsadm driver's there, and the netlink driver's
 * requests are compared byte for byte with ipvsadm's, recorded on the kernel
 * (test/ipvs/netlink-golden.test.ts, golden/netlink-ops.txt). Those are not the field cases
 * themselves: run the third side after changing either driver's edit path.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe } from 'vitest';
import { CASE_LIMIT_S, describeFieldCases, FIELD_CASES, fieldTimes, sideNames, writeFieldLane, type FieldSide } from './fields.js';
import { kernelHarnessMissing, runVm, type VmResult } from './vm.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const missing =
  kernelHarnessMissing() ??
  (process.getuid?.() === 0 ? undefined : 'needs root') ??
  (!existsSync(join(ROOT, 'dist/cli/main.js')) ? 'dist/cli/main.js not built (npx tsc -p tsconfig.json)' : undefined) ??
  (!existsSync('/usr/sbin/ldirectord') ? 'the Perl original missing (/usr/sbin/ldirectord, Debian package ldirectord)' : undefined) ??
  (!existsSync('/usr/bin/socat') ? 'socat missing (real servers in the VM)' : undefined) ??
  (!existsSync('/usr/bin/unshare') ? 'unshare missing (one network namespace per case in the VM)' : undefined) ??
  (!existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip') && !existsSync('/bin/ip') ? 'ip (iproute2) missing (lo up in each namespace)' : undefined);
if (missing) console.warn(`kernel field cases skipped: ${missing}`);

const ALL = process.env.LDIRECTORD_KERNEL_FIELDS === '1';
const SIDES: readonly FieldSide[] = ALL ? ['o', 'a', 'n'] : ['o', 'a'];

describe.skipIf(missing !== undefined)(`field cases on the real kernel: ${sideNames(SIDES)}`, () => {
  let vm: VmResult | undefined;
  const out = new Map<number, string>();
  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'ldts-kernel-fields-'));
    const d = join(root, 'vm');
    mkdirSync(d);
    const lane = writeFieldLane(d, process.execPath, join(ROOT, 'bin/ldirectord.js'), SIDES);
    const top = ['#!/bin/sh', 'cd "$(dirname "$0")"', lane];
    FIELD_CASES.forEach((_, i) => top.push(`echo "@@@FIELDS ${i}"; cat fout-${i}.txt; echo "@@@FIELDS_END ${i}"`));
    writeFileSync(join(d, 'run.sh'), top.join('\n') + '\n');
    // qemu killed a minute after the cases' own bound (the cases run at once), so that what ran is reported.
    vm = await runVm(d, { timeoutMs: (CASE_LIMIT_S + 60) * 1000, memory: '1536M' });
    FIELD_CASES.forEach((_, i) => out.set(i, new RegExp(`@@@FIELDS ${i}\\n([\\s\\S]*?)@@@FIELDS_END ${i}\\n`).exec(vm!.stdout)?.[1] ?? ''));
  }, (CASE_LIMIT_S + 120) * 1000);
  afterAll(() => {
    console.log(`VM: boot to payload ${vm?.bootSeconds?.toFixed(1)} s, whole run ${vm?.totalSeconds.toFixed(1)} s`);
    for (const l of fieldTimes((i) => out.get(i), SIDES)) console.log(l);
    console.log(
      ALL
        ? 'field cases: the Perl original vs ours on the ipvsadm and on the netlink driver'
        : 'field cases: the Perl original vs ours on the ipvsadm driver; ours on the netlink driver as a third side runs with LDIRECTORD_KERNEL_FIELDS=1 (npm run test:kernel:fields); netlink = ipvsadm driver on the kernel is the daemon suite\'s netlink lanes',
    );
  });
  describeFieldCases(
    (i) => out.get(i),
    () => (vm?.timedOut ? `VM timed out\n${vm.console.slice(-3000)}` : (vm?.stderr ?? '').slice(-3000)),
    SIDES,
  );
});
