/**
 * NetlinkDriver: the IpvsDriver on the kernel's own IPVS interface (generic netlink family `IPVS`), no
 * process per change. Same contract as IpvsadmDriver: apply() sends one cycle's changes pipelined (each
 * acknowledged with its errno; a refusal does not stop the batch, as `ipvsadm -R` goes on), reads the
 * table back with GET_SERVICE / GET_DEST dumps, and re-sends alone each command whose effect the table
 * does not show, so that a failing one is isolated and reported with ipvsadm's command line and message
 * ((operation, errno) -> "Destination already exists", ...). apply() never throws; read() rejects with
 * an LdirError when the table cannot be dumped.
 */
import { LdirError } from '../../util/errors.js';
import { commandEffective, TableIndex, type IpvsLogLevel } from '../ipvsadm-driver.js';
import { planChanges } from '../plan.js';
import { renderRestoreLine } from '../render.js';
import type { DesiredTable, IpvsCommand, IpvsCommandResult, IpvsDriver, IpvsService, IpvsSyncDaemons, IpvsTable, SyncDaemon } from '../types.js';
import {
  CodecError,
  GENL_ID_CTRL,
  IPVS_GENL_NAME,
  decodeDaemon,
  decodeDest,
  decodeFamilyId,
  decodeInfoVersion,
  decodeService,
  encodeCommand,
  getDaemonsPayload,
  getDestsPayload,
  getFamilyPayload,
  getInfoPayload,
  getServicesPayload,
  serviceAf,
  startDaemonPayload,
  stopDaemonPayload,
} from './codec.js';
import { errnoName, ipvsadmMessage, type IpvsadmOp } from './errors.js';
import { GenlClient, openGenericTransport, type GenlClientOptions, type NetlinkTransport } from './socket.js';

export interface NetlinkDriverOptions extends GenlClientOptions {
  readonly onLog?: (level: IpvsLogLevel, msg: string) => void;
}

/** Why the IPVS family cannot be used: no netlink socket, or no IPVS family in this kernel/namespace. */
export class NetlinkUnavailable extends Error {
  constructor(
    message: string,
    readonly errno?: number,
  ) {
    super(message);
    this.name = 'NetlinkUnavailable';
  }
}

/** The ipvsadm command line that does what a sync-daemon request does (for logs and errors). */
export function syncDaemonCommandLine(op: 'start' | 'stop' | 'read', d: SyncDaemon | SyncDaemon['role']): string {
  if (op === 'read') return 'ipvsadm -L -n --daemon';
  if (typeof d === 'string') return `ipvsadm --stop-daemon ${d}`;
  const opt = [`--start-daemon ${d.role}`, `--mcast-interface ${d.ifname}`, `--syncid ${d.syncid}`];
  if (d.maxlen !== undefined) opt.push(`--sync-maxlen ${d.maxlen}`);
  if (d.group !== undefined) opt.push(`--mcast-group ${d.group}`);
  if (d.port !== undefined) opt.push(`--mcast-port ${d.port}`);
  if (d.ttl !== undefined) opt.push(`--mcast-ttl ${d.ttl}`);
  return `ipvsadm ${opt.join(' ')}`;
}

/** A refused netlink request, with ipvsadm's message (LDIR_ERR_IPVSADM, as an ipvsadm run's failure) and the errno. */
export class NetlinkRefused extends LdirError {
  constructor(
    readonly commandLine: string,
    readonly errno: number,
    readonly ipvsadmMessage: string,
  ) {
    super('LDIR_ERR_IPVSADM', `${commandLine}: ${ipvsadmMessage}`);
    this.name = 'NetlinkRefused';
  }
}

/** Resolves the IPVS family id over a transport; throws NetlinkUnavailable when it does not resolve. */
export async function resolveIpvsFamily(client: GenlClient): Promise<number> {
  const a = await client.request(GENL_ID_CTRL, getFamilyPayload(IPVS_GENL_NAME));
  if (a.errno !== 0) throw new NetlinkUnavailable(`generic netlink family ${IPVS_GENL_NAME} not found (${errnoName(a.errno)})`, a.errno);
  const id = a.parts.length ? decodeFamilyId(a.parts[0].payload) : undefined;
  if (id === undefined) throw new NetlinkUnavailable(`generic netlink family ${IPVS_GENL_NAME}: no family id in the answer`);
  return id;
}

