/** Shared test helpers for the host: temporary folders, programs on PATH, polling. */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** tmp makes a new folder under the system's temporary directory. */
export function tmp(prefix = 'ldts-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** which returns the path of an executable on PATH (or in the sbin folders), or undefined. */
export function which(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    if (d === '') continue;
    const p = join(d, cmd);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** have tells whether a program is installed. */
export function have(cmd: string): boolean {
  return which(cmd) !== undefined;
}

/** until polls f() every 50 ms until it holds; throws naming `what` after `ms`. */
export async function until(f: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
