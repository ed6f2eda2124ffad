/**
 * Where ipvsadm is: LDIRECTORD_IPVSADM wins; with -d (debug) a file `./ipvsadm` in the working directory
 * is used, as the original does; else the first executable of /sbin/ipvsadm and /usr/sbin/ipvsadm.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { LdirError } from '../util/errors.js';

export const IPVSADM_CANDIDATES: readonly string[] = ['/sbin/ipvsadm', '/usr/sbin/ipvsadm'];

function isRegularFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return isRegularFile(p);
  } catch {
    return false;
  }
}

/** locateIpvsadm returns the ipvsadm path to run, or throws LdirError LDIR_ERR_IPVSADM_NOT_FOUND. */
export function locateIpvsadm(opts: {
  debug: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** For tests: the system paths to try (default /sbin/ipvsadm, /usr/sbin/ipvsadm). */
  candidates?: readonly string[];
}): string {
  const env = opts.env ?? process.env;
  const override = env.LDIRECTORD_IPVSADM;
  if (override !== undefined && override !== '') return override;
  if (opts.debug) {
    const local = resolve(opts.cwd ?? process.cwd(), 'ipvsadm');
    if (isRegularFile(local)) return local;
  }
  for (const p of opts.candidates ?? IPVSADM_CANDIDATES) if (isExecutable(p)) return p;
  throw new LdirError('LDIR_ERR_IPVSADM_NOT_FOUND', 'Can not find ipvsadm');
}
