import { defineConfig } from 'vitest/config';

// The main suites: unit, scenario, real-server and differential tests. The reliability and kernel
// suites have configs of their own (vitest.reliability.config.ts, vitest.kernel.config.ts, vitest.ha.config.ts).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/reliability/**', 'test/kernel/**', 'test/ha/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // vitest's default is cpus - 1: one worker on these 2-core machines. The suites mostly wait on
    // sockets, child processes and check intervals, so three files at a time halve the wall time.
    maxWorkers: 3,
    // The ten slowest tests, printed just before the default summary (which stays the last lines).
    reporters: ['./test/support/slowest-reporter.ts', 'default'],
  },
});
