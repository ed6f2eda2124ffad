/**
 * Drain on the real kernel (issue 18): in the VM, in its own network namespace, our daemon manages a
 * virtual 127.0.0.100:P whose one real is the local 127.0.0.2:P; a client holds a connection through the
 * VIP; `ldirectord drain` takes the real to weight 0 while the connection stays (ActiveConn 1, `show`
 * says draining), and once the client has gone (reset: IPVS's CLOSE state lasts 10 s) `show` says
 * drained. One VM boot.
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
  (!existsSync('/usr/bin/unshare') ? 'unshare missing' : undefined);
if (missing) console.warn(`kernel drain test skipped: ${missing}`);

const P = 21000 + (process.pid % 500);

const SERVER = `import net from 'node:net';
// Accepts and holds every connection (the health check's connect just closes its own).
net.createServer((s) => { s.on('error', () => {}); s.on('data', () => {}); }).listen(Number(process.argv[2]), '0.0.0.0');
`;
const CLIENT = `import net from 'node:net';
// Holds one connection through the VIP; on TERM resets it (IPVS's CLOSE state) and exits.
const c = net.connect(Number(process.argv[3]), process.argv[2], () => { c.write('hello'); process.stdout.write('connected\\n'); });
c.on('error', (e) => { process.stdout.write('client error ' + e.message + '\\n'); process.exit(1); });
process.on('SIGTERM', () => { c.resetAndDestroy(); setTimeout(() => process.exit(0), 200); });
`;

function payload(node: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh
cd "$(dirname "$0")"
D=$(pwd)
mkdir -p run state
cat >ldts.cf <<EOF
logfile="$D/ld.log"
checkinterval=1
checktimeout=3
quiescent=no
virtual=127.0.0.100:${P}
	real=127.0.0.2:${P} gate
	checktype=connect
EOF
export LDIRECTORD_RUNDIR="$D/run" LDIRECTORD_STATEDIR="$D/state"
ld() { ${q(node)} ${q(DAEMON)} "$D/ldts.cf" "$@"; }
table() { ipvsadm -L -n | grep -- '-> 127.0.0.2:${P}' | tr -s ' ' | sed 's/^ //'; }
${q(node)} server.mjs ${P} & SP=$!
ld start; echo "@@@START $?"
n=0; while [ $n -lt 60 ] && ! table | grep -q ' 1 [0-9]* [0-9]*$'; do sleep 1; n=$((n+1)); done
echo "@@@UP $(table)"
echo "@@@DRIVER $(grep -o 'IPVS driver[^]]*' "$D/ld.log" | head -1)"
${q(node)} client.mjs 127.0.0.100 ${P} >client.out 2>&1 & CP=$!
n=0; while [ $n -lt 30 ] && ! grep -q connected client.out; do sleep 0.5; n=$((n+1)); done
sleep 1
echo "@@@HELD $(cat client.out | tr '\\n' ' ')| $(table)"
ld drain 127.0.0.2:${P}; echo "@@@DRAIN $?"
echo "@@@DRAINED_TABLE $(table)"
sleep 2
echo "@@@SHOW1"; ld show --json; echo "@@@END"
kill -TERM $CP; wait $CP
n=0; while [ $n -lt 40 ]; do
  ld show --json >show2.json 2>&1
  grep -q '"state": "drained"' show2.json && break
  sleep 1; n=$((n+1))
done
echo "@@@AFTER $n s | $(table)"
echo "@@@SHOW2"; cat show2.json; echo "@@@END"
ld ready 127.0.0.2:${P}; echo "@@@READY $? $(table)"
ld stop; echo "@@@STOP $?"
kill $SP
echo "@@@LOG"; cat ld.log; echo "@@@END"
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
    writeFileSync(join(inner, 'server.mjs'), SERVER);
    writeFileSync(join(inner, 'client.mjs'), CLIENT);
    writeFileSync(join(inner, 'inner.sh'), payload(process.execPath));
    writeFileSync(join(inner, 'run.sh'), `#!/bin/sh\ncd "$(dirname "$0")"\nunshare -n sh -c 'ip link set lo up && exec sh ./inner.sh' 2>&1\n`);
    chmodSync(join(inner, 'run.sh'), 0o755);
    vm = await runVm(inner, { timeoutMs: 420_000, memory: '1024M' });
    out = vm.stdout;
    console.log(`VM: boot ${vm.bootSeconds ?? '?'} s, total ${vm.totalSeconds} s; ${at('DRIVER') ?? ''}`);
  });

  it('drain: weight 0 with the connection kept, draining with ActiveConn 1, then drained once it is gone', () => {
    const ctx = `\n${out.slice(-6000)}\n${vm.timedOut ? 'VM TIMED OUT' : ''}`;
    expect(at('START'), ctx).toBe('0');
    expect(at('UP'), ctx).toMatch(new RegExp(`^-> 127\\.0\\.0\\.2:${P} (Route|Local) 1 \\d+ \\d+$`));
    // the held connection is in the table, scheduled to the real
    expect(at('HELD'), ctx).toMatch(new RegExp(`^connected \\| -> 127\\.0\\.0\\.2:${P} (Route|Local) 1 1 0$`));
    expect(at('DRAIN'), ctx).toBe('0');
    // weight 0 at once, the connection still there
    expect(at('DRAINED_TABLE'), ctx).toMatch(new RegExp(`^-> 127\\.0\\.0\\.2:${P} (Route|Local) 0 1 0$`));
    const show1 = JSON.parse(block('SHOW1') ?? 'null');
    expect(show1?.virtuals?.[0]?.reals?.[0], ctx).toMatchObject({ admin: 'drain', weight: 0, drain: { state: 'draining', activeConn: 1, inactConn: 0 } });
    const show2 = JSON.parse(block('SHOW2') ?? 'null');
    expect(show2?.virtuals?.[0]?.reals?.[0], ctx).toMatchObject({ admin: 'drain', weight: 0, drain: { state: 'drained', activeConn: 0, inactConn: 0 } });
    console.log(`drained ${at('AFTER')}`);
    expect(at('READY'), ctx).toMatch(new RegExp(`^0 -> 127\\.0\\.0\\.2:${P} (Route|Local) 1 `));
    expect(at('STOP'), ctx).toBe('0');
    expect(block('LOG') ?? '', ctx).toMatch(new RegExp(`Draining real server: 127\\.0\\.0\\.2:${P} \\(127\\.0\\.0\\.100:${P}\\) \\(admin, uid 0\\)`));
  });
});
