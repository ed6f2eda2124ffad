/**
 * Our daemon on the real kernel: the same scenario (config + local real servers) runs in the VM with the
 * real ipvsadm and on the host with the fake; the table read back with `ipvsadm -S -n` while running and
 * after stop must be equal. One VM boot for all scenarios here.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installFakeIpvsadm } from '../fake-ipvsadm/install.js';
import { recordSummary } from './summary.js';
import { kernelHarnessMissing, runVm, VM_SCHEDULERS, type VmResult } from './vm.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DAEMON = join(ROOT, 'bin/ldirectord.js');
const missing =
  kernelHarnessMissing() ??
  (!existsSync(join(ROOT, 'dist/cli/main.js')) ? 'dist/cli/main.js not built (npx tsc -p tsconfig.json)' : undefined) ??
  (!existsSync('/usr/bin/socat') ? 'socat missing (real servers in the VM)' : undefined);
if (missing) console.warn(`kernel daemon scenarios skipped: ${missing}`);

interface Scenario {
  name: string;
  /** ldirectord.cf; @P@ = the real servers' port. */
  cf: string;
  /** Addresses (on 127.0.0.0/8) where a real server listens on @P@. */
  up: string[];
  /** Number of `-a` lines to wait for. */
  dests: number;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'quiescent, persistence, one real down, then stop',
    cf: `checktimeout=2
checkinterval=1
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
`,
    up: ['127.0.0.1'],
    dests: 3,
  },
  {
    name: 'IPv6, UDP, fwmark with persistence and netmask, PCC port 0',
    cf: `checktimeout=2
checkinterval=1
virtual6=[::1]:@P@
\treal6=[::1]:@P@ masq 3
\tscheduler=rr
\tpersistent=120
\tnetmask=64
\tchecktype=on
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
`,
    up: [],
    dests: 5,
  },
];

function script(s: Scenario, port: number): string {
  const listeners = s.up.map((a, k) => `socat ${a.includes(':') ? `TCP6-LISTEN:${port},bind=[${a}]` : `TCP-LISTEN:${port},bind=${a}`},fork,reuseaddr OPEN:/dev/null & L${k}=$!`).join('\n');
  return `#!/bin/sh
cd "$(dirname "$0")"
${listeners}
${process.execPath} ${DAEMON} -d ldts-kernel.cf start >daemon.out 2>&1 &
DP=$!
i=0
while [ $i -lt 90 ]; do
  n=$(ipvsadm -S -n 2>/dev/null | grep -c '^-a')
  [ "$n" -ge ${s.dests} ] && break
  kill -0 $DP 2>/dev/null || break
  sleep 1; i=$((i+1))
done
sleep 4
echo "@@@RUNNING"; ipvsadm -S -n; echo "@@@END"
kill $DP; wait $DP
echo "@@@STOPPED"; ipvsadm -S -n; echo "@@@END"
${s.up.map((_, k) => `kill $L${k}`).join('\n')}
echo "@@@LOG"; cat daemon.out; echo "@@@END"
`;
}

function section(out: string, name: string): string {
  const m = new RegExp(`@@@${name}\\n([\\s\\S]*?)@@@END`).exec(out);
  return m ? m[1] : `(no ${name} section)`;
}

describe.skipIf(missing !== undefined)('our daemon on the real kernel vs on the fake ipvsadm', () => {
  const port = 20000 + (process.pid % 10000);
  let vmDir = '';
  let vm: VmResult | undefined;
  const host = new Map<number, string>();
  let equal = 0;

  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'ldts-kernel-daemon-'));
    vmDir = join(root, 'vm');
    mkdirSync(vmDir);
    const all = ['#!/bin/sh', 'cd "$(dirname "$0")"'];
    SCENARIOS.forEach((s, i) => {
      for (const side of ['vm', `host-${i}`]) {
        const d = side === 'vm' ? join(vmDir, `s${i}`) : join(root, side);
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, 'ldts-kernel.cf'), s.cf.replaceAll('@P@', String(port)));
        writeFileSync(join(d, 'run.sh'), script(s, port));
        chmodSync(join(d, 'run.sh'), 0o755);
      }
      all.push(`echo "@@@SCENARIO ${i}"; sh ./s${i}/run.sh; echo "@@@SCENARIO_END ${i}"`);
    });
    writeFileSync(join(vmDir, 'run.sh'), all.join('\n') + '\n');
    const vmRun = runVm(vmDir, { timeoutMs: 200_000 });
    for (let i = 0; i < SCENARIOS.length; i++) {
      const d = join(root, `host-${i}`);
      // Under -d the daemon runs ./ipvsadm; the script's own listings find it first on PATH.
      installFakeIpvsadm(d, { state: join(d, 'state.json'), env: { FAKE_IPVSADM_SCHEDULERS: VM_SCHEDULERS.join(',') } });
      const out = await new Promise<string>((res) => {
        const c = spawn('sh', [join(d, 'run.sh')], { env: { ...process.env, PATH: `${d}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'] });
        let o = '';
        c.stdout.on('data', (b) => (o += b));
        c.stderr.on('data', (b) => (o += b));
        c.on('close', () => res(o));
      });
      host.set(i, out);
    }
    vm = await vmRun;
  });

  afterAll(() => {
    recordSummary({ bootSeconds: vm?.bootSeconds, vmSeconds: vm?.totalSeconds, scenarios: SCENARIOS.length, scenariosEqual: equal });
  });

  SCENARIOS.forEach((s, i) => {
    it(`scenario ${i}: ${s.name}`, () => {
      expect(vm?.timedOut, vm?.console.slice(-2000)).toBe(false);
      const real = /@@@SCENARIO \d+\n([\s\S]*?)@@@SCENARIO_END/.exec(vm!.stdout.split(`@@@SCENARIO ${i}\n`).length > 1 ? vm!.stdout.slice(vm!.stdout.indexOf(`@@@SCENARIO ${i}\n`)) : '')?.[1] ?? '';
      const fake = host.get(i) ?? '';
      const info = `real log:\n${section(real, 'LOG')}\nfake log:\n${section(fake, 'LOG')}`;
      expect(section(real, 'RUNNING').split('\n').filter((l) => l.startsWith('-a')).length, info).toBe(s.dests);
      expect(section(real, 'RUNNING'), info).toBe(section(fake, 'RUNNING'));
      expect(section(real, 'STOPPED'), info).toBe(section(fake, 'STOPPED'));
      equal++;
    });
  });
});
