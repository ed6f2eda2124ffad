/**
 * Daemon scenarios for the kernel suite: each is a config, some shell set-up and a list of STEPS; a step
 * is a shell action, then a wait (poll `ipvsadm -S -n` until it is the step's expected table, at most
 * LDTS_WAIT seconds), then a checkpoint (the table with `-S -n`, optionally `-L -n --thresholds` and a
 * probe's output). The same run.sh runs in the VM (real ipvsadm, each scenario in its own network
 * namespace, so they run in parallel) and on the host (the fake ipvsadm, distinct ports per scenario).
 *
 * Placeholders in every text: @P@ @Q@ @R@ @S@ @T@ = the scenario's ports (base + 0..4), @DIR@ = the
 * scenario's directory at run time, @NODE@ and @DAEMON@ = node and bin/ldirectord.js.
 */

export interface Step {
  name: string;
  /** Shell run before the wait (helpers: listen, unlisten, start_d, stop_d, hup, cli). */
  action?: string;
  /** The expected `ipvsadm -S -n` lines (any order) on both sides, or per side when they must differ. */
  table: string[] | { real: string[]; fake: string[] };
  /** Also dump `ipvsadm -L -n --thresholds` at this checkpoint. */
  thresholds?: boolean;
  /** Expected destinations of that listing, each `addr:port upper lower` (any order). */
  thresholdLines?: string[];
  /** Shell whose output is recorded at the checkpoint (after the wait). */
  probe?: string;
  /** Expected probe output per side (exact), when it must be checked. */
  probeExpect?: { real: string; fake: string };
  /** Wrapped scenarios: a line some `-R` batch of this step must hold (regexps, placeholders replaced). */
  require?: string[];
  /** Wrapped scenarios: lines no `-R` batch of this step may hold. */
  forbid?: string[];
}

export interface Scenario {
  name: string;
  /** Files written into the scenario's directory (placeholders replaced at run time). ldts.cf is the config. */
  files: Record<string, string>;
  /** Shell run before the first step (listeners, a pre-existing table). */
  setup?: string;
  /** Run the daemon's ipvsadm through the logging wrapper (./ipvsadm, log in ipvsadm.log). */
  wrap?: boolean;
  steps: Step[];
}

const HEAD = `checktimeout=3
checkinterval=1
`;

/** Regexp text of an address (dots escaped) for require/forbid. */
const re = (s: string) => s.replace(/[.[\]]/g, (c) => `\\${c}`);

/** Scenario 0's lines that stay the same through its steps. */
const S0_STATIC = [
  '-A -t 127.0.0.100:80 -s wrr -p 300',
  '-a -t 127.0.0.100:80 -r 127.0.0.1:80 -g -w 1',
  '-a -t 127.0.0.100:80 -r 127.0.0.2:80 -g -w 0',
  '-A -t 127.0.0.101:@P@ -s wlc',
  '-a -t 127.0.0.101:@P@ -r 127.0.0.1:@P@ -m -w 5',
  '-A -t [::1]:@P@ -s rr -p 120 -M 64',
  '-A -t 127.0.0.103:0 -s wrr -p 300',
  '-a -t 127.0.0.103:0 -r 127.0.0.1:0 -g -w 1',
  '-A -u 127.0.0.102:53 -s sh',
  '-a -u 127.0.0.102:53 -r 127.0.0.1:53 -g -w 1',
  '-a -u 127.0.0.102:53 -r 127.0.0.4:5353 -m -w 2',
  '-A -f 7 -s wrr -p 60 -M 255.255.255.0',
  '-a -f 7 -r 127.0.0.1:0 -g -w 4',
  '-A -t 127.0.0.130:80 -s wlc',
  '-a -t 127.0.0.130:80 -r 127.0.0.2:@R@ -m -w 0',
];
const S0_UP = ['-a -t [::1]:@P@ -r [::1]:@Q@ -m -w 3', '-a -t 127.0.0.130:80 -r 127.0.0.1:@R@ -m -w 3'];

