/**
 * What one check contacts: the original's ld_setup (URL, effective request/receive), ld_checkport and
 * ld_service_to_port rules, and get_real_id_str (the key that makes the original check a real once per
 * pass and apply the result to every virtual listing it).
 */
import { type RealServer, SERVICE_PORTS, type VirtualService } from '../model/config.js';
import type { CheckTarget } from './types.js';

/**
 * checkPort is the original's ld_checkport: checkport=, else the real's port when > 0, else the
 * service's well-known port; 0 when none applies (the original's undef: a connect to it fails).
 */
export function checkPort(virtual: VirtualService, real: RealServer): number {
  if (virtual.checkport !== undefined) return virtual.checkport;
  if (real.port > 0) return real.port;
  return SERVICE_PORTS[virtual.service] ?? 0;
}

/** The address as the original stores it in $r->{server}: IPv6 in brackets. */
export function serverString(ip: string, family: 4 | 6): string {
  return family === 6 ? `[${ip}]` : ip;
}

/** hostPort: address and port as messages and URLs show them (`10.0.0.1:80`, `[::1]:80`). */
export function hostPort(ip: string, port: number): string {
  return `${serverString(ip, ip.includes(':') ? 6 : 4)}:${port}`;
}

/** Effective request and receive after ld_setup (per-real ones only when the real has both). */
export function effectiveRequestReceive(virtual: VirtualService, real: RealServer): { request: string; receive: string } {
  if (real.request !== undefined && real.receive !== undefined) return { request: real.request, receive: real.receive };
  return { request: real.request ?? virtual.request, receive: virtual.receive };
}

/**
 * checkTarget derives everything one check needs from the virtual and the real, as ld_setup does.
 * `hostname` is accepted for symmetry with the check context and is not needed for the target itself.
 */
export function checkTarget(virtual: VirtualService, real: RealServer, hostname?: string): CheckTarget {
  void hostname;
  const port = checkPort(virtual, real);
  const schema = virtual.service === 'http_proxy' ? 'http' : virtual.service;
  const server = serverString(real.ip, real.family);
  const { request, receive } = effectiveRequestReceive(virtual, real);
  let url: string;
  if (real.request !== undefined && real.receive !== undefined) {
    const uri = real.request.replace(/^\//, '');
    url = real.request.includes(`${schema}://`) ? uri : `${schema}://${server}:${port}/${uri}`;
  } else {
    const uri = virtual.request.replace(/^\//, '');
    url = virtual.service === 'http_proxy' ? uri : `${schema}://${server}:${port}/${uri}`;
  }
  return { virtual, real, ip: real.ip, family: real.family, port, request, receive, url };
}

/** Perl's quotemeta on the original's byte strings: every byte other than [A-Za-z0-9_] gets a backslash. */
function quotemeta(s: string): string {
  return s.replace(/[^A-Za-z0-9_]/g, '\\$&');
}

/**
 * realIdString is the original's get_real_id_str as evaluated during a check pass (after ld_setup):
 * `<check>:<proto>:<server>:<port>:<virtualhost>:<checkport>:<weight>:<forward>:<request>:<receive>`
 * with request and receive quotemeta'd. Used as CheckJob.key.
 */
export function realIdString(virtual: VirtualService, real: RealServer): string {
  let check: string;
  if (virtual.checktype === 'negotiate' || virtual.checktype === 'combined') check = `${virtual.checktype}:${virtual.service}`;
  else if (virtual.checktype === 'external' || virtual.checktype === 'external-perl') {
    check = `${virtual.checktype}:${virtual.checkcommand}`;
  } else check = virtual.checktype;
  const { request, receive } = effectiveRequestReceive(virtual, real);
  return [
    check,
    virtual.protocol,
    serverString(real.ip, real.family),
    real.port,
    virtual.virtualhost ?? '',
    virtual.checkport ?? '',
    real.weight,
    real.forward,
    quotemeta(request),
    quotemeta(receive),
  ].join(':');
}
