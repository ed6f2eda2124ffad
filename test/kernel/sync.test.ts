/**
 * Connection sync on the real kernel (issue #22 item 4), one VM boot. Four network namespaces of one
 * kernel on one bridge: two directors (dir1, dir2), a client and a real server, direct routing (the
 * VIP also on the real server's lo with arp_ignore=1 / arp_announce=2, so only the active director
 * answers ARP for it). Our daemon runs on both directors with the same config, dir1 on the netlink
 * driver and dir2 on the ipvsadm driver (both drivers in one boot); only the VIP moves, as in pair
 * design (a) of the issue. A client holds ONE established TCP connection through the VIP and keeps
 * exchanging lines with an echo server on the real server.
 *
 * Phase A, no sync daemon: moving the VIP to dir2 breaks the connection (dir2 has no entry for it,
 * IPVS does not schedule a packet that is not a SYN: seen as a reset, or as no reply at all): the test
 * proves something. Phase B, `syncdaemon` lines added to both configs and applied by a reload, a master
 * and a backup on each director with two sync ids (dir1 master 1 / backup 2, dir2 master 2 / backup 1),
 * as keepalived's maintainer advises: the connection appears in dir2's table, survives the move to dir2
 * and the move back to dir1; stopping the daemons stops their sync daemons (cleanstop=yes).
 *
 * The VIP moves as IPaddr2 moves it: deleted on one director, added on the other, which sends an
 * unsolicited ARP; the client's neighbour entry is flushed too, so that the test does not depend on
 * the ARP lock time. Why one bridge: multicast sync traffic (224.0.0.81:8848) and DR's MAC rewrite both
 * need the directors and the real server on one L2 segment, which a bridge of veths gives in one kernel.
 */
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
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
  (!existsSync('/usr/bin/socat') ? 'socat missing (the echo server and the client in the VM)' : undefined) ??
  (!existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip') && !existsSync('/bin/ip') ? 'ip (iproute2) missing (namespaces, veths, bridge)' : undefined) ??
  (!existsSync('/sbin/modprobe') && !existsSync('/usr/sbin/modprobe') ? 'modprobe (kmod) missing (veth and bridge modules in the VM)' : undefined);
if (missing) console.warn(`kernel connection-sync test skipped: ${missing}`);

const VIP = '10.9.0.100';
const PORT = 8080;

function config(d: string, name: string, sync: string[]): string {
  return [
    `logfile="${d}/${name}.log"`,
    // checks are not what this test is about: few of them leave the VM's one CPU to the rest
    'checkinterval=5',
    'checktimeout=3',
    'quiescent=no',
    ...sync,
    `virtual=${VIP}:${PORT}`,
    `\treal=10.9.0.20:${PORT} gate`,
    '\tscheduler=rr',
    '\tprotocol=tcp',
    '\tchecktype=connect',
    '',
  ].join('\n');
}

/** dir1 master 1 / backup 2, dir2 master 2 / backup 1. */
const SYNC_LINES = {
  dir1: ['syncdaemon = master eth0 syncid=1', 'syncdaemon = backup eth0 syncid=2'],
  dir2: ['syncdaemon = master eth0 syncid=2', 'syncdaemon = backup eth0 syncid=1'],
};

export function syncPayload(node: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh
cd "$(dirname "$0")"
D=$(pwd)
T0=$(date +%s)
el() { echo $(( $(date +%s) - T0 )); }
left() { [ $(( $(date +%s) - T0 )) -lt 400 ]; }
VIP=${VIP}
PORT=${PORT}
sed "s|@D@|$D|g" dir1.cf.in >dir1.cf; sed "s|@D@|$D|g" dir2.cf.in >dir2.cf
sed "s|@D@|$D|g" dir1-sync.cf.in >dir1-sync.cf; sed "s|@D@|$D|g" dir2-sync.cf.in >dir2-sync.cf
modprobe -a veth bridge || { echo "@@@FAIL modprobe veth bridge"; exit 1; }
# the segment: a bridge in the VM's own namespace, one veth per namespace
ip link add vsbr0 type bridge || { echo "@@@FAIL no bridge"; exit 1; }
ip link set vsbr0 up
for n in dir1 dir2 cli rs; do
  ip netns add vs-$n
  ip link add vs-$n type veth peer name eth0 netns vs-$n
  ip link set vs-$n master vsbr0 up
  ip -n vs-$n link set lo up
  ip -n vs-$n link set eth0 up
done
ip -n vs-dir1 addr add 10.9.0.1/24 dev eth0
ip -n vs-dir2 addr add 10.9.0.2/24 dev eth0
ip -n vs-cli addr add 10.9.0.10/24 dev eth0
ip -n vs-rs addr add 10.9.0.20/24 dev eth0
# direct routing: the real server owns the VIP on lo but never answers ARP for it
ip -n vs-rs addr add $VIP/32 dev lo
ip netns exec vs-rs sysctl -q -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
ip netns exec vs-rs socat TCP-LISTEN:$PORT,fork,reuseaddr EXEC:cat & SP=$!
echo "@@@NET up at $(el) s"

nsx() { n=$1; shift; ip netns exec vs-$n "$@"; }
start_d() { # name driver config
  mkdir -p "$D/run-$1" "$D/state-$1"
  ip netns exec vs-$1 env LDIRECTORD_RUNDIR="$D/run-$1" LDIRECTORD_STATEDIR="$D/state-$1" LDIRECTORD_IPVS_DRIVER=$2 ${q(node)} ${q(DAEMON)} -d "$D/$1.cf" start >"$D/$1.out" 2>&1 &
  echo $! >"$D/$1.pid"
}
route_up() { nsx $1 ipvsadm -L -n 2>/dev/null | grep -q -- "-> 10.9.0.20:$PORT *Route *1 "; }
start_d dir1 netlink
start_d dir2 ipvsadm
U1=; U2=
while left && [ -z "$U1" -o -z "$U2" ]; do
  [ -z "$U1" ] && route_up dir1 && U1=$(el)
  [ -z "$U2" ] && route_up dir2 && U2=$(el)
  [ -z "$U1" -o -z "$U2" ] && sleep 1
done
echo "@@@TABLES \${U1:+dir1} \${U2:+dir2} at \${U1:-never}/\${U2:-never} s"

garp() { nsx $1 busybox arping -U -c 1 -w 1 -I eth0 -s $VIP $VIP >/dev/null 2>&1; }
vip_to() { # from to
  ip -n vs-$1 addr del $VIP/32 dev eth0 2>/dev/null
  ip -n vs-$2 addr add $VIP/32 dev eth0
  garp $2
  ip -n vs-cli neigh flush dev eth0
}
client() { # tag: one connection, a line every 0.2 s while go-TAG exists
  : >"$D/go-$1"
  ( i=0; while [ -e "$D/go-$1" ]; do echo "$1 $i"; i=$((i+1)); sleep 0.2; done ) | ip netns exec vs-cli socat -t 2 - TCP:$VIP:$PORT,connect-timeout=5 >"$D/c-$1.out" 2>"$D/c-$1.err" &
  echo $! >"$D/c-$1.pid"
}
lines() { wc -l <"$D/c-$1.out"; }
running() { kill -0 "$(cat "$D/c-$1.pid")" 2>/dev/null; }
# progress TAG SECONDS: the echo goes on (more lines within SECONDS, at most), the client still runs
progress() {
  a=$(lines $1); t=0
  while [ $t -lt $2 ] && running $1; do sleep 1; t=$((t+1)); b=$(lines $1); if [ "$b" -ge $((a + 3)) ] && running $1; then echo "ok +$((b - a)) lines in $t s"; return 0; fi; done
  if running $1; then echo "stalled: +$(( $(lines $1) - a )) lines in $2 s"; else echo "closed: $(tr '\\n' ' ' <"$D/c-$1.err")"; fi
  return 1
}
conn() { nsx $1 ipvsadm -L -n -c 2>/dev/null | grep "10.9.0.10:" | grep -- "$VIP:$PORT" | tr -s ' ' | head -1; }
stop_client() { rm -f "$D/go-$1"; n=0; while [ $n -lt 5 ] && running $1; do sleep 1; n=$((n+1)); done; kill "$(cat "$D/c-$1.pid")" 2>/dev/null; }

vip_to dir2 dir1
# --- phase A: no sync daemon ---
client A
n=0; while left && [ $n -lt 20 ] && [ "$(lines A)" -lt 10 ]; do sleep 1; n=$((n+1)); done
echo "@@@A_UP $(lines A) lines; dir1: $(conn dir1)"
T1=$(date +%s); vip_to dir1 dir2; echo "@@@A_MOVED in $(( $(date +%s) - T1 )) s"
echo "@@@A_AFTER $(progress A 10); dir2: $(conn dir2)"
stop_client A
vip_to dir2 dir1

# --- phase B: sync daemons on both directors, a master and a backup each ---
# the syncdaemon lines in both configs, applied by a reload
cp dir1-sync.cf dir1.cf; cp dir2-sync.cf dir2.cf
kill -HUP "$(cat dir1.pid)" "$(cat dir2.pid)"
daemons() { nsx $1 ipvsadm -L -n --daemon 2>&1 | sed 's/ sync daemon (/(/' | tr '\\n' ' '; }
both() { [ "$(nsx $1 ipvsadm -L -n --daemon 2>/dev/null | grep -c 'sync daemon')" = 2 ]; }
while left && ! { both dir1 && both dir2; }; do sleep 1; done
echo "@@@DAEMONS dir1: $(daemons dir1)| dir2: $(daemons dir2)| at $(el) s"
client B
# (the polls of phase B that must succeed stop at 60 rounds: each round is a second and a few processes
# of the VM's one emulated CPU, which beside a CPU hog on the host runs at about half speed)
n=0; while left && [ $n -lt 60 ] && [ "$(lines B)" -lt 10 ]; do sleep 1; n=$((n+1)); done
# the connection reaches dir2's table through the sync daemons before the VIP moves
n=0; while left && [ $n -lt 60 ] && [ -z "$(conn dir2)" ]; do sleep 1; n=$((n+1)); done
echo "@@@B_UP $(lines B) lines; dir1: $(conn dir1); dir2 after $n s: $(conn dir2)"
T1=$(date +%s); vip_to dir1 dir2; echo "@@@B_MOVED in $(( $(date +%s) - T1 )) s"
echo "@@@B_AFTER $(progress B 30); dir2: $(conn dir2)"
T1=$(date +%s); vip_to dir2 dir1; echo "@@@B_BACK_MOVED in $(( $(date +%s) - T1 )) s"
echo "@@@B_BACK $(progress B 30); dir1: $(conn dir1)"
stop_client B
echo "@@@B_END $(lines B) lines; client: $(tr '\\n' ' ' <c-B.err)"
# the echo came back in order, every line
i=0; bad=0; while read -r t k; do [ "$t $k" = "B $i" ] || bad=$((bad+1)); i=$((i+1)); done <c-B.out; echo "@@@B_ORDER $i lines, $bad out of order"

for n in dir1 dir2; do kill -TERM "$(cat $n.pid)"; done
k=0; while [ $k -lt 30 ] && { kill -0 "$(cat dir1.pid)" 2>/dev/null || kill -0 "$(cat dir2.pid)" 2>/dev/null; }; do sleep 1; k=$((k+1)); done
echo "@@@STOPPED after $k s"
echo "@@@DAEMONS_AFTER_STOP dir1: $(daemons dir1)| dir2: $(daemons dir2)"
kill $SP 2>/dev/null
echo "@@@TOTAL $(el) s"
for n in dir1 dir2; do echo "@@@LOG $n"; cat $n.out $n.log 2>/dev/null | tail -40; echo "@@@END"; done
for n in dir1 dir2 cli rs; do ip netns del vs-$n; done
`;
}

describe.skipIf(missing !== undefined)('connection sync on the real kernel: an established connection over a director failover and back', () => {
  let vm: VmResult;
  let out = '';
  const at = (name: string) => new RegExp(`@@@${name} ([^\\n]*)`).exec(out)?.[1];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ldts-kernel-sync-'));
    writeFileSync(join(dir, 'dir1.cf.in'), config('@D@', 'dir1', []));
    writeFileSync(join(dir, 'dir2.cf.in'), config('@D@', 'dir2', []));
    writeFileSync(join(dir, 'dir1-sync.cf.in'), config('@D@', 'dir1', SYNC_LINES.dir1));
    writeFileSync(join(dir, 'dir2-sync.cf.in'), config('@D@', 'dir2', SYNC_LINES.dir2));
    writeFileSync(join(dir, 'run.sh'), syncPayload(process.execPath));
    chmodSync(join(dir, 'run.sh'), 0o755);
    vm = await runVm(dir, { timeoutMs: 480_000, memory: '1024M' });
    out = vm.stdout;
    console.log(`VM (connection sync): boot ${vm.bootSeconds ?? '?'} s, whole run ${vm.totalSeconds.toFixed(1)} s`);
    for (const k of ['NET', 'TABLES', 'A_UP', 'A_MOVED', 'A_AFTER', 'DAEMONS', 'B_UP', 'B_MOVED', 'B_AFTER', 'B_BACK_MOVED', 'B_BACK', 'B_END', 'B_ORDER', 'DAEMONS_AFTER_STOP', 'TOTAL']) console.log(`${k}: ${at(k) ?? '-'}`);
  });

  const ctx = () => `\n${out.slice(-8000)}\n${vm.stderr.slice(-2000)}${vm.timedOut ? '\nVM TIMED OUT' : ''}`;

  it('both directors build the table (dir1 over netlink, dir2 through ipvsadm)', () => {
    expect(at('FAIL'), ctx()).toBeUndefined();
    expect(at('TABLES'), ctx()).toMatch(/^dir1 dir2 at \d+\/\d+ s/);
    expect(at('A_UP'), ctx()).toMatch(new RegExp(`^\\d+ lines; dir1: TCP \\S+ ESTABLISHED 10\\.9\\.0\\.10:\\d+ ${VIP}:${PORT} 10\\.9\\.0\\.20:${PORT}`));
  });

  it('without sync daemons the connection breaks when the VIP moves (so the test proves something)', () => {
    // dir2 has no entry for it: a reset (the local stack answers the non-SYN packet) or silence
    expect(at('A_AFTER'), ctx()).toMatch(/^(closed|stalled): /);
    expect(at('A_AFTER'), ctx()).toMatch(/dir2: $/);
  });

  it('with a master and a backup on each director, the connection is in dir2\'s table before the move', () => {
    expect(at('DAEMONS'), ctx()).toMatch(/dir1: master\(mcast=eth0, syncid=1.*backup\(mcast=eth0, syncid=2.*\| dir2: master\(mcast=eth0, syncid=2.*backup\(mcast=eth0, syncid=1/);
    expect(at('B_UP'), ctx()).toMatch(new RegExp(`dir2 after \\d+ s: TCP \\S+ ESTABLISHED 10\\.9\\.0\\.10:\\d+ ${VIP}:${PORT} 10\\.9\\.0\\.20:${PORT}`));
  });

  it('the established connection keeps working after the VIP moves to dir2, and after it moves back', () => {
    expect(at('B_AFTER'), ctx()).toMatch(/^ok \+\d+ lines in \d+ s/);
    expect(at('B_BACK'), ctx()).toMatch(/^ok \+\d+ lines in \d+ s/);
    // one connection all along: every line echoed once, in order, and a clean end
    expect(at('B_ORDER'), ctx()).toMatch(/^\d+ lines, 0 out of order$/);
    expect(at('B_END'), ctx()).toMatch(/client: $/);
  });

  it('a stop of the daemon stops the sync daemons it started (cleanstop=yes, the default)', () => {
    expect(at('DAEMONS_AFTER_STOP'), ctx()).toBe('dir1: | dir2: ');
  });
});
