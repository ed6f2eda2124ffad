import { defineConfig } from 'vitest/config';

// One VM boot for the netlink golden bytes and benchmark (test/kernel/netlink-vm.record.ts); run by
// bench/netlink-vm.mjs, not by the test suites.
export default defineConfig({
  test: {
    include: ['test/kernel/netlink-vm.record.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
  },
});
