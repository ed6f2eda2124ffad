/**
 * The typed, immutable configuration model: what an ldirectord.cf means once every default of the
 * original has been applied and every name resolved. The parser (src/config/) produces it; the engine,
 * the checks, the IPVS driver and the daemon only ever read it.
 *
 * Field names follow the directive names of ldirectord.cf so that a reader of the man page finds them.
 */

/** Source position of a directive, kept so that runtime warnings can still point at FILE:LINE. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
}

/** IPVS forwarding method: gate = direct routing (-g), masq = NAT (-m), ipip = tunnel (-i). */
export type Forward = 'gate' | 'masq' | 'ipip';

/** Virtual-service protocol. `fwm` is a firewall-mark service (`virtual=<mark>`). */
export type Protocol = 'tcp' | 'udp' | 'fwm';

export type AddressFamily = 4 | 6;

/** checktype= values. `combined` is the numeric form (`checktype=3`): connect, negotiate every N+1 passes. */
export type CheckType =
  | 'connect'
  | 'negotiate'
  | 'ping'
  | 'external'
  | 'external-perl'
  | 'off'
  | 'on'
  | 'combined';

/** service= values the original knows (`none` = never probed, always up). */
export const SERVICES = [
  'dns', 'ftp', 'http', 'https', 'http_proxy', 'imap', 'imaps', 'ldap', 'ldaps', 'mysql', 'nntp',
  'none', 'oracle', 'pgsql', 'pop', 'pops', 'radius', 'simpletcp', 'sip', 'smtp', 'submission',
] as const;
export type ServiceName = (typeof SERVICES)[number];

/**
 * The well-known port of each service: the original's ld_service_to_port (the port a check uses when
 * neither checkport= nor the real gives one) and, read backwards, its ld_port_to_service (the service
 * of a virtual without service=). `none` and `simpletcp` have no port.
 */
export const SERVICE_PORTS: Readonly<Partial<Record<ServiceName, number>>> = {
  ftp: 21, smtp: 25, dns: 53, http: 80, pop: 110, nntp: 119, imap: 143, ldap: 389, https: 443,
  submission: 587, ldaps: 636, imaps: 993, pops: 995, oracle: 1521, radius: 1812, http_proxy: 3128,
  mysql: 3306, sip: 5060, pgsql: 5432,
};

/**
 * The schedulers of Linux IPVS (one kernel module ip_vs_NAME each). The original checks scheduler=
 * against no list (any [a-z]+ goes to ipvsadm); the parser only warns about a name not in it. A given
 * kernel may lack some (the simulated kernel, like the captured one, has no `dh`).
 */
export const IPVS_SCHEDULERS = [
  'rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos',
] as const;

/** emailalertstatus= words. */
export type DaemonStatus = 'starting' | 'running' | 'stopping' | 'reloading';

/** Where log lines go: a file (logfile="/path") or a syslog facility (logfile="local0"). */
export type LogTarget =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'syslog'; readonly facility: string };

/** A fallback ("sorry") server: fallback=host[:port] [gate|masq|ipip]. */
export interface FallbackServer {
  /** Resolved address; IPv6 without brackets. Empty string for the original's bogus fwm case (`-r :0`). */
  readonly ip: string;
  readonly family: AddressFamily;
  /** Port; for a fallback without port, the virtual's port (0 for fwm). */
  readonly port: number;
  /** Forwarding method; the original defaults to gate. */
  readonly forward: Forward;
  /** Whether a port was written (false: a global fallback takes each virtual's port). */
  readonly portGiven?: boolean;
  readonly pos: SourcePos;
}

