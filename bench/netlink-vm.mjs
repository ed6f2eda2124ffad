#!/usr/bin/env node
// The IPVS drivers side by side on the real kernel (one qemu boot, ~2-4 min of CPU): a change of 1000
// reals applied and read back over netlink and with `ipvsadm -R`. Also captures the bytes the real
// ipvsadm sends for each kind of op (LDIRECTORD_KERNEL_UPDATE_GOLDEN=1 rewrites
// test/kernel/golden/netlink-ops.txt). Skips with a reason where the VM cannot run.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const r = spawnSync('npx', ['vitest', 'run', '--config', 'vitest.netlink-vm.config.ts'], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
