import { defineConfig } from 'vitest/config';

// The main suites: unit, scenario, real-server and differential tests. The reliability and kernel
// suites have configs of their own (vitest.reliability.config.ts, vitest.kernel.config.ts).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/reliability/**', 'test/kernel/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
