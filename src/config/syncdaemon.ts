/**
 * `syncdaemon = master|backup INTERFACE syncid=N [maxlen=N] [group=ADDR] [port=N] [ttl=N] [cleanstop=yes|no]`
 * (ours, not the original's): one IPVS connection-sync daemon the daemon keeps running. The value
 * grammar and its checks; the registry entry is in directives.ts. Every check is the kernel's or
 * ipvsadm's own, made at parse time so that a bad line is a FILE:LINE error and not a retry loop:
 * - INTERFACE: a Linux device name (dev_valid_name: 1 to 15 bytes, not `.` or `..`, no `/`, `:` or blank);
 * - syncid 0..255; port 1..65535; ttl 1..255 (ipvsadm's ranges);
 * - maxlen up to 65535 minus the IP and UDP headers (65507 for an IPv4 group, 65487 for IPv6), and for a
 *   backup at least 1024 (the kernel raises a smaller one, which would never read back as configured);
 * - group: an IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) multicast address.
 */
import { isIPv4, isIPv6 } from 'node:net';

import type { SyncDaemonConfig } from '../model/config.js';

/** What the grammar reports: the daemon, or the message of the line's error. */
export type SyncDaemonParse = { readonly daemon: Omit<SyncDaemonConfig, 'pos'> } | { readonly error: string };

export const SYNCDAEMON_SYNTAX =
  'syncdaemon = master|backup INTERFACE syncid=N [maxlen=N] [group=ADDR] [port=N] [ttl=N] [cleanstop=yes|no]';

const OPTIONS = ['syncid', 'maxlen', 'group', 'port', 'ttl', 'cleanstop'] as const;
type Option = (typeof OPTIONS)[number];

/** dev_valid_name of the Linux kernel (IFNAMSIZ 16 with the terminating NUL). */
export function validInterfaceName(name: string): boolean {
  if (name === '' || name === '.' || name === '..') return false;
  if (Buffer.byteLength(name) > 15) return false;
  return !/[/:\s]/.test(name);
}

/** An IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) multicast address as inet_pton reads it; null otherwise. */
export function multicastFamily(addr: string): 4 | 6 | null {
  if (isIPv4(addr)) {
    const first = Number(addr.split('.')[0]);
    return first >= 224 && first <= 239 ? 4 : null;
  }
  // The first group is written with its leading digits: ff00::/8 is a first group of four digits "ffXX".
  if (isIPv6(addr) && !addr.includes('%')) return /^ff[0-9a-f]{2}:/i.test(addr) ? 6 : null;
  return null;
}

function number(text: string, min: number, max: number): number | null {
  if (!/^\d{1,6}$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

/** Reads the value of a `syncdaemon =` line. */
export function parseSyncDaemon(value: string): SyncDaemonParse {
  const words = value.trim().split(/\s+/).filter((w) => w !== '');
  const [role, ifname, ...rest] = words;
  if (role !== 'master' && role !== 'backup') return { error: `syncdaemon: the role must be master or backup (${SYNCDAEMON_SYNTAX})` };
  if (ifname === undefined || ifname.includes('=')) return { error: `syncdaemon: an interface is required after the role (${SYNCDAEMON_SYNTAX})` };
  if (!validInterfaceName(ifname)) return { error: `syncdaemon: "${ifname}" is not a valid interface name (1 to 15 characters, no "/", ":" or blank)` };
  const seen = new Map<Option, string>();
  for (const w of rest) {
    const eq = w.indexOf('=');
    const key = (eq > 0 ? w.slice(0, eq) : w) as Option;
    if (eq <= 0 || !(OPTIONS as readonly string[]).includes(key)) {
      return { error: `syncdaemon: unknown option "${w}" (use ${OPTIONS.map((o) => `${o}=`).join(', ')})` };
    }
    if (seen.has(key)) return { error: `syncdaemon: ${key}= given twice` };
    seen.set(key, w.slice(eq + 1));
  }
  const syncidText = seen.get('syncid');
  if (syncidText === undefined) return { error: 'syncdaemon: syncid=N is required (0 to 255)' };
  const syncid = number(syncidText, 0, 255);
  if (syncid === null) return { error: 'syncdaemon: syncid must be a number from 0 to 255' };

  let group: string | undefined;
  let six = false;
  const groupText = seen.get('group');
  if (groupText !== undefined) {
    const fam = multicastFamily(groupText);
    if (fam === null) return { error: `syncdaemon: group "${groupText}" is not an IPv4 or IPv6 multicast address` };
    group = groupText;
    six = fam === 6;
  }
  let maxlen: number | undefined;
  const maxlenText = seen.get('maxlen');
  if (maxlenText !== undefined) {
    const min = role === 'backup' ? 1024 : 1;
    const max = 65535 - (six ? 48 : 28);
    maxlen = number(maxlenText, min, max) ?? undefined;
    if (maxlen === undefined) return { error: `syncdaemon: maxlen must be a number from ${min} to ${max} for a ${role}${six ? ' with an IPv6 group' : ''}` };
  }
  let port: number | undefined;
  const portText = seen.get('port');
  if (portText !== undefined) {
    port = number(portText, 1, 65535) ?? undefined;
    if (port === undefined) return { error: 'syncdaemon: port must be a number from 1 to 65535' };
  }
  let ttl: number | undefined;
  const ttlText = seen.get('ttl');
  if (ttlText !== undefined) {
    ttl = number(ttlText, 1, 255) ?? undefined;
    if (ttl === undefined) return { error: 'syncdaemon: ttl must be a number from 1 to 255' };
  }
  const cleanstopText = seen.get('cleanstop') ?? 'yes';
  if (cleanstopText !== 'yes' && cleanstopText !== 'no') return { error: "syncdaemon: cleanstop must be 'yes' or 'no'" };
  return {
    daemon: {
      role,
      ifname,
      syncid,
      ...(maxlen !== undefined ? { maxlen } : {}),
      ...(group !== undefined ? { group } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(ttl !== undefined ? { ttl } : {}),
      cleanstop: cleanstopText === 'yes',
    },
  };
}
