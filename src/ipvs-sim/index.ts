/**
 * The simulated kernel: an in-memory model of the kernel's IPVS table with ipvsadm 1.31's command line
 * on top, the test double of the kernel. It reproduces the behaviour captured from the real thing
 * (shared/reference/ipvsadm-real.md) and read from ipvsadm 1.31's logic: the option grammar, the
 * userspace checks and their messages (exit 2), the kernel refusals (exit 255), `-R` line by line, the
 * listing and save formats with their padding, and the listing order.
 *
 * Used by the fake ipvsadm executable (test/fake-ipvsadm, which runs dist/ipvs-sim/index.js), by
 * SimDriver (sim-driver.ts: no processes) and so by the demo and the tests. It imports from src/ipvs
 * (address forms, the contracts' types); nothing in src/ipvs imports it.
 *
 * - state.ts: the table, and what the kernel accepts or refuses for each command
 * - cmdline.ts: the command line (options, userspace checks, -R, one invocation)
 * - listing.ts: `-L` / `-S` output and the table as IpvsTable
 * - names.ts: /etc/services, /etc/hosts and the network interfaces, from loaders (no fs here)
 */
export { DEFAULT_PERSISTENT_TIMEOUT, IPVSADM_VERSION_LINE, restoreLines, runIpvsadm } from './cmdline.js';
export type { SimRunOptions, SimRunResult } from './cmdline.js';
export { formatDaemons, formatList, formatSave, toIpvsTable } from './listing.js';
export type { ListFormat } from './listing.js';
export { hostInterfaces, setEtcHostsLoader, setEtcServicesLoader, setInterfacesLoader } from './names.js';
export { destAddrAccepted, emptyState, KNOWN_SCHEDULERS } from './state.js';
export type { SimDest, SimService, SimState, SimSyncDaemon } from './state.js';
