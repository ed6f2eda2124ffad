/**
 * The daemon's view of the other parts (parser, director, IPVS drivers), in one place so the CLI and
 * daemon code do not depend on their module layout.
 */
import { accessSync, statSync, constants as fsc } from 'node:fs';
import type { Config, ConfigWarning } from '../model/config.js';
import type { Director } from '../engine/types.js';
import type { IpvsDriver } from '../ipvs/types.js';

// Loaded lazily: `--version` and usage need none of them. For the daemon's own tests only,
// LDIRECTORD_TEST_DEPS may name a module whose exports replace those of the same name.
async function load<T>(spec: string, name: string): Promise<T> {
  const override = process.env.LDIRECTORD_TEST_DEPS;
  if (override) {
    const o = (await import(override)) as Record<string, unknown>;
    if (name in o) return o as T;
  }
  return (await import(spec)) as T;
}

/** Parses a config file (throws ConfigError with FILE:LINE). */
export async function parseConfig(path: string, opts: { hostname?: string; debug?: boolean } = {}): Promise<Config> {
  const m = await load<{ parseConfigFile: (p: string, o?: unknown) => Config | Promise<Config> }>('../config/parse.js', 'parseConfigFile');
  return await m.parseConfigFile(path, opts);
}

/** The resolved model as JSON-able data (`dump`). */
export async function dumpConfig(config: Config): Promise<unknown> {
  const m = await load<{ dumpConfig: (c: Config) => unknown }>('../config/dump.js', 'dumpConfig');
  return m.dumpConfig(config);
}

/** A parser warning as `FILE:LINE: warning: message`. */
export async function formatWarning(w: ConfigWarning): Promise<string> {
  const m = await load<{ formatWarning: (w: ConfigWarning) => string }>('../config/dump.js', 'formatWarning');
  return m.formatWarning(w);
}

/** Finds ipvsadm as the original does; throws when there is none. */
export async function locateIpvsadm(opts: { debug: boolean; cwd: string; env: NodeJS.ProcessEnv }): Promise<string> {
  let m: { locateIpvsadm: (o: unknown) => string | Promise<string> } | undefined;
  try {
    m = await load<{ locateIpvsadm: (o: unknown) => string | Promise<string> }>('../ipvs/locate.js', 'locateIpvsadm');
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw e;
  }
  if (m) return await m.locateIpvsadm(opts);
  // The original's rule: with -d a regular file ./ipvsadm; else /sbin/ipvsadm, /usr/sbin/ipvsadm.
  if (opts.debug && isFile(`${opts.cwd}/ipvsadm`)) return './ipvsadm';
  for (const p of ['/sbin/ipvsadm', '/usr/sbin/ipvsadm']) {
    try {
      accessSync(p, fsc.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  throw new Error('Can not find ipvsadm');
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export interface DirectorParts {
  director: Director;
  driver: IpvsDriver;
}

/** Creates the director over the given driver. */
export async function makeDirector(opts: Record<string, unknown>): Promise<Director> {
  const m = await load<{ createDirector: (o: unknown) => Director }>('../engine/director.js', 'createDirector');
  return m.createDirector(opts);
}

/** The real driver running ipvsadm at `path`. */
export async function makeIpvsadmDriver(
  path: string,
  onLog?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void,
): Promise<IpvsDriver> {
  const m = await load<{ IpvsadmDriver: new (o: unknown) => IpvsDriver }>('../ipvs/ipvsadm-driver.js', 'IpvsadmDriver');
  return new m.IpvsadmDriver({ path, onLog });
}

/** The simulated kernel table. */
export interface SimDriverLike extends IpvsDriver {
  render(): string;
}

export async function makeSimDriver(): Promise<SimDriverLike> {
  const m = await load<{ SimDriver: new (o?: unknown) => SimDriverLike }>('../ipvs/sim-driver.js', 'SimDriver');
  return new m.SimDriver();
}