/** Scenario 1: the thresholds virtual (150) and the reloaded ones (120, 121 -> 122), config A then B. */
const S1_A = [
  '-A -t 127.0.0.150:80 -s wlc',
  '-a -t 127.0.0.150:80 -r 127.0.0.1:80 -g -w 2',
  '-a -t 127.0.0.150:80 -r 127.0.0.3:80 -g -w 1',
  '-a -t 127.0.0.150:80 -r 127.0.0.4:@P@ -m -w 3',
  '-A -t [::1]:@P@ -s wrr',
  '-a -t [::1]:@P@ -r [::1]:@Q@ -m -w 4',
  '-A -t 127.0.0.120:80 -s wrr',
  '-a -t 127.0.0.120:80 -r 127.0.0.1:80 -g -w 2',
  '-a -t 127.0.0.120:80 -r 127.0.0.2:80 -g -w 0',
  '-A -t 127.0.0.121:80 -s rr',
  '-a -t 127.0.0.121:80 -r 127.0.0.1:80 -g -w 1',
];
const S1_B = [
  '-A -t 127.0.0.150:80 -s wlc',
  '-a -t 127.0.0.150:80 -r 127.0.0.1:80 -g -w 2',
  '-a -t 127.0.0.150:80 -r 127.0.0.3:80 -g -w 1',
  '-a -t 127.0.0.150:80 -r 127.0.0.4:@P@ -m -w 6',
  '-A -t [::1]:@P@ -s wrr',
  '-a -t [::1]:@P@ -r [::1]:@Q@ -m -w 4',
  '-A -t 127.0.0.120:80 -s wlc',
  '-a -t 127.0.0.120:80 -r 127.0.0.1:80 -g -w 5',
  '-a -t 127.0.0.120:80 -r 127.0.0.3:80 -g -w 1',
  '-A -t 127.0.0.122:80 -s sh',
  '-a -t 127.0.0.122:80 -r 127.0.0.1:@P@ -m -w 2',
];
const S1_CF_A = `${HEAD}quiescent=yes
virtual=127.0.0.150:80
\treal=127.0.0.1:@P@ gate 2 l:5 u:50
\treal=127.0.0.3:@P@ gate 1 u:20
\treal=127.0.0.4:@P@ masq 3 l:7 u:8
\tscheduler=wlc
\tchecktype=connect
virtual6=[::1]:@P@
\treal6=[::1]:@Q@ masq 4 l:1 u:9
\tchecktype=connect
virtual=127.0.0.120:80
\treal=127.0.0.1:@P@ gate 2
\treal=127.0.0.2:@P@ gate 1
\tscheduler=wrr
\tchecktype=connect
virtual=127.0.0.121:80
\treal=127.0.0.1:@P@ gate
\tscheduler=rr
\tchecktype=connect
`;
const S1_CF_B = `${HEAD}quiescent=yes
virtual=127.0.0.150:80
\treal=127.0.0.1:@P@ gate 2 l:10 u:100
\treal=127.0.0.3:@P@ gate 1
\treal=127.0.0.4:@P@ masq 6 l:7 u:8
\tscheduler=wlc
\tchecktype=connect
virtual6=[::1]:@P@
\treal6=[::1]:@Q@ masq 4 u:30
\tchecktype=connect
virtual=127.0.0.120:80
\treal=127.0.0.1:@P@ gate 5
\treal=127.0.0.3:@P@ gate 1
\tscheduler=wlc
\tchecktype=connect
virtual=127.0.0.122:80
\treal=127.0.0.1:@P@ masq 2
\tscheduler=sh
\tchecktype=connect
`;

/** Scenario 3 (same address:port): the real kernel's table and the fake's. */
const S3_REAL = ['-A -t 127.0.0.1:@S@ -s wrr', '-A -t 127.0.0.140:80 -s wrr', '-a -t 127.0.0.140:80 -r 127.0.0.1:80 -g -w 1', '-A -t [::1]:@R@ -s wrr'];
const S3_FAKE = [...S3_REAL, '-a -t 127.0.0.1:@S@ -r 127.0.0.1:@S@ -m -w 1', '-a -t [::1]:@R@ -r [::1]:@R@ -m -w 1'];

