/**
 * Name resolution for the config parser, done the way the original does it: host names through the
 * system resolver (getaddrinfo, first address of the requested family) and service names through
 * /etc/services (getservbyname).
 */
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';

/** Resolver answers the two questions the parser asks. Injected so tests can run offline. */
export interface Resolver {
  /** First address of `family` for `name` (an IP literal or a host name), or undefined. IPv6 without brackets. */
  lookupHost(name: string, family: 4 | 6): Promise<string | undefined>;
  /** Port of service `name` for `proto` ('' = any protocol, first entry), or undefined. */
  servicePort(name: string, proto: 'tcp' | 'udp' | ''): number | undefined;
}

/** One /etc/services entry. */
interface ServiceEntry {
  readonly port: number;
  readonly proto: string;
}

/** parseServices reads the text of an /etc/services file into name (and alias) → entries, in file order. */
export function parseServices(text: string): Map<string, ServiceEntry[]> {
  const map = new Map<string, ServiceEntry[]>();
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*/, '').trim();
    if (!line) continue;
    const fields = line.split(/\s+/);
    const pp = /^(\d+)\/(\w+)$/.exec(fields[1] ?? '');
    if (!pp) continue;
    const entry = { port: Number(pp[1]), proto: pp[2] };
    for (const name of [fields[0], ...fields.slice(2)]) {
      const list = map.get(name);
      if (list) list.push(entry);
      else map.set(name, [entry]);
    }
  }
  return map;
}

let systemServices: Map<string, ServiceEntry[]> | undefined;

function loadSystemServices(): Map<string, ServiceEntry[]> {
  if (!systemServices) {
    try {
      systemServices = parseServices(readFileSync('/etc/services', 'utf8'));
    } catch {
      systemServices = new Map();
    }
  }
  return systemServices;
}

/** servicePortFrom looks a service up in a parsed services table like getservbyname(3). */
export function servicePortFrom(
  table: Map<string, ServiceEntry[]>,
  name: string,
  proto: 'tcp' | 'udp' | '',
): number | undefined {
  const list = table.get(name);
  if (!list) return undefined;
  const hit = proto === '' ? list[0] : list.find((e) => e.proto === proto);
  return hit?.port;
}

/**
 * parseInetAton parses an IPv4 literal the way inet_aton(3) (and so getaddrinfo) does: 1 to 4 parts,
 * each decimal, octal (leading 0) or hex (0x). Returns the dotted quad or undefined.
 */
export function parseInetAton(s: string): string | undefined {
  const parts = s.split('.');
  if (parts.length < 1 || parts.length > 4) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0[xX][0-9a-fA-F]*$/.test(p)) n = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]*$/.test(p)) n = parseInt(p, 8);
    else if (/^[1-9][0-9]*$/.test(p)) n = parseInt(p, 10);
    else return undefined;
    nums.push(n);
  }
  const last = nums.pop() as number;
  let value = 0;
  for (const n of nums) {
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  const lastBits = 8 * (4 - nums.length);
  if (last >= 2 ** lastBits) return undefined;
  value = value * 2 ** lastBits + last;
  return [24, 16, 8, 0].map((sh) => Math.floor(value / 2 ** sh) % 256).join('.');
}

/** normalizeIPv6 returns the RFC 5952 text of an IPv6 literal (as getnameinfo prints it), or undefined. */
export function normalizeIPv6(s: string): string | undefined {
  if (!isIPv6(s)) return undefined;
  try {
    return new URL(`http://[${s}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

/** literalAddress resolves an IP literal without any lookup; undefined when `name` is not one of `family`. */
export function literalAddress(name: string, family: 4 | 6): string | undefined {
  if (family === 4) return isIPv4(name) ? name : parseInetAton(name);
  return normalizeIPv6(name);
}

/** systemResolver is the default: literals parsed locally, names through getaddrinfo, /etc/services. */
export const systemResolver: Resolver = {
  async lookupHost(name, family) {
    if (name === '') return undefined;
    const lit = literalAddress(name, family);
    if (lit !== undefined) return lit;
    // A literal of the other family never resolves (no AI_V4MAPPED in the original).
    if (isIPv4(name) || isIPv6(name)) return undefined;
    try {
      const r = await lookup(name, { family });
      return family === 6 ? normalizeIPv6(r.address) : r.address;
    } catch {
      return undefined;
    }
  },
  servicePort(name, proto) {
    return servicePortFrom(loadSystemServices(), name, proto);
  },
};

/**
 * hostsFileResolver resolves only literals and names of a hosts file (as getaddrinfo does in a network
 * namespace with no route to a name server). Deterministic; used by the differential tests.
 */
export function hostsFileResolver(hostsText: string, servicesText?: string): Resolver {
  const v4 = new Map<string, string>();
  const v6 = new Map<string, string>();
  for (const raw of hostsText.split('\n')) {
    const fields = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (fields.length < 2) continue;
    const [addr, ...names] = fields;
    const map = isIPv4(addr) ? v4 : isIPv6(addr) ? v6 : undefined;
    if (!map) continue;
    const norm = isIPv6(addr) ? (normalizeIPv6(addr) as string) : addr;
    for (const n of names) if (!map.has(n.toLowerCase())) map.set(n.toLowerCase(), norm);
  }
  const services = servicesText === undefined ? undefined : parseServices(servicesText);
  return {
    async lookupHost(name, family) {
      if (name === '') return undefined;
      const lit = literalAddress(name, family);
      if (lit !== undefined) return lit;
      return (family === 4 ? v4 : v6).get(name.toLowerCase());
    },
    servicePort(name, proto) {
      return servicePortFrom(services ?? loadSystemServices(), name, proto);
    },
  };
}
