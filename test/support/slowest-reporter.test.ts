import { describe, expect, it } from 'vitest';
import { slowestLines } from './slowest-reporter.js';

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
});
