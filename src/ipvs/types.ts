import type { Forward, SyncDaemonSettings } from '../model/config.js';

/** Protocol of an IPVS service as ipvsadm names it (-t, -u, -f). */
export type IpvsProto = 'tcp' | 'udp' | 'fwm';

/** IpvsService is one virtual service in the kernel table. */
export interface IpvsService {
  readonly proto: IpvsProto;
  /** `1.2.3.4:80`, `[2001:db8::1]:443`, or the mark number as text for fwm. */
  readonly vaddr: string;
  /** For fwm services: true when the service is IPv6 (`-6`). */
  readonly ipv6Fwm?: boolean;
  readonly scheduler: string;
  /** Persistence timeout in seconds; undefined = not persistent. */
  readonly persistent?: number;
  /** Persistence netmask as ipvsadm prints it (dotted quad, or prefix length for IPv6). */
  readonly netmask?: string;
  /** Scheduler flags (-b), as ipvsadm prints them, e.g. `sh-fallback,sh-port`. */
  readonly schedflags?: string;
  readonly ops?: boolean;
}

/** IpvsDest is one real server (destination) of a service. */
export interface IpvsDest {
  /** `ip:port` or `[ip6]:port` as ipvsadm -n prints it. */
  readonly rs: string;
  readonly forward: Forward;
  readonly weight: number;
  readonly upperThreshold: number;
  readonly lowerThreshold: number;
  /**
   * Connections as the listing shows them (ActiveConn, InActConn), present only when not 0 and only on a
   * table read from the kernel: never part of a desired table, never compared by the planner.
   */
  readonly activeConns?: number;
  readonly inactConns?: number;
}

/** IpvsTable is a snapshot of the kernel's virtual-server table. */
export interface IpvsTable {
  readonly services: readonly { readonly service: IpvsService; readonly dests: readonly IpvsDest[] }[];
}

/** IpvsCommand is one change, rendered by the driver as an ipvsadm -R line or a single command. */
export type IpvsCommand =
  | { readonly op: 'add-service'; readonly service: IpvsService }
  | { readonly op: 'edit-service'; readonly service: IpvsService }
  | { readonly op: 'delete-service'; readonly proto: IpvsProto; readonly vaddr: string; readonly ipv6Fwm?: boolean }
  | { readonly op: 'add-dest'; readonly proto: IpvsProto; readonly vaddr: string; readonly ipv6Fwm?: boolean; readonly dest: IpvsDest }
  | { readonly op: 'edit-dest'; readonly proto: IpvsProto; readonly vaddr: string; readonly ipv6Fwm?: boolean; readonly dest: IpvsDest }
  | { readonly op: 'delete-dest'; readonly proto: IpvsProto; readonly vaddr: string; readonly ipv6Fwm?: boolean; readonly rs: string };

/** The outcome of one applied command. */
export interface IpvsCommandResult {
  readonly command: IpvsCommand;
  readonly ok: boolean;
  /** ipvsadm's message for a refused command. */
  readonly error?: string;
  /** The command line as an admin would type it, for logs. */
  readonly commandLine: string;
}

/**
 * IpvsDriver is the engine's only view of the kernel: read the table, apply a batch of changes.
 * apply() never throws for a refused command; it reports each command's outcome.
 */
export interface IpvsDriver {
  read(): Promise<IpvsTable>;
  apply(commands: readonly IpvsCommand[]): Promise<readonly IpvsCommandResult[]>;
  /**
   * The table as the last apply() left it, when that apply() listed it back in the same step and the
   * listing shows every command's effect (the ipvsadm driver: the `-L -n` lines of its `-R` batch);
   * undefined otherwise (nothing applied yet, a command re-run alone, a driver that does not list back).
   * The director plans its next change against it instead of reading the table again.
   */
  appliedTable?(): IpvsTable | undefined;
  /** The kernel's connection-sync daemons, where the driver can reach them (issue #22). */
  readonly syncDaemons?: IpvsSyncDaemons;
}

/** SyncDaemon is one IPVS connection-sync daemon; its fields are the config's (model/config.ts). */
export type SyncDaemon = SyncDaemonSettings;

/**
 * IpvsSyncDaemons reads, starts and stops the sync daemons of the driver's network namespace.
 * A refused operation throws an LdirError (code LDIR_ERR_IPVSADM) whose message reads as ipvsadm's.
 */
export interface IpvsSyncDaemons {
  read(): Promise<readonly SyncDaemon[]>;
  start(daemon: SyncDaemon): Promise<void>;
  stop(role: SyncDaemon['role']): Promise<void>;
}

/** DesiredService is what the engine wants one managed service to look like. */
export interface DesiredService {
  readonly service: IpvsService;
  /** Every destination the service must have; a destination of the service not listed here is removed. */
  readonly dests: readonly IpvsDest[];
}

/**
 * DesiredTable is the engine's output: the managed part of the table as it should be. Services not
 * listed are left alone, except those in `remove` (managed by an earlier config), which are deleted.
 * The planner (src/ipvs/plan.ts) diffs it against a read IpvsTable into IpvsCommands.
 */
export interface DesiredTable {
  readonly services: readonly DesiredService[];
  readonly remove: readonly { readonly proto: IpvsProto; readonly vaddr: string; readonly ipv6Fwm?: boolean }[];
}
