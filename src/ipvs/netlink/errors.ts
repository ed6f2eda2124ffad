/**
 * Kernel refusals as ipvsadm reports them. ipvsadm's message depends on the operation and the errno
 * (reference/ipvsadm-real.md; ESRCH means a missing service, ENOENT a missing destination or an unknown
 * scheduler, by operation); errnos it has no message for print as the C library's strerror. Mapping
 * the same way keeps the daemon's logs the original's whichever driver runs.
 */
import { constants } from 'node:os';
import type { IpvsCommand } from '../types.js';

const E = constants.errno;

/** The operations ipvsadm names its messages by: the table's changes and the sync daemon's. */
export type IpvsadmOp = IpvsCommand['op'] | 'start-daemon' | 'stop-daemon' | 'read-daemons';

const BY_OP: Record<IpvsadmOp, Partial<Record<number, string>>> = {
  'add-service': { [E.EEXIST]: 'Service already exists', [E.ENOENT]: 'Scheduler or persistence engine not found' },
  'edit-service': { [E.ESRCH]: 'No such service', [E.ENOENT]: 'Scheduler or persistence engine not found' },
  'delete-service': { [E.ESRCH]: 'No such service' },
  'add-dest': { [E.ESRCH]: 'Service not defined', [E.EEXIST]: 'Destination already exists' },
  'edit-dest': { [E.ESRCH]: 'Service not defined', [E.ENOENT]: 'No such destination' },
  'delete-dest': { [E.ESRCH]: 'Service not defined', [E.ENOENT]: 'No such destination' },
  'start-daemon': { [E.EEXIST]: 'Daemon has already run' },
  'stop-daemon': { [E.ESRCH]: 'No daemon is running' },
  'read-daemons': {},
};

const ANY_OP: Partial<Record<number, string>> = {
  [E.EPERM]: 'Permission denied (you must be root)',
  [E.EINVAL]: 'Invalid operation.  Possibly wrong module version, address not unicast, ...',
  [E.ENOPROTOOPT]: 'Protocol not available',
  [E.ENOMEM]: 'Memory allocation problem',
  [E.EOPNOTSUPP]: 'Operation not supported with IPv6',
  [E.EAFNOSUPPORT]: 'Operation not supported with specified address family',
  [E.EMSGSIZE]: 'Module is wrong version',
};

/** The C library's strerror for the errnos the kernel's IPVS code returns besides those above. */
const STRERROR: Partial<Record<number, string>> = {
  [E.ERANGE]: 'Numerical result out of range',
  [E.EEXIST]: 'File exists',
  [E.ENOENT]: 'No such file or directory',
  [E.ESRCH]: 'No such process',
  [E.EBUSY]: 'Device or resource busy',
  [E.EAGAIN]: 'Resource temporarily unavailable',
  [E.ENOBUFS]: 'No buffer space available',
  [E.EFAULT]: 'Bad address',
  [E.ENODEV]: 'No such device',
  [E.EACCES]: 'Permission denied',
  [E.ETIMEDOUT]: 'Connection timed out',
};

/** ipvsadm's message for a kernel refusal of `op` with `errno` (positive). */
export function ipvsadmMessage(op: IpvsadmOp, errno: number): string {
  return BY_OP[op][errno] ?? ANY_OP[errno] ?? STRERROR[errno] ?? `Unknown error ${errno}`;
}

/** The errno's symbolic name (for debug logs), e.g. `EEXIST`. */
export function errnoName(errno: number): string {
  for (const [name, n] of Object.entries(E)) if (n === errno) return name;
  return `errno ${errno}`;
}
