/**
 * Fidelity of the fake ipvsadm, judged by the real one: the corpus (corpus.ts) runs once in the VM on
 * Debian's kernel with the real ipvsadm, and on the host with the fake; stdout, stderr and exit status of
 * every command must be equal byte for byte. Without the VM (packages missing) the fake is compared with
 * the real answers recorded in golden/ipvsadm-real.txt (refreshed by a VM run with
 * LDIRECTORD_KERNEL_UPDATE_GOLDEN=1).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installFakeIpvsadm } from '../fake-ipvsadm/install.js';
import { CORPUS, corpusCommandCount } from './corpus.js';
import { formatGolden, parseGolden, parseRecords, runCorpusOnHost, writeCorpusPayload, type CmdResult } from './corpus-run.js';
import { kernelHarnessMissing, runVm, VM_SCHEDULERS, type VmResult } from './vm.js';
import { recordSummary } from './summary.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const GOLDEN = join(HERE, 'golden/ipvsadm-real.txt');
const missing = kernelHarnessMissing();
const haveGolden = existsSync(GOLDEN);

if (missing) console.warn(`kernel suite: the VM cannot run here: ${missing}; ${haveGolden ? 'comparing the fake with the recorded real answers (golden/ipvsadm-real.txt)' : 'no golden file either: skipping'}`);

describe.skipIf(missing !== undefined && !haveGolden)('the fake ipvsadm against the real one on a real kernel', () => {
  let real: Map<string, CmdResult> = new Map();
  let fake: Map<string, CmdResult> = new Map();
  let vm: VmResult | undefined;
  const diffs: string[] = [];
  let compared = 0;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ldts-kernel-corpus-'));
    writeCorpusPayload(dir, CORPUS);
    installFakeIpvsadm(join(dir, 'fakebin'), { state: join(dir, 'state-unused.json') });
    // The wrapper bakes in one state file; sequences run in parallel, so let the environment choose.
    writeFileSync(join(dir, 'fakebin/ipvsadm'), readFileSync(join(dir, 'fakebin/ipvsadm'), 'utf8').replace(/^FAKE_IPVSADM_STATE=.*$/m, ''));
    // The fake's tables live outside the payload: the VM copies the payload directory over 9p while the
    // host side runs, and files created and renamed in it meanwhile once left the copy without run.sh.
    const states = mkdtempSync(join(tmpdir(), 'ldts-kernel-corpus-states-'));
    const fakeRun = runCorpusOnHost(dir, CORPUS, join(dir, 'fakebin'), (i) => ({ FAKE_IPVSADM_STATE: join(states, `state-${i}.json`), FAKE_IPVSADM_SCHEDULERS: VM_SCHEDULERS.join(',') }), 4);
    if (!missing) {
      vm = await runVm(dir, { timeoutMs: 290_000 });
      real = parseRecords(vm.stdoutBytes);
      if (process.env.LDIRECTORD_KERNEL_UPDATE_GOLDEN === '1' && vm.exitCode === 0 && real.size === corpusCommandCount()) {
        const version = /ipvsadm v[^\n]*/.exec(real.get('0/1')?.stdout ?? '')?.[0] ?? '';
        writeFileSync(GOLDEN, formatGolden(CORPUS, real, `# The real ipvsadm's answers to test/kernel/corpus.ts, recorded in the VM (test/kernel/vm.ts)\n# kernel ${vm.kernelVersion}; ${version}; schedulers loaded: ${VM_SCHEDULERS.join(' ')}\n# regenerate: LDIRECTORD_KERNEL_UPDATE_GOLDEN=1 npx vitest run --config vitest.kernel.config.ts test/kernel/fidelity.test.ts`));
      }
    } else {
      for (const [k, v] of parseGolden(readFileSync(GOLDEN, 'utf8'))) real.set(k, { stdout: v.stdout, stderr: v.stderr, rc: v.rc });
    }
    fake = await fakeRun;
    rmSync(states, { recursive: true, force: true });
  });

  afterAll(() => {
    const commands = corpusCommandCount();
    recordSummary({
      bootSeconds: vm?.bootSeconds,
      vmSeconds: vm?.totalSeconds,
      sequences: CORPUS.length,
      commands,
      commandsEqual: compared - diffs.length,
      source: vm ? 'VM' : 'golden file',
    });
    if (diffs.length) {
      const file = join(tmpdir(), 'ldts-kernel-fidelity-diffs.txt');
      writeFileSync(file, diffs.join('\n'));
      console.warn(`kernel suite: ${diffs.length} command(s) differ between the fake and the real ipvsadm; all listed in ${file}`);
    }
  });

  it.skipIf(missing !== undefined)('the VM boots, loads every module and runs the whole corpus', () => {
    expect(vm, 'vm result').toBeDefined();
    expect(vm!.timedOut, vm!.console.slice(-3000)).toBe(false);
    expect(vm!.insmodFailed).toEqual([]);
    expect(vm!.exitCode, vm!.console.slice(-3000)).toBe(0);
    
    expect(real.size).toBe(corpusCommandCount());
  });

  it.skipIf(!haveGolden || missing !== undefined)('the golden file still holds what the real ipvsadm answers', () => {
    const golden = parseGolden(readFileSync(GOLDEN, 'utf8'));
    const stale: string[] = [];
    CORPUS.forEach((s, i) =>
      s.cmds.forEach((cmd, j) => {
        const g = golden.get(`${i}/${j}`);
        const r = real.get(`${i}/${j}`);
        if (!g || g.args !== cmd.args || JSON.stringify([g.stdout, g.stderr, g.rc]) !== JSON.stringify([r?.stdout, r?.stderr, r?.rc])) stale.push(`${i}/${j} ipvsadm ${cmd.args}`);
      }),
    );
    expect(stale, 'refresh with LDIRECTORD_KERNEL_UPDATE_GOLDEN=1').toEqual([]);
  });

  CORPUS.forEach((s, i) => {
    it(`sequence ${i}: ${s.name}`, () => {
      const mine: string[] = [];
      s.cmds.forEach((cmd, j) => {
        const r = real.get(`${i}/${j}`);
        const f = fake.get(`${i}/${j}`);
        expect(r, `real result of ${i}/${j}`).toBeDefined();
        expect(f, `fake result of ${i}/${j}`).toBeDefined();
        if (r!.stdout !== f!.stdout || r!.stderr !== f!.stderr || r!.rc !== f!.rc) {
          const stdin = cmd.stdin !== undefined ? `\n  stdin:\n${cmd.stdin.replace(/^/gm, '    | ')}` : '';
          const show = (x: CmdResult) => `rc=${x.rc}\n    stdout:\n${x.stdout.replace(/^/gm, '    | ')}\n    stderr:\n${x.stderr.replace(/^/gm, '    | ')}`;
          mine.push(`[${i}/${j}] (${s.name}) ipvsadm ${cmd.args}${stdin}\n  REAL ${show(r!)}\n  FAKE ${show(f!)}\n`);
        }
      });
      compared += s.cmds.length;
      diffs.push(...mine);
      expect(mine.join('\n')).toBe('');
    });
  });
});
