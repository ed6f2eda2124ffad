/**
 * The daemon's view of the other parts (parser, director, IPVS drivers), in one place so the CLI and
 * daemon code do not depend on their module layout. Each is imported lazily: `--version`, usage and the
 * pid-file answers of a stopped daemon load none of the engine, checks or drivers.
 */
import type { Config, ConfigWarning } from '../model/config.js';
import type { Director } from '../engine/types.js';
import type { IpvsDriver } from '../ipvs/types.js';
import type { DirectorOptions } from '../engine/director.js';

/**
 * Loads a module. For the daemon's own tests only, LDIRECTORD_TEST_DEPS may name a module whose export
 * `name` replaces the real one (a scripted director, so lifecycle tests do not depend on check timing).
 */
async function load<T>(name: string, real: () => Promise<T>): Promise<T> {
  const override = process.env.LDIRECTORD_TEST_DEPS;
  if (override) {
    const o = (await import(override)) as Record<string, unknown>;
    if (name in o) return o as T;
  }
  return await real();
}

/** Parses a config file (throws ConfigError with FILE:LINE). */
export async function parseConfig(path: string, opts: { hostname?: string; debug?: boolean } = {}): Promise<Config> {
  const m = await load('parseConfigFile', () => import('../config/parse.js'));
  return await m.parseConfigFile(path, opts);
}

/** The resolved model as JSON-able data (`dump`), secrets masked. */
export async function dumpConfig(config: Config): Promise<unknown> {
  const m = await load('dumpConfig', () => import('../config/dump.js'));
  return m.dumpConfig(config);
}

/** A parser warning as `FILE:LINE: warning: message`. */
export async function formatWarning(w: ConfigWarning): Promise<string> {
  const m = await load('formatWarning', () => import('../config/dump.js'));
  return m.formatWarning(w);
}

/** Finds ipvsadm as the original does (LDIRECTORD_IPVSADM overrides); throws when there is none. */
export async function locateIpvsadm(opts: { debug: boolean; cwd: string; env: NodeJS.ProcessEnv }): Promise<string> {
  const m = await load('locateIpvsadm', () => import('../ipvs/locate.js'));
  return m.locateIpvsadm(opts);
}

/** Creates the director over the given driver. */
export async function makeDirector(opts: DirectorOptions): Promise<Director> {
  const m = await load('createDirector', () => import('../engine/director.js'));
  return m.createDirector(opts);
}

/** The real driver running ipvsadm at `path`. */
export async function makeIpvsadmDriver(
  path: string,
  onLog?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void,
): Promise<IpvsDriver> {
  const m = await load('IpvsadmDriver', () => import('../ipvs/ipvsadm-driver.js'));
  return new m.IpvsadmDriver({ path, onLog });
}

/** The simulated kernel table, printable as `ipvsadm -L -n`. */
export interface SimDriverLike extends IpvsDriver {
  render(): string;
}

export async function makeSimDriver(): Promise<SimDriverLike> {
  const m = await load('SimDriver', () => import('../ipvs-sim/sim-driver.js'));
  return new m.SimDriver();
}
