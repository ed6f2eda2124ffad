/**
 * The host's file system and name service as the director's maintenance lookup sees them
 * (src/engine/maintenance.ts): the daemon wires this in, tests give their own.
 */
import { existsSync } from 'node:fs';
import { promises as dnsp } from 'node:dns';
import type { MaintenanceHost } from '../engine/maintenance.js';

const NAME_TTL_MS = 60_000;
const NAME_TIMEOUT_MS = 2000;
const names = new Map<string, { name: string; at: number }>();

/** The address's name as gethostbyaddr gives it (getnameinfo: /etc/hosts, then DNS), cached a minute; '' if none. */
async function reverseName(ip: string): Promise<string> {
  const hit = names.get(ip);
  if (hit && Date.now() - hit.at < NAME_TTL_MS) return hit.name;
  let name = '';
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([
      dnsp.lookupService(ip, 1),
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), NAME_TIMEOUT_MS).unref())),
    ]);
    if (r && r.hostname !== ip) name = r.hostname;
  } catch {
    /* no name */
  } finally {
    clearTimeout(timer);
  }
  names.set(ip, { name, at: Date.now() });
  return name;
}

/** systemHost: existsSync and the system's reverse lookups. */
export const systemHost: MaintenanceHost = {
  fileExists: (path) => existsSync(path),
  reverseName,
};