export class NetlinkDriver implements IpvsDriver {
  readonly kind = 'netlink';
  private readonly log: (level: IpvsLogLevel, msg: string) => void;

  constructor(
    private readonly client: GenlClient,
    /** The IPVS family's id (resolveIpvsFamily). */
    readonly family: number,
    opts: NetlinkDriverOptions = {},
  ) {
    this.log = opts.onLog ?? (() => {});
  }

  /** Opens a socket, resolves the family; throws NetlinkUnavailable (socket closed again) when it cannot. */
  static async open(opts: NetlinkDriverOptions & { transport?: NetlinkTransport } = {}): Promise<NetlinkDriver> {
    let t: NetlinkTransport;
    try {
      t = opts.transport ?? (await openGenericTransport());
    } catch (e) {
      throw new NetlinkUnavailable(`cannot open a netlink socket: ${e instanceof Error ? e.message : String(e)}`);
    }
    const client = new GenlClient(t, opts);
    try {
      return new NetlinkDriver(client, await resolveIpvsFamily(client), opts);
    } catch (e) {
      client.close();
      throw e;
    }
  }

  /** The kernel's sync daemons of this network namespace (NEW_DAEMON, DEL_DAEMON, GET_DAEMON). */
  readonly syncDaemons: IpvsSyncDaemons = {
    read: () => this.readDaemons(),
    start: (d) => this.daemonRequest('start-daemon', syncDaemonCommandLine('start', d), () => startDaemonPayload(d)),
    stop: (role) => this.daemonRequest('stop-daemon', syncDaemonCommandLine('stop', role), () => stopDaemonPayload(role)),
  };

  private async daemonRequest(op: IpvsadmOp, commandLine: string, payload: () => Buffer): Promise<void> {
    let p: Buffer;
    try {
      p = payload();
    } catch (e) {
      // a setting the kernel would refuse: refused here, as ipvsadm refuses a bad option
      const msg = e instanceof Error ? e.message : String(e);
      this.log('error', `${commandLine}: ${msg}`);
      throw new LdirError('LDIR_ERR_IPVSADM', `${commandLine}: ${msg}`, { cause: e });
    }
    const errno = (await this.client.request(this.family, p)).errno;
    if (errno === 0) {
      this.log('debug', `netlink: ${commandLine}: done`);
      return;
    }
    const err = new NetlinkRefused(commandLine, errno, ipvsadmMessage(op, errno));
    this.log('debug', `netlink: ${err.message} (${errnoName(errno)})`);
    throw err;
  }

  private async readDaemons(): Promise<SyncDaemon[]> {
    const a = await this.client.dump(this.family, getDaemonsPayload());
    if (a.errno !== 0) throw new NetlinkRefused(syncDaemonCommandLine('read', 'master'), a.errno, ipvsadmMessage('read-daemons', a.errno));
    return a.parts.map((p) => decodeDaemon(p.payload));
  }

  /** Requests and datagrams sent so far (there is no process to count). */
  get requests(): number {
    return this.client.requests;
  }
  get datagrams(): number {
    return this.client.datagrams;
  }

  /** The kernel's IPVS version (GET_INFO), e.g. `1.2.1`. */
  async version(): Promise<string | undefined> {
    const a = await this.client.request(this.family, getInfoPayload());
    return a.errno === 0 && a.parts.length ? decodeInfoVersion(a.parts[0].payload) : undefined;
  }

  private commandLine(c: IpvsCommand): string {
    return `ipvsadm ${renderRestoreLine(c)}`;
  }