/** One real server of a virtual, after range expansion (a range yields one RealServer per address). */
export interface RealServer {
  /** Resolved address; IPv6 without brackets. */
  readonly ip: string;
  readonly family: AddressFamily;
  /** Configured port; 0 when omitted (the original's rule). */
  readonly port: number;
  readonly forward: Forward;
  /** Weight; default 1. */
  readonly weight: number;
  /** Upper connection threshold (u:N), 0 = none. */
  readonly upperThreshold: number;
  /** Lower connection threshold (l:N), 0 = none. */
  readonly lowerThreshold: number;
  /**
   * Per-real request (with the original's leading "/" rule applied), undefined = virtual's.
   * Original's bug kept: a per-real request written with a leading "/" comes without receive; the
   * original then uses the virtual's receive and, for HTTP, the virtual's URL. So a per-real URL
   * is used only when both request and receive are defined.
   */
  readonly request?: string;
  /** Per-real receive, undefined = virtual's. */
  readonly receive?: string;
  /** The text the admin wrote (for messages), e.g. `192.168.1.10->192.168.1.12:80 gate 2`. */
  readonly source: string;
  readonly pos: SourcePos;
}

/** A virtual service: one `virtual=`/`virtual6=` block with every default and inheritance applied. */
export interface VirtualService {
  /** `virtual` or `virtual6`, as written. */
  readonly keyword: 'virtual' | 'virtual6';
  readonly family: AddressFamily;
  readonly protocol: Protocol;
  /** Resolved address (IPv6 without brackets) for tcp/udp; empty for fwm. */
  readonly ip: string;
  /** Port for tcp/udp; 0 for fwm. */
  readonly port: number;
  /** Firewall mark for fwm services. */
  readonly fwmark?: number;
  /** The ipvsadm service address as ipvsadm prints it: `1.2.3.4:80`, `[::1]:80`, or `42`. */
  readonly vaddr: string;
  /** The original's virtual id, `<proto>:<vaddr>` (`fwm6:` for IPv6 marks), used in log lines. */
  readonly vid: string;

  readonly reals: readonly RealServer[];

  readonly checktype: CheckType;
  /** N of the combined (numeric) checktype. */
  readonly combinedCount?: number;
  readonly service: ServiceName;
  /** Whether service= was given explicitly (defaults to login/passwd depend on it). */
  readonly serviceExplicit: boolean;
  readonly checkcommand: string;
  readonly checkport?: number;
  /** Seconds, after the original's mutual defaulting (5 and 30 when nothing is set). */
  readonly checktimeout: number;
  readonly negotiatetimeout: number;
  /** Effective: the virtual's own with fork=yes (the original ignores it with fork=no), else global. */
  readonly checkinterval: number;
  readonly checkcount: number;
  readonly failurecount: number;
  readonly request: string;
  readonly receive: string;
  readonly httpmethod: 'GET' | 'HEAD';
  readonly virtualhost?: string;
  readonly login: string;
  readonly passwd: string;
  readonly database: string;
  readonly secret: string;
  readonly load?: string;

  readonly scheduler: string;
  /** Persistence timeout; undefined = not persistent. `persistent=` with no digits is not possible. */
  readonly persistent?: number;
  readonly netmask?: string;
  readonly schedflags?: string;
  readonly ops: boolean;

  /**
   * Effective values: the virtual's own setting, else the global one (the original reads the global
   * at use time). `fallback` is the original's fallback_find: the virtual's, else the global one of
   * its family and protocol, on the virtual's port when the global has none.
   */
  readonly fallback?: FallbackServer;
  readonly fallbackcommand?: string;
  readonly quiescent: boolean;
  readonly cleanstop: boolean;
  /** Ours (off by default): run `fallbackcommand stop ...` at daemon stop while the fallback is on. */
  readonly fallbackcommandonstop?: boolean;
  /** Ours (absent = off): spread this virtual's checks over checkinterval, each real at its own fixed offset. */
  readonly checkspread?: boolean;
  /** Ours (absent = 1, the original's): successful checks in a row a failed real needs to come back. */
  readonly risecount?: number;
  /** Ours (absent or 0 = off): seconds over which a new or recovered real's weight ramps up to its weight. */
  readonly slowstart?: number;
  readonly emailalert: string;
  readonly emailalertfreq: number;
  readonly emailalertstatus: readonly DaemonStatus[];
  readonly smtp?: string;
  /** Ours (off by default): each address of the emailalert list its own SMTP recipient. */
  readonly emailalertsplit?: boolean;
  /** Ours (off by default): dial the port of smtp=host:port (the original dials 25). */
  readonly smtpuseport?: boolean;
  readonly monitorfile?: string;
  readonly servicename?: string;
  readonly comment?: string;

