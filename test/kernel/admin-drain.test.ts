/**
 * Drain on the real kernel (issue 18): in the VM, in its own network namespace, our daemon manages a
 * virtual 127.0.0.100:P whose one real is the local 127.0.0.2:P; a client holds a connection through the
 * VIP; `ldirectord drain` takes the real to weight 0 while the connection stays (ActiveConn 1, `show`
 * says draining), and once the client has gone (reset: IPVS's CLOSE state lasts 10 s) `show` says
 * drained. One VM boot.
 *
 * The address 127.0.0.2 is local, so IPVS delivers the connection locally (listed as Local or Route):
 * the real server listens on 0.0.0.0:P and the ActiveConn column shows that IPVS scheduled it.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { kernelHarnessMissing, runVm, type VmResult } from './vm.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DAEMON = join(ROOT, 'bin/ldirectord.js');
const missing =
  kernelHarnessMissing() ??
  (!existsSync(join(ROOT, 'dist/cli/main.js')) ? 'dist/cli/main.js not built (npx tsc -p tsconfig.json)' : undefined) ??
  (!existsSync('/usr/bin/unshare') ? 'unshare missing' : undefined) ??
  (!existsSync('/usr/bin/socat') ? 'socat missing (the real server in the VM)' : undefined);
if (missing) console.warn(`kernel drain test skipped: ${missing}`);

const P = 21000 + (process.pid % 500);

const CLIENT = `import net from 'node:net';
// Holds one connection through the VIP; on TERM resets it (IPVS's CLOSE state) and exits.
const c = net.connect(Number(process.argv[3]), process.argv[2], () => { c.write('hello'); process.stdout.write('connected\\n'); });
c.on('error', (e) => { process.stdout.write('client error ' + e.message + '\\n'); process.exit(1); });
process.on('SIGTERM', () => { c.resetAndDestroy(); setTimeout(() => process.exit(0), 200); });
`;

/**
 * The payload. Node starts slowly under emulation, so it starts node four times only (daemon, client,
 * drain, ready), reads drain progress from the daemon's state file (what `show` reads) with grep, and
 * bounds every wait so that it always ends, and reports, within the VM's time.
 */
