/**
 * The parts the command line, the daemon and the demo are built from (parser, director, IPVS drivers),
 * wired with static imports. Tests pass their own (a scripted director, a scripted parser) as an
 * argument: nothing here is chosen by the environment.
 */
import type { Config, ConfigWarning } from '../model/config.js';
import type { Director } from '../engine/types.js';
import type { IpvsDriver } from '../ipvs/types.js';
import { parseConfigFile } from '../config/parse.js';
import { dumpConfig, formatWarning } from '../config/dump.js';
import { locateIpvsadm } from '../ipvs/locate.js';
import { createDirector, type DirectorOptions } from '../engine/director.js';
import { selectIpvsDriver } from '../ipvs/select.js';
import { SimDriver } from '../ipvs-sim/sim-driver.js';
import { processRunner } from '../util/process.js';

/** The simulated kernel table, printable as `ipvsadm -L -n`. */
export interface SimDriverLike extends IpvsDriver {
  render(): string;
}

export interface Wiring {
  /** Parses a config file (throws ConfigError with FILE:LINE). */
  parseConfig(path: string, opts?: { hostname?: string; debug?: boolean }): Promise<Config>;
  /** The resolved model as JSON-able data (`dump`), secrets masked. */
  dumpConfig(config: Config): unknown;
  /** A parser warning as `FILE:LINE: warning: message`. */
  formatWarning(w: ConfigWarning): string;
  /** Finds ipvsadm as the original does (LDIRECTORD_IPVSADM overrides); throws when there is none. */
  locateIpvsadm(opts: { debug: boolean; cwd: string; env: NodeJS.ProcessEnv }): string;
  /** Creates the director over the given driver. */
  createDirector(opts: DirectorOptions): Director;
  /** The kernel driver: netlink or ipvsadm (LDIRECTORD_IPVS_DRIVER), and why. */
  selectIpvsDriver: typeof selectIpvsDriver;
  /** The simulated kernel table. */
  createSimDriver(): SimDriverLike;
}

/** The real parts. The director runs fallbackcommand through the one process runner. */
export const defaultWiring: Wiring = {
  parseConfig: (path, opts = {}) => parseConfigFile(path, opts),
  dumpConfig,
  formatWarning,
  locateIpvsadm: (opts) => locateIpvsadm(opts),
  createDirector: (opts) => createDirector({ runner: processRunner, ...opts }),
  selectIpvsDriver,
  createSimDriver: () => new SimDriver(),
};

/** The real parts with the given ones in their place. */
export function wire(parts: Partial<Wiring> = {}): Wiring {
  return { ...defaultWiring, ...parts };
}
