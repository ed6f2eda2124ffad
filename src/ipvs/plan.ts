/**
 * The planner: a pure diff of the table read from the kernel against the engine's desired table, into
 * the ipvsadm commands that make the one into the other. Destinations are compared in the kernel's form
 * (kernelDest: gatewaying and tunnelling take the service's port), so a port the kernel rewrote is not
 * a difference.
 */
import { CANONICAL_IPV4, canonicalAddr } from './addr.js';
import { formatAddrPort, kernelDest, splitAddrPort } from './normalize.js';
import type { DesiredTable, IpvsCommand, IpvsDest, IpvsProto, IpvsService, IpvsTable } from './types.js';

/** canonicalVaddr writes a service address the way `ipvsadm -n` lists it (IPv6 compressed, mark as a number). */
export function canonicalVaddr(proto: IpvsProto, vaddr: string): string {
  if (proto === 'fwm') {
    const n = Number(vaddr);
    return Number.isFinite(n) ? String(n) : vaddr;
  }
  return canonicalAddrPort(vaddr);
}

const CANONICAL_IPV4_PORT = new RegExp(`${CANONICAL_IPV4.source.slice(0, -1)}:(?:0|[1-9]\\d*)$`);

/** canonicalAddrPort writes `ip:port` / `[v6]:port` as ipvsadm -n prints it. */
export function canonicalAddrPort(s: string): string {
  // The common case, a canonical dotted quad and a port without leading zeros, is its own canonical form:
  // the planner and the engine ask this for every destination of a sync (10 000 with large tables).
  if (CANONICAL_IPV4_PORT.test(s)) return s;
  const { ip, port } = splitAddrPort(s);
  return formatAddrPort(canonicalAddr(ip), port);
}

/** serviceKey identifies a service in the kernel: protocol and address, or mark and family. */
export function serviceKey(proto: IpvsProto, vaddr: string, ipv6Fwm?: boolean): string {
  if (proto === 'fwm') return `fwm|${canonicalVaddr(proto, vaddr)}|${ipv6Fwm ? 6 : 4}`;
  return `${proto}|${canonicalVaddr(proto, vaddr)}`;
}

const FLAG_ORDER = ['sh-fallback', 'sh-port', 'mh-fallback', 'mh-port', 'flag-1', 'flag-2', 'flag-3'];

/** The service's parameters as the kernel would list them (defaults dropped, flags in print order). */
function normalizedParams(s: IpvsService): string {
  const persistent = s.persistent;
  let mask: string | undefined;
  if (persistent !== undefined && s.netmask !== undefined && s.netmask !== '') {
    const isV6 = s.proto === 'fwm' ? Boolean(s.ipv6Fwm) : s.vaddr.startsWith('[');
    mask = isV6 ? (s.netmask === '128' ? undefined : String(Number(s.netmask))) : s.netmask === '255.255.255.255' ? undefined : canonicalAddr(s.netmask);
  }
  const flags = (s.schedflags ?? '')
    .split(',')
    .filter((f) => f !== '')
    .sort((a, b) => FLAG_ORDER.indexOf(a) - FLAG_ORDER.indexOf(b))
    .join(',');
  return JSON.stringify([s.scheduler, persistent ?? null, mask ?? null, flags, Boolean(s.ops)]);
}

/** serviceParamsEqual tells whether two services would list the same (scheduler, persistence, mask, flags, ops). */
export function serviceParamsEqual(a: IpvsService, b: IpvsService): boolean {
  return normalizedParams(a) === normalizedParams(b);
}

/** kernelDestOf gives a desired destination in the form the kernel will list it. */
export function kernelDestOf(proto: IpvsProto, vaddr: string, d: IpvsDest): IpvsDest {
  const { ip, port } = splitAddrPort(d.rs);
  const rs = canonicalAddrPort(kernelDest(proto, vaddr, ip, port, d.forward));
  return rs === d.rs ? d : { ...d, rs };
}

function destEqual(a: IpvsDest, b: IpvsDest): boolean {
  return (
    a.forward === b.forward &&
    a.weight === b.weight &&
    a.upperThreshold === b.upperThreshold &&
    a.lowerThreshold === b.lowerThreshold
  );
}

/**
 * planChanges diffs `current` against `desired`: deletes the services of desired.remove that exist;
 * adds missing services and edits those whose parameters differ; within each desired service deletes
 * adds the missing destinations, then edits the ones whose forwarding, weight or thresholds differ
 * (sending every field: `-e` resets what it is not given), then deletes the ones not desired. Adding
 * before deleting means a service never goes empty in the middle of a switch: on recovery the live
 * reals are in before the sorry server leaves (keepalived's order); on failure the sorry server is in
 * before the last live real leaves. All of it is one `ipvsadm -R` batch, milliseconds apart.
 */
export function planChanges(current: IpvsTable, desired: DesiredTable): IpvsCommand[] {
  const cur = new Map<string, { service: IpvsService; dests: Map<string, IpvsDest> }>();
  for (const s of current.services) {
    const dests = new Map<string, IpvsDest>();
    for (const d of s.dests) dests.set(canonicalAddrPort(d.rs), d);
    cur.set(serviceKey(s.service.proto, s.service.vaddr, s.service.ipv6Fwm), { service: s.service, dests });
  }
  const out: IpvsCommand[] = [];
  const desiredKeys = new Set(desired.services.map((d) => serviceKey(d.service.proto, d.service.vaddr, d.service.ipv6Fwm)));

  const removed = new Set<string>();
  for (const r of desired.remove) {
    const key = serviceKey(r.proto, r.vaddr, r.ipv6Fwm);
    if (desiredKeys.has(key) || removed.has(key)) continue;
    const c = cur.get(key);
    if (!c) continue;
    removed.add(key);
    out.push({
      op: 'delete-service',
      proto: c.service.proto,
      vaddr: c.service.vaddr,
      ...(c.service.ipv6Fwm ? { ipv6Fwm: true } : {}),
    });
  }

  for (const ds of desired.services) {
    const proto = ds.service.proto;
    const vaddr = canonicalVaddr(proto, ds.service.vaddr);
    const service: IpvsService = vaddr === ds.service.vaddr ? ds.service : { ...ds.service, vaddr };
    const svcRef = { proto, vaddr, ...(service.ipv6Fwm ? { ipv6Fwm: true } : {}) };
    const c = cur.get(serviceKey(proto, vaddr, service.ipv6Fwm));
    if (!c) out.push({ op: 'add-service', service });
    else if (!serviceParamsEqual(c.service, service)) out.push({ op: 'edit-service', service });

    const want = new Map<string, IpvsDest>();
    for (const d of ds.dests) {
      const k = kernelDestOf(proto, vaddr, d);
      if (!want.has(k.rs)) want.set(k.rs, k);
    }
    const have = c?.dests ?? new Map<string, IpvsDest>();
    for (const [rs, d] of want) if (!have.has(rs)) out.push({ op: 'add-dest', ...svcRef, dest: d });
    for (const [rs, d] of want) {
      const h = have.get(rs);
      if (h && !destEqual(h, d)) out.push({ op: 'edit-dest', ...svcRef, dest: d });
    }
    for (const [rs, d] of have) if (!want.has(rs)) out.push({ op: 'delete-dest', ...svcRef, rs: d.rs });
  }
  return out;
}