const RESTART_TABLE = [
  '-A -t 127.0.0.110:80 -s wlc',
  '-a -t 127.0.0.110:80 -r 127.0.0.1:80 -g -w 2',
  '-A -t 127.0.0.111:80 -s wlc',
  '-a -t 127.0.0.111:80 -r 127.0.0.8:@P@ -m -w 3',
];

/**
 * Few scenarios with many steps, not many small ones: each daemon start costs ~10 s of the VM's one
 * emulated CPU (loading node and our modules under tcg), which is what the suite's time is made of.
 */
export const SCENARIOS: Scenario[] = [
  {
    name: 'quiescent + persistence, masq wlc quiescent=no, IPv6 connect check ([::1]:P -> [::1]:Q), UDP, fwmark, PCC port 0; reals down and back (failurecount=2, fallback)',
    files: {
      'ldts.cf': `${HEAD}failurecount=2
quiescent=yes
virtual=127.0.0.100:80
\treal=127.0.0.1:@P@ gate
\treal=127.0.0.2:@P@ gate
\tscheduler=wrr
\tpersistent=300
\tchecktype=connect
virtual=127.0.0.101:@P@
\treal=127.0.0.1:@P@ masq 5
\treal=127.0.0.3:@P@ masq 2
\tscheduler=wlc
\tquiescent=no
\tchecktype=connect
virtual6=[::1]:@P@
\treal6=[::1]:@Q@ masq 3
\tscheduler=rr
\tpersistent=120
\tnetmask=64
\tquiescent=no
\tchecktype=connect
virtual=127.0.0.102:53
\tprotocol=udp
\treal=127.0.0.1:53 gate
\treal=127.0.0.4:5353 masq 2
\tscheduler=sh
\tchecktype=on
virtual=7
\tprotocol=fwm
\treal=127.0.0.1 gate 4
\tscheduler=wrr
\tpersistent=60
\tnetmask=255.255.255.0
\tchecktype=on
virtual=127.0.0.103:0
\treal=127.0.0.1 gate
\tpersistent=300
\tchecktype=on
virtual=127.0.0.130:80
\treal=127.0.0.1:@R@ masq 3
\treal=127.0.0.2:@R@ masq 1
\tfallback=127.0.0.9:@R@ masq
\tscheduler=wlc
\tchecktype=connect
`,
    },
    setup: 'listen a 127.0.0.1 @P@; listen b ::1 @Q@; listen c 127.0.0.1 @R@',
    wrap: true,
    steps: [
      { name: 'started', action: 'start_d', table: [...S0_STATIC, ...S0_UP] },
      {
        name: 'listeners [::1]:Q and 127.0.0.1:R killed: IPv6 real deleted (quiescent=no), 130 quiesced + fallback on',
        action: 'unlisten b; unlisten c',
        table: [...S0_STATIC, '-a -t 127.0.0.130:80 -r 127.0.0.1:@R@ -m -w 0', '-a -t 127.0.0.130:80 -r 127.0.0.9:@R@ -m -w 1'],
        require: [
          `^-d -t ${re('[::1]')}:@P@ -r ${re('[::1]')}:@Q@$`,
          `^-e -t ${re('127.0.0.130')}:80 -r ${re('127.0.0.1')}:@R@ -m -w 0$`,
          `^-a -t ${re('127.0.0.130')}:80 -r ${re('127.0.0.9')}:@R@ -m -w 1$`,
        ],
        forbid: [`^-d -t ${re('127.0.0.130')}:80 -r ${re('127.0.0.1')}:`, `127${re('.0.0.100')}`],
      },
      {
        name: 'listeners back: weights restored, fallback off',
        action: 'listen b ::1 @Q@; listen c 127.0.0.1 @R@',
        table: [...S0_STATIC, ...S0_UP],
        require: [
          `^-a -t ${re('[::1]')}:@P@ -r ${re('[::1]')}:@Q@ -m -w 3$`,
          `^-e -t ${re('127.0.0.130')}:80 -r ${re('127.0.0.1')}:@R@ -m -w 3$`,
          `^-d -t ${re('127.0.0.130')}:80 -r ${re('127.0.0.9')}:@R@$`,
        ],
      },
      { name: 'stopped', action: 'stop_d', table: [] },
    ],
  },
  {
    name: 'connection thresholds (l:N u:M) and a reload (HUP) adding and removing virtuals and reals, changing thresholds, weights and a scheduler',
    files: { 'ldts.cf': S1_CF_A, 'b.cf': S1_CF_B },
    setup: 'listen a 127.0.0.1 @P@; listen b 127.0.0.3 @P@; listen c 127.0.0.4 @P@; listen d ::1 @Q@',
    wrap: true,
    steps: [
      {
        name: 'started with config A',
        action: 'start_d',
        thresholds: true,
        thresholdLines: ['127.0.0.1:80 50 5', '127.0.0.3:80 20 0', '127.0.0.4:@P@ 8 7', '[::1]:@Q@ 9 1', '127.0.0.1:80 0 0', '127.0.0.2:80 0 0', '127.0.0.1:80 0 0'],
        table: S1_A,
      },
      {
        name: 'config B, HUP',
        action: 'cp b.cf ldts.cf; hup',
        thresholds: true,
        thresholdLines: ['127.0.0.1:80 100 10', '127.0.0.3:80 0 0', '127.0.0.4:@P@ 8 7', '[::1]:@Q@ 30 0', '127.0.0.1:80 0 0', '127.0.0.3:80 0 0', '127.0.0.1:@P@ 0 0'],
        table: S1_B,
        require: [
          `^-e -t ${re('127.0.0.150')}:80 -r ${re('127.0.0.1')}:\\d+ -g -w 2 -x 100 -y 10$`,
          `^-e -t ${re('127.0.0.150')}:80 -r ${re('127.0.0.3')}:\\d+ -g -w 1$`,
          `^-e -t ${re('[::1]')}:@P@ -r ${re('[::1]')}:@Q@ -m -w 4 -x 30 -y 0$`,
          `^-E -t ${re('127.0.0.120')}:80 -s wlc`,
          `^-D -t ${re('127.0.0.121')}:80$`,
          `^-A -t ${re('127.0.0.122')}:80 -s sh`,
          `^-e -t ${re('127.0.0.120')}:80 -r ${re('127.0.0.1')}:\\d+ -g -w 5$`,
          `^-d -t ${re('127.0.0.120')}:80 -r ${re('127.0.0.2')}:`,
        ],
        // The kept reals' health survives the reload: never quiesced nor deleted, only re-weighted.
        forbid: [`^-d -t ${re('127.0.0.120')}:80 -r ${re('127.0.0.1')}:`, `^-[ae] -t ${re('127.0.0.120')}:80 -r ${re('127.0.0.1')}:.* -w 0$`, `^-[ae] -t ${re('127.0.0.150')}:80 -r .* -w 0$`, `^-[ade] -t ${re('[::1]')}:@P@ -r .*( -w 0)?$`].map((f, k) => (k === 3 ? `^-d -t ${re('[::1]')}:@P@ |^-[ae] -t ${re('[::1]')}:@P@ .* -w 0$` : f)),
      },
      { name: 'stopped', action: 'stop_d', table: [], thresholds: true, thresholdLines: [] },
    ],
  },
  {
    name: 'restart (CLI, pid file) over an existing table with a stale real and an unmanaged virtual',
    files: {
      'ldts.cf': `${HEAD}logfile="@DIR@/daemon.out"
virtual=127.0.0.110:80
\treal=127.0.0.1:@P@ gate 2
\tscheduler=wlc
\tchecktype=connect
`,
    },
    setup: `listen a 127.0.0.1 @P@
$IPVSADM -A -t 127.0.0.110:80 -s rr
$IPVSADM -a -t 127.0.0.110:80 -r 127.0.0.7:80 -g -w 1
$IPVSADM -A -t 127.0.0.111:80 -s wlc
$IPVSADM -a -t 127.0.0.111:80 -r 127.0.0.8:@P@ -m -w 3`,
    wrap: true,
    steps: [
      {
        name: 'table before the daemon',
        table: [
          '-A -t 127.0.0.110:80 -s rr',
          '-a -t 127.0.0.110:80 -r 127.0.0.7:80 -g -w 1',
          '-A -t 127.0.0.111:80 -s wlc',
          '-a -t 127.0.0.111:80 -r 127.0.0.8:@P@ -m -w 3',
        ],
      },
      {
        name: 'ldirectord start (detached daemon): scheduler changed, stale real purged, unmanaged virtual untouched',
        action: 'cli start; cat ldirectord.ldts.cf.pid > pid1',
        table: RESTART_TABLE,
        require: [`^-E -t ${re('127.0.0.110')}:80 -s wlc`, `^-d -t ${re('127.0.0.110')}:80 -r ${re('127.0.0.7')}:80$`],
        forbid: [re('127.0.0.111')],
      },
      {
        name: 'ldirectord restart',
        action: 'cli restart; cat ldirectord.ldts.cf.pid > pid2',
        table: RESTART_TABLE,
        probe: 'if [ -s pid1 ] && [ -s pid2 ] && ! cmp -s pid1 pid2; then echo "new daemon"; else echo "same daemon: $(cat pid1) $(cat pid2)"; fi',
        probeExpect: { real: 'new daemon\n', fake: 'new daemon\n' },
        // The old daemon removed its virtual at stop, the new one added it again.
        require: [`^-D -t ${re('127.0.0.110')}:80$`, `^-A -t ${re('127.0.0.110')}:80 -s wlc`],
        forbid: [re('127.0.0.111')],
      },
      {
        name: 'ldirectord stop',
        action: 'cli stop',
        table: ['-A -t 127.0.0.111:80 -s wlc', '-a -t 127.0.0.111:80 -r 127.0.0.8:@P@ -m -w 3'],
        probe: 'ls ldirectord.ldts.cf.pid 2>/dev/null || echo "no pid file"',
        probeExpect: { real: 'no pid file\n', fake: 'no pid file\n' },
      },
    ],
  },
  {
    name: 'virtual = a local real (same address AND port): IPVS intercepts the check (expected real/fake difference); ./ipvsadm absent',
    files: {
      'ldts.cf': `${HEAD}virtual6=[::1]:@R@
\treal6=[::1]:@R@ masq
\tchecktype=connect
virtual=127.0.0.1:@S@
\treal=127.0.0.1:@S@ masq
\tchecktype=connect
virtual=127.0.0.140:80
\treal=127.0.0.1:@T@ gate
\tchecktype=connect
`,
    },
    setup: 'listen r ::1 @R@; listen s 127.0.0.1 @S@; listen t 127.0.0.1 @T@',
    steps: [
      {
        name: 'started: the control real is up; the same-address:port reals only on the fake',
        action: 'start_d',
        table: { real: S3_REAL, fake: S3_FAKE },
      },
      {
        name: 'three seconds later: still down on the real kernel; a direct connect is refused there too',
        action: 'sleep 3',
        table: { real: S3_REAL, fake: S3_FAKE },
        // Each outcome expected here (refused, connected) is immediate; the bound is only there so that a
        // wrong one cannot hang: 30 s, as the VM's one emulated CPU beside a busy host may take seconds
        // to start socat (a run beside two CPU hogs timed out at 3 s on both refused probes).
        probe: `probe() { e=$(timeout 30 socat -u OPEN:/dev/null "$1" 2>&1 >/dev/null); r=$?; if [ $r -eq 0 ]; then echo "$2 connected"; elif [ $r -eq 124 ]; then echo "$2 timed out"; else echo "$2 failed: \${e##*: }"; fi; }
probe 'TCP6:[::1]:@R@' 'IPv6 same address:port'; probe TCP4:127.0.0.1:@S@ 'IPv4 same address:port'; probe TCP4:127.0.0.1:@T@ 'IPv4 control'`,
        probeExpect: {
          real: 'IPv6 same address:port failed: Connection refused\nIPv4 same address:port failed: Connection refused\nIPv4 control connected\n',
          fake: 'IPv6 same address:port connected\nIPv4 same address:port connected\nIPv4 control connected\n',
        },
      },
      { name: 'stopped', action: 'stop_d', table: [] },
    ],
  },
];