  readonly pos: SourcePos;
}

/** Global settings (top level of ldirectord.cf). */
export interface GlobalConfig {
  /** undefined = not set (the original's -1); virtuals inherit through the mutual defaulting. */
  readonly checktimeout?: number;
  readonly negotiatetimeout?: number;
  readonly checkinterval: number;
  readonly checkcount: number;
  readonly failurecount: number;
  readonly autoreload: boolean;
  readonly callback?: string;
  readonly fallback?: { readonly tcp?: FallbackServer; readonly udp?: FallbackServer };
  readonly fallback6?: { readonly tcp?: FallbackServer; readonly udp?: FallbackServer };
  readonly fallbackcommand?: string;
  readonly logfile: LogTarget;
  readonly emailalert: string;
  readonly emailalertfreq: number;
  readonly emailalertstatus: readonly DaemonStatus[];
  readonly emailalertfrom?: string;
  readonly smtp?: string;
  readonly emailalertsplit?: boolean;
  readonly smtpuseport?: boolean;
  readonly execute: readonly string[];
  readonly supervised: boolean;
  readonly fork: boolean;
  readonly quiescent: boolean;
  readonly readdquiescent: boolean;
  readonly cleanstop: boolean;
  /** Ours (off by default): run `fallbackcommand stop ...` at daemon stop while the fallback is on. */
  readonly fallbackcommandonstop?: boolean;
  /** Ours, the virtuals' default (see VirtualService). */
  readonly checkspread?: boolean;
  readonly risecount?: number;
  readonly slowstart?: number;
  /** Ours (absent = no cap): checks of this director in flight at once; the others wait their turn. */
  readonly maxconcurrentchecks?: number;
  /**
   * Ours (absent = 0 = off): seconds between reads of the IPVS table that come without a change, to put
   * back managed entries changed by hand.
   */
  readonly readbackinterval?: number;
  readonly maintenancedir?: string;
  /** Ours (opt-in, absent without a `syncdaemon =` line): the IPVS connection-sync daemons to keep running. */
  readonly syncdaemons?: readonly SyncDaemonConfig[];
}

/**
 * One IPVS connection-sync daemon (the kernel's ip_vs_sync thread set), as `ipvsadm --start-daemon`
 * names it; also the driver contract's SyncDaemon (src/ipvs/types.ts). Unset optional fields mean the
 * kernel's defaults.
 */
export interface SyncDaemonSettings {
  readonly role: 'master' | 'backup';
  /** --mcast-interface */
  readonly ifname: string;
  /** --syncid, 0..255; a backup with 0 accepts every sync id. */
  readonly syncid: number;
  /** --sync-maxlen; unset: the kernel's choice from the interface's MTU. */
  readonly maxlen?: number;
  /** --mcast-group, IPv4 or IPv6 multicast address as written; unset: 224.0.0.81. */
  readonly group?: string;
  /** --mcast-port; unset: 8848. */
  readonly port?: number;
  /** --mcast-ttl; unset: 1. */
  readonly ttl?: number;
}

/**
 * One `syncdaemon = master|backup INTERFACE syncid=N [maxlen=N] [group=ADDR] [port=N] [ttl=N]
 * [cleanstop=yes|no]` line (ours): an IPVS connection-sync daemon the daemon starts, watches and
 * restarts.
 */
export interface SyncDaemonConfig extends SyncDaemonSettings {
  /** false (`cleanstop=no`): the daemon leaves this role running when it stops. Default true. */
  readonly cleanstop: boolean;
  readonly pos: SourcePos;
}

/** A non-fatal finding of the parser, printed as `FILE:LINE: warning: message`. */
export interface ConfigWarning {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** The whole parsed file. */
export interface Config {
  /** Path of the file as resolved by the config lookup. */
  readonly file: string;
  readonly global: GlobalConfig;
  readonly virtuals: readonly VirtualService[];
  readonly warnings: readonly ConfigWarning[];
  /** What the directives that are not the original's mean here (`configtest` prints them); absent when none is used. */
  readonly notes?: readonly ConfigWarning[];
}
