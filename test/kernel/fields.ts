/**
 * The field cases of the differential suite (test/differential/runtime/field-cases.ts: every field of
 * every entry after quiesce, restore, fallback in and out, reload edits, maintenance) on the REAL kernel:
 * a VM lane (run by fields.test.ts), each case in its own network namespace, the cases at once.
 *
 * The sides of a case share its namespace's IPVS table, each with the case's config on its own address
 * block: the Perl original (/usr/sbin/ldirectord, real ipvsadm) on 127.X.1.*, ours with the ipvsadm
 * driver on 127.X.2.* and (when asked) ours with the netlink driver on 127.X.3.* (X = 20 + case index).
 * Each step acts on the sides at once (listeners killed or started, maintenance files, a rewritten
 * config and a HUP), then the lane waits until the sides' entries, with every field (`-S -n`:
 * forwarding, weight, tunnel type; `-L -n --thresholds`: upper and lower thresholds), are equal, differ
 * from the previous checkpoint's and hold for two more polls. Each checkpoint is then asserted here:
 * orig = ours on each driver, field by field.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIELD_CASES, type FieldCase, type FieldOp } from '../differential/runtime/field-cases.js';

export { FIELD_CASES };

export const FIELD_SIDES = [
  { key: 'o', name: 'Perl original (ipvsadm)' },
  { key: 'a', name: 'ours, ipvsadm driver' },
  { key: 'n', name: 'ours, netlink driver' },
] as const;

/** Seconds one checkpoint may wait for the sides to agree on a new table (wall time, polls included). */
const LIMIT_S = 120;
/**
 * Seconds the first checkpoint may wait: the daemons' start, all of them at once on the VM's one
 * emulated CPU (measured ~110 s for two cases of two daemons on a busy host, 229 s beside two CPU hogs).
 * Bounds only: every wait polls and ends as soon as the sides agree.
 */
const START_LIMIT_S = 600;
/**
 * Seconds one case may take in all (measured ~200 s on a busy host, 418 s beside two CPU hogs;
 * fields.test.ts's VM bound and hook timeout are above it).
 */
export const CASE_LIMIT_S = 900;

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function opShell(op: FieldOp, k: number, portOf: (host: number) => number): string {
  switch (op.kind) {
    case 'kill':
      return `unlisten ${op.host}`;
    case 'revive':
      return `listen ${op.host} ${portOf(op.host)}`;
    case 'maint':
      return op.present ? `maint_on ${shq(op.file)}` : `maint_off ${shq(op.file)}`;
    case 'reload':
      return `reload step-${k}.cf.in`;
  }
}

/**
 * Writes the VM files of every field case under dir/f<i>/ and returns the lane's shell (run inside
 * `unshare -n`, lo up): the cases one after the other, each case's output in fout-<i>.txt.
 */
export function writeFieldLane(dir: string, node: string, daemon: string, sides: readonly FieldSide[] = ['o', 'a', 'n']): string {
  FIELD_CASES.forEach((c, i) => writeCase(join(dir, `f${i}`), c, i, node, daemon, sides));
  // The cases at once, each in its own network namespace (its own IPVS table): the VM has one CPU, but
  // a case spends most of its time waiting for checks and checkpoints, which then overlap. Each case
  // bounded (its daemons are killed with it), so that a hung one still leaves its checkpoints.
  const runs = FIELD_CASES.map((_, i) => `unshare -n sh -c 'ip link set lo up && exec timeout -k 5 ${CASE_LIMIT_S} sh ./f${i}/run.sh' >fout-${i}.txt 2>&1 &`);
  return `${runs.join(' ')} wait`;
}

export type FieldSide = (typeof FIELD_SIDES)[number]['key'];