function payload(node: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh
cd "$(dirname "$0")"
D=$(pwd)
T0=$(date +%s)
left() { [ $(( $(date +%s) - T0 )) -lt 480 ]; }
mkdir -p run state
cat >ldts.cf <<CFEND
logfile="$D/ld.log"
checkinterval=1
checktimeout=5
quiescent=no
virtual=127.0.0.100:${P}
	real=127.0.0.2:${P} gate
	checktype=connect
CFEND
export LDIRECTORD_RUNDIR="$D/run" LDIRECTORD_STATEDIR="$D/state"
ld() { timeout 120 ${q(node)} ${q(DAEMON)} "$D/ldts.cf" "$@"; }
table() { ipvsadm -L -n | grep -- '-> 127.0.0.2:${P}' | tr -s ' ' | sed 's/^ //; s/ $//'; }
progress() { grep -o '"drain":{[^}]*}' "$D/run/ldirectord.ldts.cf.state.json" 2>/dev/null | head -1; }
# the real server: accepts and holds every connection
socat TCP-LISTEN:${P},bind=0.0.0.0,fork,reuseaddr SYSTEM:'cat >/dev/null' & SP=$!
${q(node)} ${q(DAEMON)} -d "$D/ldts.cf" start >daemon.out 2>&1 & DP=$!
while left && ! table | grep -q ' 1 [0-9]* [0-9]*$'; do sleep 1; done
echo "@@@UP $(table) at $(( $(date +%s) - T0 )) s"
while left && [ ! -S "$D/run/ldirectord.ldts.cf.sock" ]; do sleep 1; done
${q(node)} client.mjs 127.0.0.100 ${P} >client.out 2>&1 & CP=$!
while left && ! grep -q connected client.out; do sleep 1; done
sleep 1
echo "@@@HELD $(tr '\\n' ' ' <client.out)| $(table)"
ld drain 127.0.0.2:${P} >drain.out 2>&1; echo "@@@DRAIN $? $(tr '\\n' ' ' <drain.out)"
echo "@@@DRAINED_TABLE $(table)"
while left && ! progress | grep -q draining; do sleep 1; done
echo "@@@PROGRESS1 $(progress)"
kill -TERM $CP; wait $CP
T1=$(date +%s)
while left && ! progress | grep -q '"drained"'; do sleep 1; done
echo "@@@PROGRESS2 $(progress) after $(( $(date +%s) - T1 )) s | $(table)"
ld ready 127.0.0.2:${P} >ready.out 2>&1; echo "@@@READY $? $(table)"
kill -TERM $DP; wait $DP
kill $SP
echo "@@@TOTAL $(( $(date +%s) - T0 )) s"
echo "@@@LOG"; cat daemon.out ld.log 2>/dev/null; echo "@@@END"
`;
}

describe.skipIf(missing !== undefined)('drain on the real kernel with a connection held through the VIP', () => {
  let vm: VmResult;
  let out = '';
  const at = (name: string) => new RegExp(`@@@${name} ([^\\n]*)`).exec(out)?.[1];
  const block = (name: string) => new RegExp(`@@@${name}\\n([\\s\\S]*?)@@@END`).exec(out)?.[1];

  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'ldts-kernel-admin-'));
    const inner = join(root, 'vm');
    mkdirSync(inner);
    writeFileSync(join(inner, 'client.mjs'), CLIENT);
    writeFileSync(join(inner, 'inner.sh'), payload(process.execPath));
    writeFileSync(join(inner, 'run.sh'), `#!/bin/sh\ncd "$(dirname "$0")"\nunshare -n sh -c 'ip link set lo up && exec sh ./inner.sh' 2>&1\n`);
    chmodSync(join(inner, 'run.sh'), 0o755);
    // Under the VM's emulation on a loaded host, the daemon's first start alone was seen to take 5 minutes.
    vm = await runVm(inner, { timeoutMs: 570_000, memory: '1024M' });
    out = vm.stdout;
    console.log(`VM: boot ${vm.bootSeconds ?? '?'} s, total ${vm.totalSeconds} s`);
  });

  it('drain: weight 0 with the connection kept, draining with ActiveConn 1, then drained once it is gone', () => {
    const ctx = `\n${out.slice(-6000)}\n${vm.timedOut ? 'VM TIMED OUT' : ''}`;
    console.log(`VM: up ${at('UP')}; total ${at('TOTAL')}`);
    expect(at('UP'), ctx).toMatch(new RegExp(`^-> 127\\.0\\.0\\.2:${P} (Route|Local) 1 \\d+ \\d+\\s+at`));
    // the held connection is in the table, scheduled to the real
    expect(at('HELD'), ctx).toMatch(new RegExp(`^connected \\| -> 127\\.0\\.0\\.2:${P} (Route|Local) 1 1 0$`));
    expect(at('DRAIN'), ctx).toMatch(/^0 drain: 1 real changed/);
    // weight 0 at once, the connection still there
    expect(at('DRAINED_TABLE'), ctx).toMatch(new RegExp(`^-> 127\\.0\\.0\\.2:${P} (Route|Local) 0 1 0$`));
    expect(at('PROGRESS1'), ctx).toBe('"drain":{"state":"draining","activeConn":1,"inactConn":0}');
    expect(at('PROGRESS2'), ctx).toMatch(/^"drain":\{"state":"drained","activeConn":0,"inactConn":0\} after \d+ s \| -> 127\.0\.0\.2:\d+ (Route|Local) 0 0 0$/);
    console.log(`drained: ${at('PROGRESS2')}`);
    expect(at('READY'), ctx).toMatch(new RegExp(`^0 -> 127\\.0\\.0\\.2:${P} (Route|Local) 1 `));
    expect(block('LOG') ?? '', ctx).toMatch(new RegExp(`Draining real server: 127\\.0\\.0\\.2:${P} \\(127\\.0\\.0\\.100:${P}\\) \\(admin, uid (0|unknown)\\)`));
    // (the VM's initramfs loads no unix_diag module: there the uid is unknown and the socket's mode is the check)
  });
});
