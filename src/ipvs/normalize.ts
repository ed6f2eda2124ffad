import type { Forward } from '../model/config.js';
import type { IpvsProto } from './types.js';

/** Formats ip:port the way `ipvsadm -n` prints it (`[v6]:port` for IPv6). */
export function formatAddrPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Splits `ip:port` / `[v6]:port` into its parts. */
export function splitAddrPort(s: string): { ip: string; port: number } {
  const m = /^\[(.*)\]:(\d+)$/.exec(s) ?? /^([^:]*):(\d+)$/.exec(s);
  if (!m) return { ip: s, port: 0 };
  return { ip: m[1], port: Number(m[2]) };
}

/**
 * kernelDest gives the destination address the kernel will list for a real added to a service: a real
 * without port takes the service's port, and for gatewaying and tunnelling on a service that is not a
 * firewall mark the kernel replaces the real's port by the service's (ipvsadm-real.md). Masquerading
 * keeps the port. The engine and the planner both key destinations by this form.
 */
export function kernelDest(proto: IpvsProto, vaddr: string, realIp: string, realPort: number, forward: Forward): string {
  if (proto === 'fwm') return formatAddrPort(realIp, realPort);
  const vport = splitAddrPort(vaddr).port;
  const port = realPort === 0 || forward !== 'masq' ? vport : realPort;
  return formatAddrPort(realIp, port);
}
