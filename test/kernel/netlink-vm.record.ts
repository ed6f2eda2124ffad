/**
 * One VM boot (`node bench/netlink-vm.mjs`, or `npx vitest run --config vitest.netlink-vm.config.ts`):
 * 1. golden bytes: each op of netlink-ops.ts run by the real ipvsadm under `strace -e write=all`, in
 *    a network namespace of its own; with LDIRECTORD_KERNEL_UPDATE_GOLDEN=1 the IPVS requests are
 *    written to golden/netlink-ops.txt (test/ipvs/netlink-golden.test.ts compares the codec with them);
 * 2. the benchmark: a change of 1000 reals applied and read back by the netlink driver and by the
 *    ipvsadm driver (`ipvsadm -R`), printed side by side.
 * Not part of `npm run test:kernel` (VM time; the daemon scenarios there run the netlink driver too).
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatGoldenOps, GOLDEN_OPS, GOLDEN_SYNC_IF, messagesFromStrace, type GoldenRecord } from './netlink-ops.js';
import { kernelHarnessMissing, runVm } from './vm.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const GOLDEN = join(HERE, 'golden/netlink-ops.txt');
const missing = kernelHarnessMissing() ?? (!existsSync('/usr/bin/strace') ? 'strace missing (Debian package strace)' : undefined) ?? (!existsSync(join(ROOT, 'dist/ipvs/netlink/driver.js')) ? 'dist not built' : undefined);
if (missing) console.warn(`netlink VM record skipped: ${missing}`);

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

const BENCH = `
import { NetlinkDriver } from ${JSON.stringify(join(ROOT, 'dist/ipvs/netlink/driver.js'))};
import { IpvsadmDriver, TableIndex, commandEffective } from ${JSON.stringify(join(ROOT, 'dist/ipvs/ipvsadm-driver.js'))};
import { encodeCommand } from ${JSON.stringify(join(ROOT, 'dist/ipvs/netlink/codec.js'))};
import { execFileSync } from 'node:child_process';
const N = 1000;
const svc = { proto: 'tcp', vaddr: '10.1.0.1:80' };
const rs = (i) => '10.2.' + (i >> 8) + '.' + (i & 255) + ':80';
const adds = [{ op: 'add-service', service: { ...svc, scheduler: 'wlc' } }];
for (let i = 1; i <= N; i++) adds.push({ op: 'add-dest', ...svc, dest: { rs: rs(i), forward: 'gate', weight: 1, upperThreshold: 0, lowerThreshold: 0 } });
const edits = [];
for (let i = 1; i <= N; i++) edits.push({ op: 'edit-dest', ...svc, dest: { rs: rs(i), forward: 'gate', weight: 2, upperThreshold: 0, lowerThreshold: 0 } });
const del = [{ op: 'delete-service', ...svc }];
async function time(f) { const t = process.hrtime.bigint(); const r = await f(); return [Number(process.hrtime.bigint() - t) / 1e6, r]; }
function lines() { return execFileSync('/usr/sbin/ipvsadm', ['-S', '-n']).toString().split('\\n').filter(Boolean).length; }
const out = {};
// Warm-up: both drivers once on 200 reals of another service, so that neither pays alone for loading
// and compiling the code they share (planner, table index, listing parse): under TCG that cost seconds.
{
  const wsvc = { proto: 'tcp', vaddr: '10.1.0.2:80' };
  const w = [{ op: 'add-service', service: { ...wsvc, scheduler: 'wlc' } }];
  for (let i = 1; i <= 200; i++) w.push({ op: 'add-dest', ...wsvc, dest: { rs: rs(i), forward: 'gate', weight: 1, upperThreshold: 0, lowerThreshold: 0 } });
  const we = w.slice(1).map((c) => ({ ...c, op: 'edit-dest', dest: { ...c.dest, weight: 2 } }));
  for (const kind of ['netlink', 'ipvsadm']) {
    const d = kind === 'netlink' ? await NetlinkDriver.open() : new IpvsadmDriver({ path: '/usr/sbin/ipvsadm' });
    await d.apply(w);
    await d.apply(we);
    await d.read();
    await d.apply([{ op: 'delete-service', ...wsvc }]);
    if (kind === 'netlink') d.close();
  }
}
for (const kind of ['netlink', 'ipvsadm']) {
  const d = kind === 'netlink' ? await NetlinkDriver.open() : new IpvsadmDriver({ path: '/usr/sbin/ipvsadm' });
  const [tAdd, rAdd] = await time(() => d.apply(adds));
  const after = lines();
  const [tEdit, rEdit] = await time(() => d.apply(edits));
  const [tRead, table] = await time(() => d.read());
  const w2 = table.services[0]?.dests.filter((x) => x.weight === 2).length;
  const [tDel] = await time(() => d.apply(del));
  out[kind] = { tAdd, tEdit, tRead, tDel, okAdd: rAdd.filter((r) => r.ok).length, okEdit: rEdit.filter((r) => r.ok).length, after, w2, cost: kind === 'netlink' ? d.requests + ' requests in ' + d.datagrams + ' datagrams' : d.processCount + ' ipvsadm processes' };
  if (kind === 'netlink') d.close();
}
// where a netlink batch's time goes: the edit again (weight 3), phase by phase as apply() runs them
{
  const d = await NetlinkDriver.open();
  await d.apply(adds);
  const again = edits.map((c) => ({ ...c, dest: { ...c.dest, weight: 3 } }));
  const [enc, payloads] = await time(() => again.map((c) => encodeCommand(c).payload));
  const [send, errnos] = await time(() => d.client.batch(d.family, payloads));
  const [read, table] = await time(() => d.read());
  const [check] = await time(() => { const idx = new TableIndex(table); return again.filter((c) => commandEffective(idx, c)).length; });
  const [whole] = await time(() => d.apply(edits.map((c) => ({ ...c, dest: { ...c.dest, weight: 4 } }))));
  await d.apply(del);
  d.close();
  out.phases = { enc, send, read, check, whole, refused: errnos.filter((e) => e !== 0).length };
}
console.log(JSON.stringify(out));
`;

describe.skipIf(missing !== undefined)('netlink in the VM: golden bytes of ipvsadm, benchmark', () => {
  it('records ipvsadm\'s requests and times both drivers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ldts-netlink-vm-'));
    // the sync-daemon ops' interface: a veth pair (multicast) with an address
    const golden = [
      '#!/bin/sh',
      'ip link set lo up',
      'modprobe veth 2>/dev/null',
      `ip link add ${GOLDEN_SYNC_IF} type veth peer name ${GOLDEN_SYNC_IF}p && ip link set ${GOLDEN_SYNC_IF}p up && ip link set ${GOLDEN_SYNC_IF} up && ip addr add 10.0.9.1/24 dev ${GOLDEN_SYNC_IF} || echo "@@@NO_SYNC_IF"`,
    ];
    GOLDEN_OPS.forEach((op, i) => {
      golden.push(
        `echo "@@@OP ${i}"`,
        `strace -f -e trace=sendmsg -e write=all -o st-${i}.txt /usr/sbin/ipvsadm ${op.args.split(' ').map(shq).join(' ')} >o-${i}.txt 2>&1; echo "@@@RC $?"`,
        `cat o-${i}.txt st-${i}.txt`,
        `echo "@@@OPEND ${i}"`,
      );
    });
    golden.push('echo "@@@SAVE"; /usr/sbin/ipvsadm -S -n', 'echo "@@@VERSION"; /usr/sbin/ipvsadm -v');
    writeFileSync(join(dir, 'golden.sh'), golden.join('\n') + '\n');
    writeFileSync(join(dir, 'bench.mjs'), BENCH);
    writeFileSync(
      join(dir, 'run.sh'),
      ['#!/bin/sh', 'cd "$(dirname "$0")"', 'unshare -n sh ./golden.sh', 'echo "@@@BENCH"', `unshare -n sh -c 'ip link set lo up && exec ${shq(process.execPath)} bench.mjs'`, 'echo "@@@BENCH_END"'].join('\n') + '\n',
    );
    mkdirSync(dir, { recursive: true });
    const vm = await runVm(dir, { timeoutMs: 500_000, memory: '1024M' });
    expect(vm.timedOut, vm.console.slice(-3000)).toBe(false);
    const out = vm.stdout;
    console.log(`VM: boot ${vm.bootSeconds?.toFixed(1)} s, whole run ${vm.totalSeconds.toFixed(1)} s`);

    const records: GoldenRecord[] = [];
    GOLDEN_OPS.forEach((op, i) => {
      const m = new RegExp(`@@@OP ${i}\\n([\\s\\S]*?)@@@OPEND ${i}\\n`).exec(out);
      expect(m, `op ${i} (${op.args}) not run\n${out.slice(-3000)}\n${vm.stderr}`).not.toBeNull();
      const body = m![1];
      expect(body, `op ${i}: ipvsadm ${op.args}\n${body}`).toMatch(/@@@RC 0\n/);
      // the IPVS family's requests: every message whose type is neither nlctrl (16) nor a netlink control type
      const msgs = messagesFromStrace(body).filter((b) => b.readUInt16LE(4) > 16);
      expect(msgs.length, `op ${i}: no IPVS request in\n${body}`).toBeGreaterThan(0);
      records.push({ args: op.args, messages: msgs.map((b) => b.toString('hex')) });
    });
    console.log(`table after the golden ops:\n${/@@@SAVE\n([\s\S]*?)@@@VERSION/.exec(out)?.[1] ?? '?'}`);
    const version = /@@@VERSION\n(.*)/.exec(out)?.[1] ?? '?';
    if (process.env.LDIRECTORD_KERNEL_UPDATE_GOLDEN === '1') {
      writeFileSync(
        GOLDEN,
        formatGoldenOps(records, `# The IPVS generic netlink requests the real ipvsadm sends for each op of test/kernel/netlink-ops.ts,\n# captured with strace -e write=all in the VM (kernel ${vm.kernelVersion}; ${version}); whole messages, hex.\n# regenerate: LDIRECTORD_KERNEL_UPDATE_GOLDEN=1 node bench/netlink-vm.mjs\n`),
      );
      console.log(`wrote ${GOLDEN}`);
    }

    const b = /@@@BENCH\n([\s\S]*?)@@@BENCH_END/.exec(out)?.[1] ?? '';
    const json = b.split('\n').find((l) => l.startsWith('{'));
    expect(json, `bench printed no result\n${b}\n${vm.stderr}`).toBeDefined();
    const r = JSON.parse(json!) as Record<'netlink' | 'ipvsadm', { tAdd: number; tEdit: number; tRead: number; tDel: number; okAdd: number; okEdit: number; after: number; w2: number; cost: string }> & {
      phases: { enc: number; send: number; read: number; check: number; whole: number; refused: number };
    };
    const row = (name: string, f: (x: (typeof r)['netlink']) => string) => `${name.padEnd(44)}${f(r.netlink).padStart(14)}${f(r.ipvsadm).padStart(16)}`;
    const ms = (n: number) => `${n.toFixed(0)} ms`;
    console.log(
      [
        `\n=== IPVS driver benchmark in the VM (qemu TCG, 1 CPU), ${1000} reals, after a warm-up of both drivers ===`,
        `${''.padEnd(44)}${'netlink'.padStart(14)}${'ipvsadm -R'.padStart(16)}`,
        row('add service + 1000 reals, read back', (x) => ms(x.tAdd)),
        row('edit 1000 weights, read back', (x) => ms(x.tEdit)),
        row('read the table (1 service, 1000 reals)', (x) => ms(x.tRead)),
        row('delete the service, read back', (x) => ms(x.tDel)),
        row('commands reported ok (add / edit)', (x) => `${x.okAdd}/${x.okEdit}`),
        row('ipvsadm -S -n lines after the add', (x) => String(x.after)),
        row('reals with the new weight after edit', (x) => String(x.w2)),
        `cost: netlink ${r.netlink.cost}; ipvsadm ${r.ipvsadm.cost}`,
        `netlink edit of 1000 weights by phase: encode ${ms(r.phases.enc)}, send + acknowledgements ${ms(r.phases.send)}, read back ${ms(r.phases.read)}, check ${ms(r.phases.check)} (${r.phases.refused} refused); the same edit by apply(): ${ms(r.phases.whole)}`,
      ].join('\n'),
    );
    for (const k of ['netlink', 'ipvsadm'] as const) {
      expect(r[k].okAdd).toBe(1001);
      expect(r[k].after).toBe(1001);
      expect(r[k].w2).toBe(1000);
    }
  });
});