  /** Dumps the table: every service, then each service's destinations. */
  async read(): Promise<IpvsTable> {
    const fail = (what: string, errno: number) => new LdirError('LDIR_ERR_IPVSADM', `netlink ${what} failed: ${errnoName(errno)}`);
    const svcs = await this.client.dump(this.family, getServicesPayload());
    if (svcs.errno !== 0) throw fail('GET_SERVICE dump', svcs.errno);
    const services: { service: IpvsService; dests: ReturnType<typeof decodeDest>[] }[] = [];
    for (const part of svcs.parts) {
      let service: IpvsService;
      try {
        service = decodeService(part.payload);
      } catch (e) {
        // a service ldirectord cannot name (SCTP): ipvsadm would list it; the planner never touches it
        this.log('debug', `netlink: service skipped: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      const d = await this.client.dump(this.family, getDestsPayload(service));
      if (d.errno !== 0) throw fail(`GET_DEST dump of ${service.proto} ${service.vaddr}`, d.errno);
      const af = serviceAf(service);
      services.push({ service, dests: d.parts.map((p) => decodeDest(p.payload, af)) });
    }
    return { services };
  }

  async tryRead(): Promise<{ table?: IpvsTable; error?: string }> {
    try {
      return { table: await this.read() };
    } catch (e) {
      return { error: e instanceof Error ? e.message : String(e) };
    }
  }

  /** Sends alone; the errno (0 = done). */
  private async single(c: IpvsCommand): Promise<number> {
    const { payload } = encodeCommand(c);
    return (await this.client.request(this.family, payload)).errno;
  }

  async apply(commands: readonly IpvsCommand[]): Promise<readonly IpvsCommandResult[]> {
    if (commands.length === 0) return [];
    // Encode first: a command that cannot be encoded is refused here, as ipvsadm refuses a bad line.
    const encoded: (Buffer | CodecError)[] = commands.map((c) => {
      try {
        return encodeCommand(c).payload;
      } catch (e) {
        return e instanceof CodecError ? e : new CodecError(String(e));
      }
    });
    const payloads = encoded.filter((e): e is Buffer => Buffer.isBuffer(e));
    const sent = await this.client.batch(this.family, payloads);
    const errnos: (number | CodecError)[] = [];
    let k = 0;
    for (const e of encoded) errnos.push(Buffer.isBuffer(e) ? sent[k++] : e);
    const refused = errnos.filter((e) => e !== 0).length;
    this.log('debug', `netlink: ${commands.length} command(s) in ${Math.ceil(payloads.length / this.client.window)} datagram(s), ${refused} refused`);

    const r = await this.tryRead();
    if (!r.table) this.log('warn', `netlink: cannot read the table back (${r.error}); trusting the kernel's answers`);
    const index = r.table ? new TableIndex(r.table) : undefined;
    const results: IpvsCommandResult[] = [];
    for (let i = 0; i < commands.length; i++) {
      const command = commands[i];
      const commandLine = this.commandLine(command);
      const first = errnos[i];
      if (first instanceof CodecError) {
        this.log('error', `${commandLine}: ${first.message}`);
        results.push({ command, ok: false, error: first.message, commandLine });
        continue;
      }
      if (index ? commandEffective(index, command) : first === 0) {
        results.push({ command, ok: true, commandLine });
        continue;
      }
      if (first !== 0) this.log('debug', `${commandLine}: ${ipvsadmMessage(command.op, first)} (${errnoName(first)}); sending it alone`);
      const errno = await this.single(command);
      if (errno === 0) {
        results.push({ command, ok: true, commandLine });
        continue;
      }
      const error = ipvsadmMessage(command.op, errno);
      this.log('error', `${commandLine}: ${error}`);
      results.push({ command, ok: false, error, commandLine });
    }
    return results;
  }

  /** read → plan → apply; never throws. */
  async sync(desired: DesiredTable): Promise<{ commands: IpvsCommandResult[]; error?: string }> {
    const r = await this.tryRead();
    if (!r.table) {
      this.log('error', `cannot read the IPVS table: ${r.error}`);
      return { commands: [], error: r.error };
    }
    return { commands: [...(await this.apply(planChanges(r.table, desired)))] };
  }

  close(): void {
    this.client.close();
  }
}