const PORT_NAMES = ['P', 'Q', 'R', 'S', 'T'];

/** Replaces the port placeholders of scenario i (ports base+10i+0..4). */
export function withPorts(text: string, base: number, i: number): string {
  let t = text;
  PORT_NAMES.forEach((n, k) => (t = t.replaceAll(`@${n}@`, String(base + 10 * i + k))));
  return t;
}

/** The expected `-S -n` lines of a step on one side. */
export function expectedTable(step: Step, side: 'real' | 'fake'): string[] {
  return Array.isArray(step.table) ? step.table : step.table[side];
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The expected table as the wait compares it: lines sorted bytewise (LC_ALL=C sort), newline-terminated. */
export function sortedTable(lines: string[]): string {
  const s = [...lines].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return s.length ? s.join('\n') + '\n' : '';
}

/**
 * The logging wrapper written as ./ipvsadm: argv and stdin appended to LOG (each record in one write, so
 * that run.sh's step markers never land inside one), then REAL exec'd with the same args and stdin
 * (stdout, stderr and exit status are REAL's own).
 */
export function wrapperScript(real: string, log: string): string {
  return `#!/bin/sh
t=/tmp/ldts-ipvsadm-in.$$
cat >"$t"
{ printf '@@CALL %s\\n' "$*"; cat "$t"; printf '@@ENDCALL\\n'; } >"$t.rec"
cat "$t.rec" >>${shq(log)}
exec 3<"$t"
rm -f "$t" "$t.rec"
exec ${shq(real)} "$@" <&3 3<&-
`;
}

/**
 * The files of one scenario on one side: run.sh, the configs (*.in, placeholders of the directory
 * replaced at run time) and exp-<k>.txt. run.sh reads IPVSADM (the ipvsadm it lists with and the
 * wrapper runs; default /usr/sbin/ipvsadm) and LDTS_WAIT (seconds per wait, default 60).
 */
export function scenarioFiles(
  s: Scenario,
  i: number,
  base: number,
  side: 'real' | 'fake',
  node: string,
  daemon: string,
  /** netlink: the daemon forced onto the netlink driver, ./ipvsadm always the logging wrapper (to count calls). */
  opts: { netlink?: boolean } = {},
): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [name, text] of Object.entries(s.files)) files[`${name}.in`] = withPorts(text, base, i);
  s.steps.forEach((st, k) => (files[`exp-${k}.txt`] = sortedTable(expectedTable(st, side).map((l) => withPorts(l, base, i)))));
  const steps = s.steps.map((st, k) => {
    const lines = [
      `if [ -z "$ABORT" ]; then`,
      `  echo "@@STEP ${k}" >>ipvsadm.log`,
      st.action ? `  ${withPorts(st.action, base, i)}` : '  :',
      `  echo "@@@CP ${k}"; echo "@@@AT $(( $(date +%s) - T0 ))"`,
      `  if waitfor exp-${k}.txt; then echo "@@@WAIT ok $WAITED"; else echo "@@@WAIT timeout $WAITED"; ABORT=1; fi`,
      `  echo "@@@SAVE"; "$IPVSADM" -S -n 2>&1; echo "@@@END"`,
    ];
    if (st.thresholds) lines.push(`  echo "@@@THRESHOLDS"; "$IPVSADM" -L -n --thresholds 2>&1; echo "@@@END"`);
    if (st.probe) lines.push(`  echo "@@@PROBE"; ( ${withPorts(st.probe, base, i)} ) 2>&1; echo "@@@END"`);
    lines.push(`  echo "@@@CPEND ${k}"`, 'fi');
    return lines.join('\n');
  });
  const wrapper = wrapperScript('@REAL@', '@LOG@');
  files['run.sh'] = `#!/bin/sh
# ${s.name} (${side} side${opts.netlink ? ', netlink driver' : ''})
cd "$(dirname "$0")"
D="$(pwd)"
export LC_ALL=C
IPVSADM=\${IPVSADM:-/usr/sbin/ipvsadm}
LIMIT=\${LDTS_WAIT:-60}
ABORT=
DP=
T0=$(date +%s)
for f in *.in; do sed "s|@DIR@|$D|g" "$f" >"\${f%.in}"; done
: >ipvsadm.log
: >daemon.out
${opts.netlink ? 'export LDIRECTORD_IPVS_DRIVER=netlink\n' : ''}if [ ${s.wrap || opts.netlink ? 1 : 0} = 1 ]; then
  cat >ipvsadm.tmpl <<'WRAPPER_END'
${wrapper}WRAPPER_END
  sed -e "s|@REAL@|$IPVSADM|" -e "s|@LOG@|$D/ipvsadm.log|" ipvsadm.tmpl >ipvsadm
  chmod 755 ipvsadm
elif [ "$IPVSADM" != /usr/sbin/ipvsadm ]; then
  ln -sf "$IPVSADM" ipvsadm
fi
listen() {
  case "$2" in *:*) a="TCP6-LISTEN:$3,bind=[$2]" ;; *) a="TCP-LISTEN:$3,bind=$2" ;; esac
  socat "$a,fork,reuseaddr" OPEN:/dev/null & echo $! >"l-$1.pid"
  # until it listens (at most ~10 s)
  n=0; while [ $n -lt 50 ] && ! grep -qi ":$(printf '%04X' "$3") 00000000:0000 0A\\|:$(printf '%04X' "$3") 00000000000000000000000000000000:0000 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null; do sleep 0.2; n=$((n+1)); done
}
unlisten() { kill "$(cat "l-$1.pid")" 2>/dev/null; wait "$(cat "l-$1.pid")" 2>/dev/null; rm -f "l-$1.pid"; }
start_d() { ${shq(node)} ${shq(daemon)} -d ldts.cf start >>daemon.out 2>&1 & DP=$!; }
stop_d() { kill "$DP"; wait "$DP"; echo "daemon exit status $?" >>daemon.out; DP=; }
hup() { kill -HUP "$DP"; }
cli() { LDIRECTORD_RUNDIR="$D" LDIRECTORD_IPVSADM="$D/ipvsadm" ${shq(node)} ${shq(daemon)} "$D/ldts.cf" "$@" >>cli.out 2>&1; echo "ldirectord $*: exit status $?" >>cli.out; }
WAITED=0
waitfor() {
  WAITED=0
  while :; do
    "$IPVSADM" -S -n 2>&1 | sort >cur.txt
    cmp -s cur.txt "$1" && return 0
    [ "$WAITED" -ge "$LIMIT" ] && return 1
    sleep 1
    WAITED=$((WAITED + 1))
  done
}
${withPorts(s.setup ?? ':', base, i)}
${steps.join('\n')}
[ -n "$DP" ] && { kill "$DP"; wait "$DP"; }
[ -s ldirectord.ldts.cf.pid ] && cli stop
for f in l-*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
echo "@@@DONE $(( $(date +%s) - T0 ))"
echo "@@@LOG"; cat daemon.out; [ -f cli.out ] && cat cli.out; echo "@@@END"
echo "@@@IPVSLOG"; cat ipvsadm.log; echo "@@@END"
`;
  return files;
}
