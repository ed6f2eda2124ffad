import { describe, expect, it } from 'vitest';
import { hookTime, slowestLines } from './slowest-reporter.js';

describe('slowest-tests reporter', () => {
  it('lists the n longest tests, longest first, aligned', () => {
    const tests = Array.from({ length: 12 }, (_, i) => ({ file: `test/f${i}.test.ts`, name: `t${i}`, ms: i * 1000 + 60 }));
    const lines = slowestLines(tests, 10);
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe('Slowest 10 tests:');
    expect(lines[1]).toBe('  11.1 s  test/f11.test.ts > t11');
    expect(lines[10]).toBe('   2.1 s  test/f2.test.ts > t2');
    expect(slowestLines([], 10)).toEqual([]);
  });

  it("counts a file's time outside its tests (a VM booted in beforeAll) as one entry of that file", () => {
    const hooks = hookTime('test/kernel/daemon.test.ts', 95_400, [300, 100]);
    expect(hooks).toEqual({ file: 'test/kernel/daemon.test.ts', name: '(hooks outside the tests)', ms: 95_000 });
    expect(slowestLines([hooks!, { file: 'test/a.test.ts', name: 't', ms: 2000 }], 10)[1]).toBe('  95.0 s  test/kernel/daemon.test.ts > (hooks outside the tests)');
    expect(hookTime('test/a.test.ts', 1050, [1000])).toBeUndefined();
  });
});
