/**
 * A vitest reporter that prints the ten slowest tests of the run (LDIRECTORD_SLOWEST=N for another
 * count). Listed before 'default' in the configs, so its table comes just before the default summary
 * and the run still ends with vitest's own "Tests  N passed" lines. The time a file spends in hooks
 * outside its tests (the kernel and cluster suites boot their VM or cluster in beforeAll) is counted
 * as one more entry of that file, "(hooks outside the tests)", so those suites do not list 0.0 s.
 */
import { relative } from 'node:path';
import type { Reporter, TestModule, Vitest } from 'vitest/node';

export interface Timed {
  readonly file: string;
  readonly name: string;
  readonly ms: number;
}

/**
 * hookTime: the time of a file spent outside its tests (its module's duration covers tests and hooks),
 * as an entry when it is at least a tenth of a second; undefined otherwise.
 */
export function hookTime(file: string, moduleMs: number, testsMs: readonly number[]): Timed | undefined {
  const ms = moduleMs - testsMs.reduce((a, b) => a + b, 0);
  return ms >= 100 ? { file, name: '(hooks outside the tests)', ms } : undefined;
}

/** slowest: the n longest tests, longest first, as printable lines. */
export function slowestLines(tests: readonly Timed[], n: number): string[] {
  const top = [...tests].sort((a, b) => b.ms - a.ms).slice(0, n);
  if (top.length === 0) return [];
  const w = Math.max(...top.map((t) => (t.ms / 1000).toFixed(1).length));
  return [`Slowest ${top.length} tests:`, ...top.map((t) => `  ${(t.ms / 1000).toFixed(1).padStart(w)} s  ${t.file} > ${t.name}`)];
}

export default class SlowestReporter implements Reporter {
  private ctx?: Vitest;
  onInit(ctx: Vitest): void {
    this.ctx = ctx;
  }
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const root = this.ctx?.config.root ?? process.cwd();
    const tests: Timed[] = [];
    for (const m of modules) {
      const file = relative(root, m.moduleId);
      const own: number[] = [];
      for (const t of m.children.allTests()) {
        const d = t.diagnostic();
        if (d) {
          tests.push({ file, name: t.fullName, ms: d.duration });
          own.push(d.duration);
        }
      }
      const hooks = hookTime(file, m.diagnostic().duration, own);
      if (hooks) tests.push(hooks);
    }
    const n = Number(process.env.LDIRECTORD_SLOWEST ?? 10);
    const lines = slowestLines(tests, Number.isFinite(n) && n > 0 ? n : 10);
    if (lines.length === 0) return;
    const log = (s: string) => (this.ctx ? this.ctx.logger.log(s) : process.stdout.write(`${s}\n`));
    log('');
    for (const l of lines) log(l);
  }
}
