/**
 * Which IPVS driver the daemon uses (LDIRECTORD_IPVS_DRIVER=netlink|ipvsadm|auto, default auto):
 * - ipvsadm: the ipvsadm the lookup found (src/ipvs/locate.ts);
 * - netlink: the kernel's generic netlink family, even when an ipvsadm is named;
 * - auto: ipvsadm when one is named (`-d` with a ./ipvsadm, or LDIRECTORD_IPVSADM: the differential
 *   suites and admins who wrap ipvsadm rely on it), else netlink when the IPVS family resolves (after
 *   one `modprobe ip_vs` when it does not at first, as keepalived does), else the system ipvsadm.
 * The choice and its reason are one log line at start and part of `show --json`.
 */
import { IpvsadmDriver, type IpvsLogLevel } from './ipvsadm-driver.js';
import { NetlinkDriver, NetlinkUnavailable } from './netlink/driver.js';
import { IPVSADM_CANDIDATES } from './locate.js';
import { processRunner } from '../util/process.js';
import type { IpvsDriver } from './types.js';

export type IpvsDriverKind = 'netlink' | 'ipvsadm';
export type IpvsDriverRequest = IpvsDriverKind | 'auto';

/** What was chosen and why (shown by `show --json` as `ipvsDriver`). */
export interface IpvsDriverSelection {
  readonly driver: IpvsDriverKind;
  readonly requested: IpvsDriverRequest;
  readonly reason: string;
  /** The ipvsadm program when driver is ipvsadm. */
  readonly ipvsadm?: string;
}

export interface SelectOptions {
  readonly env: NodeJS.ProcessEnv;
  /** The ipvsadm the lookup found (may be '' when none was needed). */
  readonly ipvsadm: string;
  readonly log: (level: IpvsLogLevel, msg: string) => void;
  /** Opens the netlink driver (tests inject one); default NetlinkDriver.open. */
  readonly openNetlink?: (log: (level: IpvsLogLevel, msg: string) => void) => Promise<NetlinkDriver>;
  /** Runs `modprobe ip_vs` (tests inject one); resolves with an error text or undefined. */
  readonly modprobe?: () => Promise<string | undefined>;
  /** Creates the ipvsadm driver (tests inject one). */
  readonly makeIpvsadm?: (path: string, log: (level: IpvsLogLevel, msg: string) => void) => IpvsDriver;
}

/** The request from LDIRECTORD_IPVS_DRIVER; an unknown value is an error text. */
export function parseDriverRequest(v: string | undefined): IpvsDriverRequest | { error: string } {
  if (v === undefined || v === '') return 'auto';
  if (v === 'netlink' || v === 'ipvsadm' || v === 'auto') return v;
  return { error: `LDIRECTORD_IPVS_DRIVER=${v}: expected netlink, ipvsadm or auto` };
}

/**
 * Whether the ipvsadm is named rather than found on the system: LDIRECTORD_IPVSADM, or `-d` with a
 * ./ipvsadm (the lookup returns a system path only when neither names one).
 */
export function namedIpvsadm(o: { env: NodeJS.ProcessEnv; ipvsadm: string }): string | undefined {
  const env = o.env.LDIRECTORD_IPVSADM;
  if (env !== undefined && env !== '') return 'LDIRECTORD_IPVSADM';
  if (o.ipvsadm !== '' && !IPVSADM_CANDIDATES.includes(o.ipvsadm)) return '-d with ./ipvsadm';
  return undefined;
}

/** `modprobe ip_vs`, at most 5 s; resolves with the failure text, or undefined when it worked. */
export async function runModprobe(): Promise<string | undefined> {
  const r = await processRunner('modprobe', ['ip_vs'], { timeoutMs: 5000 });
  if (r.spawnError) return r.osError ?? r.spawnError;
  if (r.exitCode === 0 && !r.timedOut) return undefined;
  return (r.stderr.trim() || (r.timedOut ? 'modprobe ip_vs timed out' : `modprobe ip_vs failed (exit ${r.exitCode})`)).split('\n')[0];
}

/** Chooses and creates the driver; logs the choice once. Never throws. */
export async function selectIpvsDriver(o: SelectOptions): Promise<{ driver: IpvsDriver; selection: IpvsDriverSelection }> {
  const parsed = parseDriverRequest(o.env.LDIRECTORD_IPVS_DRIVER);
  if (typeof parsed === 'object') o.log('error', `${parsed.error}; using auto`);
  const requested: IpvsDriverRequest = typeof parsed === 'object' ? 'auto' : parsed;
  const openNetlink = o.openNetlink ?? ((log) => NetlinkDriver.open({ onLog: log }));
  const makeIpvsadm = o.makeIpvsadm ?? ((path, log) => new IpvsadmDriver({ path, onLog: log }));

  const useIpvsadm = (reason: string, level: IpvsLogLevel = 'info') => {
    const selection: IpvsDriverSelection = { driver: 'ipvsadm', requested, reason, ipvsadm: o.ipvsadm };
    o.log(level, `IPVS driver: ipvsadm (${o.ipvsadm}): ${reason}`);
    return { driver: makeIpvsadm(o.ipvsadm, o.log), selection };
  };
  const tryNetlink = async (): Promise<{ driver?: NetlinkDriver; why?: string }> => {
    let first: unknown;
    try {
      return { driver: await openNetlink(o.log) };
    } catch (e) {
      first = e;
    }
    // No family: the module may just not be loaded yet.
    if (!(first instanceof NetlinkUnavailable) || first.errno === undefined) return { why: msg(first) };
    const mp = await (o.modprobe ?? runModprobe)();
    try {
      return { driver: await openNetlink(o.log) };
    } catch (e) {
      return { why: `${msg(e)}${mp ? `; modprobe ip_vs: ${mp}` : ''}` };
    }
  };

  if (requested === 'ipvsadm') return useIpvsadm('LDIRECTORD_IPVS_DRIVER=ipvsadm');
  if (requested === 'auto') {
    const named = namedIpvsadm(o);
    if (named) return useIpvsadm(`named by ${named}`);
  }
  const nl = await tryNetlink();
  if (nl.driver) {
    const reason = requested === 'netlink' ? 'LDIRECTORD_IPVS_DRIVER=netlink' : 'the IPVS generic netlink family resolves';
    o.log('info', `IPVS driver: netlink (family ${nl.driver.family}): ${reason}`);
    return { driver: nl.driver, selection: { driver: 'netlink', requested, reason } };
  }
  if (requested === 'netlink') return useIpvsadm(`LDIRECTORD_IPVS_DRIVER=netlink but netlink is unusable: ${nl.why}`, 'error');
  return useIpvsadm(`no IPVS over netlink: ${nl.why}`);
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