function writeCase(d: string, c: FieldCase, i: number, node: string, daemon: string, sides: readonly FieldSide[]): void {
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'ld.cf.in'), c.cf);
  c.steps.forEach((st, k) => st.op.kind === 'reload' && writeFileSync(join(d, `step-${k}.cf.in`), st.op.cf));
  const ports = new Map(c.reals.map(([h, p]) => [h, p]));
  const portOf = (h: number) => ports.get(h) ?? 8000;
  const X = 20 + i;
  const steps = c.steps.map((st, k) => `step ${k + 1} ${shq(st.name)} ${shq(opShell(st.op, k, portOf))}`);
  const up = c.reals.filter(([, , on]) => on).map(([h, p]) => `listen ${h} ${p}`);
  const script = `#!/bin/sh
# field case ${i}: ${c.name}
cd "$(dirname "$0")"
D="$(pwd)"
export LC_ALL=C
T0=$(date +%s)
# A dry run on a host without IPVS: FIELD_SIDES="o a" and FIELD_IPVSADM=<a fake ipvsadm> (linked as
# each side's ./ipvsadm, which -d makes both daemons use; first in PATH for the snapshots).
SIDES="\${FIELD_SIDES:-${sides.join(' ')}}"
if [ -n "$FIELD_IPVSADM" ]; then mkdir -p bin; ln -sf "$FIELD_IPVSADM" bin/ipvsadm; PATH="$D/bin:$PATH"; for s in $SIDES; do mkdir -p $s; ln -sf "$FIELD_IPVSADM" $s/ipvsadm; done; fi
blk() { case "$1" in o) echo 127.${X}.1. ;; a) echo 127.${X}.2. ;; n) echo 127.${X}.3. ;; esac; }
cfg() { for s in $SIDES; do mkdir -p "$s/maint"; sed -e "s|127\\.0\\.N\\.|$(blk $s)|g" -e "s|@DIR@|$D/$s|g" "$1" >"$s/$s.cf"; done; }
listen() {
  for s in $SIDES; do
    ip="$(blk $s)$1"
    socat "TCP-LISTEN:$2,bind=$ip,fork,reuseaddr" OPEN:/dev/null & echo $! >"l-$s-$1.pid"
    n=0; while [ $n -lt 50 ] && ! ss -Hltn 2>/dev/null | grep -q " $ip:$2 "; do sleep 0.2; n=$((n+1)); done
  done
}
unlisten() { for s in $SIDES; do f="l-$s-$1.pid"; [ -f "$f" ] && { kill "$(cat "$f")" 2>/dev/null; wait "$(cat "$f")" 2>/dev/null; rm -f "$f"; }; done; }
maint_on() { for s in $SIDES; do : >"$s/maint/$(echo "$1" | sed "s|127\\.0\\.N\\.|$(blk $s)|g")"; done; }
maint_off() { for s in $SIDES; do rm -f "$s/maint/$(echo "$1" | sed "s|127\\.0\\.N\\.|$(blk $s)|g")"; done; }
reload() { cfg "$1"; for s in $SIDES; do kill -HUP "$(cat "pid-$s")"; done; }
start_all() {
  for s in $SIDES; do case $s in
    o) ( cd o && exec /usr/sbin/ldirectord -d o.cf start ) >o.out 2>&1 & echo $! >pid-o ;;
    a) ( cd a && LDIRECTORD_IPVS_DRIVER=ipvsadm exec ${shq(node)} ${shq(daemon)} -d a.cf start ) >a.out 2>&1 & echo $! >pid-a ;;
    n) ( cd n && LDIRECTORD_IPVS_DRIVER=netlink exec ${shq(node)} ${shq(daemon)} -d n.cf start ) >n.out 2>&1 & echo $! >pid-n ;;
  esac; done
}
stop_all() { for s in $SIDES; do kill "$(cat "pid-$s")" 2>/dev/null; done; for s in $SIDES; do wait "$(cat "pid-$s")" 2>/dev/null; echo "$s: exit status $?" >>stop.txt; done; }
# Every side's entries, every field, each side's block renamed 127.0.N., into c-<side>.txt (sorted):
# the -S -n lines, then one line per destination of -L -n --thresholds (service, destination, upper,
# lower). One listing of the table per poll for all sides: processes cost the VM's one emulated CPU.
snap() {
  { ipvsadm -S -n; echo @@@THRESHOLDS; ipvsadm -L -n --thresholds; } 2>&1 | awk -v sides="$SIDES" -v x=${X} '
    BEGIN { n = split(sides, S, " "); for (k = 1; k <= n; k++) { B[k] = "127\\." x "\\." (S[k] == "o" ? 1 : S[k] == "a" ? 2 : 3) "\\." } }
    /^@@@THRESHOLDS$/ { t = 1; next }
    t && /^(TCP|UDP|SCTP|FWM) / { svc = $2; next }
    t && !/^  -> [0-9[]/ { next }
    { line = t ? "= " svc " -> " $2 " x=" $3 " y=" $4 : $0
      for (k = 1; k <= n; k++) if (line ~ B[k]) { gsub(B[k], "127.0.N.", line); print S[k] " " line } }' |
    sort | awk -v sides="$SIDES" 'BEGIN { n = split(sides, S, " "); for (k = 1; k <= n; k++) printf "" >("c-" S[k] ".txt") } { s = $1; sub(/^[^ ]* /, ""); print >("c-" s ".txt") }'
}
: >prev.txt
# Waits until the three sides' snapshots are equal, not the previous checkpoint's, and unchanged over
# two more polls (at most ${LIMIT_S} s, ${START_LIMIT_S} s for the daemons' start); prints the checkpoint.
checkpoint() {
  t=0; same=0; c0=$(date +%s); lim=${LIMIT_S}; [ "$1" = 0 ] && lim=${START_LIMIT_S}
  # The daemons' start: until every side has its first entry, each poll only reads the namespace's
  # table from /proc/net/ip_vs with shell builtins (addresses in hex: 127.X.<side>. = 7F<X><side>) and
  # the clock from /proc/uptime; the only process per poll is sleep. The full snapshot's pipeline (two
  # listings, awk, sort, cmp, date: ~0.8 s of the VM's one emulated CPU per poll) took most of the CPU
  # from the starting daemons, every case polling at once. Without /proc/net/ip_vs (a dry run with
  # FIELD_IPVSADM): ipvsadm -S -n.
  if [ "$1" = 0 ]; then read u0 _ </proc/uptime; while :; do
    if [ -z "$FIELD_IPVSADM" ] && [ -r /proc/net/ip_vs ]; then l=; while read -r w; do l="$l $w"; done </proc/net/ip_vs; px=1
    else l=$(ipvsadm -S -n 2>/dev/null); px=; fi
    up=1
    for s in $SIDES; do
      [ -f "first-$s" ] && continue
      case $s in o) k=1 ;; a) k=2 ;; *) k=3 ;; esac
      if [ -n "$px" ]; then b=7F${X.toString(16).toUpperCase().padStart(2, '0')}0$k; else b="127.${X}.$k."; fi
      case "$l" in *"$b"*) echo $(( $(date +%s) - T0 )) >"first-$s" ;; *) up= ;; esac
    done
    [ -n "$up" ] && break
    read u _ </proc/uptime; [ $(( \${u%.*} - \${u0%.*} )) -ge $lim ] && break
    sleep 1; t=$((t+1))
  done; fi
  while :; do
    snap
    # When each side's first entry showed (its daemon's start-up time on the VM's CPU).
    for s in $SIDES; do [ -s "c-$s.txt" ] && [ ! -f "first-$s" ] && echo $(( $(date +%s) - T0 )) >"first-$s"; done
    eq=1; for s in $SIDES; do cmp -s c-o.txt "c-$s.txt" || eq=; done
    if [ -n "$eq" ] && ! cmp -s c-o.txt prev.txt; then
      if [ $same -gt 0 ] && cmp -s c-o.txt hold.txt; then same=$((same+1)); else same=1; cp c-o.txt hold.txt; fi
      [ $same -ge 3 ] && break
    else same=0; fi
    if [ $(( $(date +%s) - c0 )) -ge $lim ]; then break; fi
    sleep 1; t=$((t+1))
  done
  w="$t polls, $(( $(date +%s) - c0 )) s"
  if [ $same -ge 3 ]; then w="ok $w"; else w="timeout $w"; fi
  echo "@@@FCP $1"; echo "@@@NAME $2"; echo "@@@WAIT $w"; echo "@@@AT $(( $(date +%s) - T0 ))"
  for s in $SIDES; do echo "@@@SIDE $s"; cat "c-$s.txt"; done
  echo "@@@FCPEND $1"
  cp c-o.txt prev.txt
  [ $same -ge 3 ]
}
finish() {
  for f in l-*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  echo "@@@DONE $(( $(date +%s) - T0 ))"
  for s in $SIDES; do echo "@@@FIRST $s $(cat "first-$s" 2>/dev/null)"; done
  for s in $SIDES; do echo "@@@LOG $s"; grep -v '^DEBUG' "$s.out" | tail -60; echo "@@@LOGEND"; done
  cat stop.txt 2>/dev/null
}
# Killed by the lane's bound: the daemons go too, and what ran is still reported.
trap 'for s in $SIDES; do kill -9 "$(cat "pid-$s" 2>/dev/null)" 2>/dev/null; done; echo "@@@KILLED at $(( $(date +%s) - T0 )) s"; finish; exit 1' TERM
ABORT=
step() { [ -n "$ABORT" ] && return; eval "$3"; checkpoint "$1" "$2" || ABORT=1; }
cfg ld.cf.in
${up.join('\n')}
start_all
checkpoint 0 'after start' || ABORT=1
${steps.join('\n')}
stop_all
[ -n "$ABORT" ] || checkpoint ${c.steps.length + 1} 'after stop'
finish
`;
  writeFileSync(join(d, 'run.sh'), script);
  chmodSync(join(d, 'run.sh'), 0o755);
}

