/**
 * Rendering of IpvsCommands as ipvsadm argument vectors, as `ipvsadm -R` lines and as command lines for
 * logs. The argument order is the one ldirectord uses (command, service, real, forwarding, weight,
 * thresholds); it also matters to ipvsadm: `-M` is read as an IPv6 prefix only after an IPv6 service
 * address or `-6`.
 */
import type { Forward } from '../model/config.js';
import type { IpvsCommand, IpvsDest, IpvsProto, IpvsService } from './types.js';

const FWD_FLAG: Record<Forward, string> = { gate: '-g', masq: '-m', ipip: '-i' };

/** The service-address options: `-t VIP:PORT`, `-u VIP:PORT`, `-f MARK` (plus `-6` for IPv6 fwm). */
export function serviceArgs(proto: IpvsProto, vaddr: string, ipv6Fwm?: boolean): string[] {
  if (proto === 'fwm') return ipv6Fwm ? ['-f', vaddr, '-6'] : ['-f', vaddr];
  return [proto === 'tcp' ? '-t' : '-u', vaddr];
}

function serviceParams(s: IpvsService): string[] {
  const a = ['-s', s.scheduler];
  if (s.persistent !== undefined) a.push('-p', String(s.persistent));
  if (s.netmask !== undefined && s.netmask !== '') a.push('-M', s.netmask);
  if (s.schedflags) a.push('-b', s.schedflags);
  if (s.ops) a.push('-o');
  return a;
}

/** The real-server options. `-e` resets what it is not given, so every field is always sent. */
function destParams(d: IpvsDest): string[] {
  const a = ['-r', d.rs, FWD_FLAG[d.forward], '-w', String(d.weight)];
  if (d.upperThreshold || d.lowerThreshold) a.push('-x', String(d.upperThreshold), '-y', String(d.lowerThreshold));
  return a;
}

/** renderArgs gives the ipvsadm arguments (without the program) of one command. */
export function renderArgs(c: IpvsCommand): string[] {
  switch (c.op) {
    case 'add-service':
      return ['-A', ...serviceArgs(c.service.proto, c.service.vaddr, c.service.ipv6Fwm), ...serviceParams(c.service)];
    case 'edit-service':
      return ['-E', ...serviceArgs(c.service.proto, c.service.vaddr, c.service.ipv6Fwm), ...serviceParams(c.service)];
    case 'delete-service':
      return ['-D', ...serviceArgs(c.proto, c.vaddr, c.ipv6Fwm)];
    case 'add-dest':
      return ['-a', ...serviceArgs(c.proto, c.vaddr, c.ipv6Fwm), ...destParams(c.dest)];
    case 'edit-dest':
      return ['-e', ...serviceArgs(c.proto, c.vaddr, c.ipv6Fwm), ...destParams(c.dest)];
    case 'delete-dest':
      return ['-d', ...serviceArgs(c.proto, c.vaddr, c.ipv6Fwm), '-r', c.rs];
  }
}

/** renderRestoreLine gives the command as one line of `ipvsadm -R` input (no newline). */
export function renderRestoreLine(c: IpvsCommand): string {
  return renderArgs(c).join(' ');
}

/** renderCommandLine gives the command as an admin would type it, for logs. */
export function renderCommandLine(c: IpvsCommand, program = 'ipvsadm'): string {
  return `${program} ${renderRestoreLine(c)}`;
}
