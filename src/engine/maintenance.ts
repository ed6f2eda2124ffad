/**
 * Maintenance files (the original's _check_real_for_maintenance): a real is in maintenance while
 * `maintenancedir` holds a file named `<ip>:<port>`, `<ip>`, `<name>:<port>`, `<name>`,
 * `<short>:<port>` or `<short>` (name = the real's reverse name, short = its first label). The lookup
 * decides which names to try; the file system and the name service are behind `MaintenanceHost`, which
 * the daemon gives (src/daemon/host.ts), so the director does no I/O of its own.
 */
import type { RealServer } from '../model/config.js';

/** What the maintenance lookup needs of the host: file existence and reverse name lookups. */
export interface MaintenanceHost {
  /** Whether the file exists. */
  fileExists(path: string): boolean | Promise<boolean>;
  /** The address's name as gethostbyaddr gives it, or '' when it has none (never rejects). */
  reverseName(ip: string): Promise<string>;
}

/** Tells whether a real is in maintenance. */
export type MaintenanceLookup = (dir: string, real: RealServer) => Promise<boolean>;

/** maintenanceLookup: the original's file names, tried in its order, through `host`. */
export function maintenanceLookup(host: MaintenanceHost): MaintenanceLookup {
  const anyExists = async (dir: string, names: readonly string[]): Promise<boolean> => {
    for (const n of names) if (await host.fileExists(`${dir}/${n}`)) return true;
    return false;
  };
  return async (dir, real) => {
    const ip = real.family === 6 ? `[${real.ip}]` : real.ip;
    if (await anyExists(dir, [`${ip}:${real.port}`, ip])) return true;
    const name = await host.reverseName(real.ip);
    if (!name) return false;
    const short = /^([a-z][a-z0-9-]+)\./.exec(name)?.[1];
    return anyExists(dir, [`${name}:${real.port}`, name, ...(short ? [`${short}:${real.port}`, short] : [])]);
  };
}