export interface FieldCheckpoint {
  readonly name: string;
  readonly wait: string;
  readonly at: number;
  readonly sides: Record<'o' | 'a' | 'n', string>;
}

/** The checkpoints of one case's output (fout-<i>.txt), by index. */
export function parseFieldOutput(out: string): Map<number, FieldCheckpoint> {
  const cps = new Map<number, FieldCheckpoint>();
  for (const m of out.matchAll(/@@@FCP (\d+)\n([\s\S]*?)@@@FCPEND \1\n/g)) {
    const body = m[2];
    const side = (s: string) => new RegExp(`@@@SIDE ${s}\\n([\\s\\S]*?)(?=@@@SIDE |$)`).exec(body)?.[1] ?? '';
    cps.set(Number(m[1]), {
      name: /@@@NAME (.*)/.exec(body)?.[1] ?? '?',
      wait: /@@@WAIT (.*)/.exec(body)?.[1] ?? '?',
      at: Number(/@@@AT (\d+)/.exec(body)?.[1] ?? NaN),
      sides: { o: side('o'), a: side('a'), n: side('n') },
    });
  }
  return cps;
}

/** The daemons' logs of one case's output (DEBUG lines left out). */
export function fieldLogs(out: string): string {
  return [...out.matchAll(/@@@LOG (\w)\n([\s\S]*?)@@@LOGEND/g)].map((m) => `--- ${m[1]}:\n${m[2]}`).join('\n');
}

