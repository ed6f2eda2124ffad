/**
 * The simulated host's name databases: /etc/services and /etc/hosts as glibc's "files" sources read
 * them (the VM that recorded the real answers had no working DNS, so only /etc/hosts names resolve).
 * The texts come from loaders (this module stays free of fs); without them every lookup fails and
 * output stays numeric.
 */
import { inetAton } from '../ipvs/addr.js';


/** A name database read once from its loader's text, one entry per line that `parse` accepts. */
function nameDb<T>(parse: (fields: string[]) => T | null): { setLoader(f: () => string): void; entries(): T[] } {
  let loader: () => string = () => '';
  let cache: T[] | null = null;
  return {
    setLoader(f) {
      loader = f;
      cache = null;
    },
    entries() {
      if (cache === null) {
        let text = '';
        try {
          text = loader();
        } catch {
          /* no such file: every lookup fails, output stays numeric */
        }
        cache = [];
        for (const raw of text.split('\n')) {
          const e = parse(raw.replace(/#.*/, '').trim().split(/\s+/));
          if (e !== null) cache.push(e);
        }
      }
      return cache;
    },
  };
}

interface ServEntry {
  name: string;
  port: number;
  proto: string;
  aliases: string[];
}
const servDb = nameDb<ServEntry>((f) => {
  const m = f.length >= 2 ? /^(\d+)\/(\S+)$/.exec(f[1]) : null;
  return m && f[0] !== '' ? { name: f[0], port: Number(m[1]), proto: m[2], aliases: f.slice(2) } : null;
});
/** Lets the fake executable supply /etc/services (kept out of this module to stay free of fs). */
export function setEtcServicesLoader(f: () => string): void {
  servDb.setLoader(f);
}
const services = (): ServEntry[] => servDb.entries();

/** getservbyport: the first entry's name, or the number (`-L`/`-S` without `-n`). */
export function portName(port: number, proto: 'tcp' | 'udp'): string {
  return services().find((e) => e.port === port && e.proto === proto)?.name ?? String(port);
}

/** getservbyname: the port of the first entry named (or aliased) `name` for `proto`, or -1. */
export function serviceToPort(name: string, proto: string): number {
  const e = services().find((x) => x.proto === proto && (x.name === name || x.aliases.includes(name)));
  return e && e.port <= 65535 ? e.port : -1;
}

interface HostEntry {
  /** IPv4 as uint32 (only IPv4 lines are kept: ipvsadm resolves IPv4 only). */
  addr: number;
  names: string[];
}
const IPV4_DOTTED = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const hostDb = nameDb<HostEntry>((f) =>
  f.length >= 2 && IPV4_DOTTED.test(f[0]) ? { addr: inetAton(f[0]) as number, names: f.slice(1) } : null,
);
/** Lets the fake executable supply /etc/hosts (host names on input, and in listings without -n). */
export function setEtcHostsLoader(f: () => string): void {
  hostDb.setLoader(f);
}
const hosts = (): HostEntry[] => hostDb.entries();

/** gethostbyname (AF_INET) through /etc/hosts: the first line naming `name` (any case), or null. */
export function hostToAddr(name: string): number | null {
  if (name === '') return null;
  const lower = name.toLowerCase();
  return hosts().find((e) => e.names.some((n) => n.toLowerCase() === lower))?.addr ?? null;
}

/**
 * addr_to_anyname: gethostbyaddr's canonical name (the first name of the first /etc/hosts line with the
 * address), else the number. IPv6 always stays numeric: ipvsadm asks with an IPv4-sized address.
 */
export function addrName(af: 4 | 6, addr: string): string {
  if (af === 6) return addr;
  const n = inetAton(addr);
  return hosts().find((e) => e.addr === n)?.names[0] ?? addr;
}


/**
 * The simulated host's network interfaces and their MTUs, for the sync daemons' --mcast-interface (the
 * kernel looks the name up in the daemon's network namespace). Default: only `lo` (MTU 65536), as the
 * rest of the simulated host; the fake ipvsadm gives the interfaces of its own namespace.
 */
let interfacesLoader: () => ReadonlyMap<string, number> = () => new Map([['lo', 65536]]);

export function setInterfacesLoader(f: () => ReadonlyMap<string, number>): void {
  interfacesLoader = f;
}

/** The interfaces of the simulated host (name to MTU); none when the loader fails. */
export function hostInterfaces(): ReadonlyMap<string, number> {
  try {
    return interfacesLoader();
  } catch {
    return new Map();
  }
}
