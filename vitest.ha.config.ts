import { defineConfig } from 'vitest/config';

// The cluster tier (test/ha): two pacemaker + corosync nodes in namespaces of this host. One file, run alone.
export default defineConfig({
  test: {
    include: ['test/ha/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 400_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['./test/support/slowest-reporter.ts', 'default'],
  },
});