/** The sides' names, for titles and summaries ("Perl original (ipvsadm), ours, ipvsadm driver"). */
export const sideNames = (sides: readonly FieldSide[]) => FIELD_SIDES.filter((s) => sides.includes(s.key)).map((s) => s.name).join(', ');

/**
 * The field cases' tests, one per checkpoint: the Perl original's entries equal ours on each driver of
 * `sides` (the ones the lane ran), every field. `out(i)` is case i's lane output once the VM has run.
 */
export function describeFieldCases(out: (i: number) => string | undefined, vmInfo: () => string, sides: readonly FieldSide[] = ['o', 'a', 'n']): void {
  const ours = FIELD_SIDES.filter((s) => s.key !== 'o' && sides.includes(s.key));
  FIELD_CASES.forEach((c, i) => {
    describe(`field case ${i} on the real kernel (${sideNames(sides)}): ${c.name}`, () => {
      const names = ['after start', ...c.steps.map((st) => st.name), 'after stop'];
      names.forEach((name, k) => {
        it(`checkpoint ${k}: ${name}: every field of every entry equal`, () => {
          const text = out(i) ?? '';
          const cp = parseFieldOutput(text).get(k);
          const info = () => `${cp ? FIELD_SIDES.filter((s) => sides.includes(s.key)).map((s) => `=== ${s.name}:\n${cp.sides[s.key]}`).join('\n') : '(no checkpoint)'}\n${fieldLogs(text)}\n${vmInfo()}`;
          expect(cp, `case ${i} never reached checkpoint ${k}\n${info()}`).toBeDefined();
          for (const s of ours) expect(cp!.sides[s.key], `${s.name} vs the original\n${info()}`).toBe(cp!.sides.o);
          expect(cp!.wait, `no new agreed table within the limit\n${info()}`).toMatch(/^ok /);
          // Sanity: every entry has both views (the -S line and the thresholds line), while the daemons run.
          if (k < names.length - 1) {
            const lines = cp!.sides.o.split('\n');
            expect(lines.filter((l) => l.startsWith('-a ')).length, info()).toBeGreaterThan(0);
            expect(lines.filter((l) => l.startsWith('= ')).length, info()).toBe(lines.filter((l) => l.startsWith('-a ')).length);
          } else expect(cp!.sides.o, info()).toBe('');
        });
      });
    });
  });
}

/** Seconds from each case's start to each checkpoint, for the suite's closing lines. */
export function fieldTimes(out: (i: number) => string | undefined, sides: readonly FieldSide[] = ['o', 'a', 'n']): string[] {
  return FIELD_CASES.map((_, i) => {
    const text = out(i) ?? '';
    const cps = [...parseFieldOutput(text).values()].map((c) => `${c.at} (${c.wait})`);
    const first = [...text.matchAll(/@@@FIRST (\w) (\d*)/g)].map((m) => `${m[1]} ${m[2] || '?'} s`).join(', ');
    return `VM field case ${i} (${sides.length} daemons): first entries at ${first}; checkpoints at ${cps.join(', ')}; done at ${/@@@DONE (\d+)/.exec(text)?.[1] ?? '?'} s`;
  });
}
