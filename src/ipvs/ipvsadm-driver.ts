/**
 * IpvsadmDriver: the IpvsDriver on the real ipvsadm. One cycle costs two processes when all goes well:
 * one read and one `ipvsadm -R` that writes every change and, in the same process, lists the table
 * back (`-L -n` and `-L -n --thresholds` are valid `-R` lines). Because `-R` prints a kernel refusal
 * and goes on (exit 0) and aborts at an unparsable line, the driver trusts the table it reads back, not
 * the exit status: a command whose effect is missing is re-run alone, so that the failing one is
 * isolated and reported with its command line and ipvsadm's message. Nothing here throws at the caller
 * of apply() or sync(); read() rejects with an IpvsadmError when the table cannot be read.
 */
import { IpvsadmError, LdirError } from '../util/errors.js';
import { processRunner } from '../util/process.js';
import type { ProcessResult, ProcessRunner } from '../util/process.js';
import { parseListing } from './parse.js';
import { canonicalAddrPort, kernelDestOf, planChanges, serviceKey, serviceParamsEqual } from './plan.js';
import { renderArgs, renderRestoreLine } from './render.js';
import { parseSyncDaemons, syncDaemonStartArgs, syncDaemonStopArgs } from './sync.js';
import type { DesiredTable, IpvsCommand, IpvsCommandResult, IpvsDest, IpvsDriver, IpvsProto, IpvsSyncDaemons, IpvsTable } from './types.js';

export type IpvsLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface IpvsadmDriverOptions {
  /** The ipvsadm program (see locateIpvsadm). */
  readonly path: string;
  readonly runner?: ProcessRunner;
  /** Kill an ipvsadm that runs longer than this (default 10 s). */
  readonly timeoutMs?: number;
  readonly onLog?: (level: IpvsLogLevel, msg: string) => void;
  /**
   * How read() lists the table: `restore` (default) = one `ipvsadm -R` process running `-L -n` and
   * `-L -n --thresholds`; `list` = two processes. `restore` falls back to `list` by itself if the
   * combined output is not two listings.
   */
  readonly readMode?: 'restore' | 'list';
}

/** The outcome of sync(): what was done and how many ipvsadm processes it took. */
export interface IpvsSyncResult {
  readonly commands: IpvsCommandResult[];
  readonly processes: number;
  /** Set when the table could not be read (nothing was written then). */
  readonly error?: string;
}

const READ_LINES = '-L -n\n-L -n --thresholds\n';
const LIST_HEADER = 'IP Virtual Server version ';

function describeFailure(r: ProcessResult, timeoutMs: number): string {
  if (r.spawnError) return `cannot run: ${r.spawnError}`;
  if (r.timedOut) return `no answer within ${timeoutMs} ms (killed)`;
  const msg = r.stderr.trim();
  return msg !== '' ? msg : `exit status ${r.exitCode ?? r.signal}`;
}

/** Splits the stdout of the read lines into the two listings, or null when it is not that. */
function splitListings(stdout: string): [string, string] | null {
  const first = stdout.indexOf(LIST_HEADER);
  if (first < 0) return null;
  const second = stdout.indexOf(`\n${LIST_HEADER}`, first);
  if (second < 0) return null;
  if (stdout.indexOf(`\n${LIST_HEADER}`, second + 1) >= 0) return null;
  return [stdout.slice(first, second + 1), stdout.slice(second + 1)];
}

/** An index of a table by service key and destination, for checking many commands. */
export class TableIndex {
  private readonly services = new Map<string, { service: IpvsTable['services'][number]['service']; dests: Map<string, IpvsDest> }>();
  constructor(table: IpvsTable) {
    for (const e of table.services) {
      const dests = new Map<string, IpvsDest>();
      for (const d of e.dests) dests.set(canonicalAddrPort(d.rs), d);
      this.services.set(serviceKey(e.service.proto, e.service.vaddr, e.service.ipv6Fwm), { service: e.service, dests });
    }
  }
  service(proto: IpvsProto, vaddr: string, ipv6Fwm?: boolean) {
    return this.services.get(serviceKey(proto, vaddr, ipv6Fwm));
  }
}

/** Whether the effect of a command is visible in the table. */
export function commandEffective(table: IpvsTable | TableIndex, c: IpvsCommand): boolean {
  const index = table instanceof TableIndex ? table : new TableIndex(table);
  switch (c.op) {
    case 'add-service':
    case 'edit-service': {
      const e = index.service(c.service.proto, c.service.vaddr, c.service.ipv6Fwm);
      return Boolean(e && serviceParamsEqual(e.service, c.service));
    }
    case 'delete-service':
      return !index.service(c.proto, c.vaddr, c.ipv6Fwm);
    case 'add-dest':
    case 'edit-dest': {
      const e = index.service(c.proto, c.vaddr, c.ipv6Fwm);
      if (!e) return false;
      const want = kernelDestOf(c.proto, c.vaddr, c.dest);
      const d = e.dests.get(canonicalAddrPort(want.rs));
      return Boolean(
        d &&
          d.forward === want.forward &&
          d.weight === want.weight &&
          d.upperThreshold === want.upperThreshold &&
          d.lowerThreshold === want.lowerThreshold,
      );
    }
    case 'delete-dest': {
      const e = index.service(c.proto, c.vaddr, c.ipv6Fwm);
      return !e || !e.dests.has(canonicalAddrPort(c.rs));
    }
  }
}

export class IpvsadmDriver implements IpvsDriver {
  /** ipvsadm processes started so far. */
  processCount = 0;
  readonly path: string;
  private readonly runner: ProcessRunner;
  private readonly timeoutMs: number;
  private readonly log: (level: IpvsLogLevel, msg: string) => void;
  private readonly readMode: 'restore' | 'list';
  /** The listing of the last batch, when it showed every command's effect (appliedTable()). */
  private applied?: IpvsTable;

  /**
   * The sync daemons: `-L -n --daemon`, `--start-daemon ...`, `--stop-daemon ROLE`, one process each. A
   * refusal rejects with an IpvsadmError whose message is ipvsadm's (`Daemon has already run`).
   */
  readonly syncDaemons: IpvsSyncDaemons = {
    read: async () => {
      const args = ['-L', '-n', '--daemon'];
      const r = await this.runChecked(args);
      try {
        return parseSyncDaemons(r.stdout);
      } catch (e) {
        throw new IpvsadmError(args, r.exitCode, r.stderr, `${this.path} ${args.join(' ')}: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
    start: async (d) => {
      await this.runChecked(syncDaemonStartArgs(d));
    },
    stop: async (role) => {
      await this.runChecked(syncDaemonStopArgs(role));
    },
  };

  constructor(opts: IpvsadmDriverOptions) {
    if (!opts || typeof opts.path !== 'string' || opts.path === '') throw new LdirError('LDIR_ERR_IPVSADM_NOT_FOUND', 'IpvsadmDriver: path is required');
    this.path = opts.path;
    this.runner = opts.runner ?? processRunner;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.log = opts.onLog ?? (() => {});
    this.readMode = opts.readMode ?? 'restore';
  }

  private async run(args: readonly string[], input?: string): Promise<ProcessResult> {
    this.processCount++;
    return this.runner(this.path, args, { timeoutMs: this.timeoutMs, ...(input !== undefined ? { input } : {}) });
  }

  /** One ipvsadm process that must exit 0; rejects with an IpvsadmError carrying ipvsadm's message. */
  private async runChecked(args: readonly string[]): Promise<ProcessResult> {
    const r = await this.run(args);
    if (r.spawnError || r.timedOut || r.exitCode !== 0) throw new IpvsadmError(args, r.exitCode, r.stderr, describeFailure(r, this.timeoutMs));
    return r;
  }

  private commandLine(c: IpvsCommand): string {
    return `${this.path} ${renderRestoreLine(c)}`;
  }

  /** Lists the table; rejects with IpvsadmError when ipvsadm fails or prints something else. */
  async read(): Promise<IpvsTable> {
    if (this.readMode === 'restore') {
      const r = await this.run(['-R'], READ_LINES);
      if (r.spawnError || r.timedOut) throw new IpvsadmError(['-R'], r.exitCode, r.stderr, `ipvsadm -R (list): ${describeFailure(r, this.timeoutMs)}`);
      const parts = r.exitCode === 0 ? splitListings(r.stdout) : null;
      if (parts) return this.parse(parts[0], parts[1], ['-R']);
      this.log('debug', 'ipvsadm -R did not list the table; listing with -L -n');
    }
    const list = await this.run(['-L', '-n']);
    if (list.spawnError || list.timedOut || list.exitCode !== 0)
      throw new IpvsadmError(['-L', '-n'], list.exitCode, list.stderr, `ipvsadm -L -n: ${describeFailure(list, this.timeoutMs)}`);
    const thr = await this.run(['-L', '-n', '--thresholds']);
    if (thr.spawnError || thr.timedOut || thr.exitCode !== 0)
      throw new IpvsadmError(['-L', '-n', '--thresholds'], thr.exitCode, thr.stderr, `ipvsadm -L -n --thresholds: ${describeFailure(thr, this.timeoutMs)}`);
    return this.parse(list.stdout, thr.stdout, ['-L', '-n']);
  }

  private parse(list: string, thresholds: string, args: readonly string[]): IpvsTable {
    try {
      return parseListing(list, thresholds);
    } catch (e) {
      throw new IpvsadmError(args, 0, '', e instanceof Error ? e.message : String(e));
    }
  }

  /** read() without the rejection. */
  async tryRead(): Promise<{ table?: IpvsTable; error?: string }> {
    try {
      return { table: await this.read() };
    } catch (e) {
      return { error: e instanceof Error ? e.message : String(e) };
    }
  }

  /**
   * Writes all commands in one `ipvsadm -R` (which also lists the table back), then re-runs alone,
   * one by one, the commands whose effect the table does not show, to report each failure.
   */
  async apply(commands: readonly IpvsCommand[]): Promise<readonly IpvsCommandResult[]> {
    this.applied = undefined;
    if (commands.length === 0) return [];
    const input = commands.map((c) => renderRestoreLine(c) + '\n').join('') + READ_LINES;
    const batch = await this.run(['-R'], input);
    this.log('debug', `${this.path} -R: ${commands.length} command(s)`);
    if (batch.spawnError) {
      const error = `cannot run ${this.path}: ${batch.spawnError}`;
      this.log('error', error);
      return commands.map((command) => ({ command, ok: false, error, commandLine: this.commandLine(command) }));
    }
    if (batch.stderr.trim() !== '') this.log('debug', `${this.path} -R said: ${batch.stderr.trim()}`);
    if (batch.timedOut) this.log('warn', `${this.path} -R: ${describeFailure(batch, this.timeoutMs)}`);

    let table: IpvsTable | undefined;
    const parts = !batch.timedOut && batch.exitCode === 0 ? splitListings(batch.stdout) : null;
    if (parts) {
      try {
        table = parseListing(parts[0], parts[1]);
      } catch (e) {
        this.log('warn', `${this.path} -R: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (!table) {
      const r = await this.tryRead();
      table = r.table;
      if (!table) {
        const error = `cannot check the batch: ${r.error}`;
        this.log('error', error);
        return commands.map((command) => ({ command, ok: false, error, commandLine: this.commandLine(command) }));
      }
    }

    const index = new TableIndex(table);
    const results: IpvsCommandResult[] = [];
    let alone = 0;
    for (const command of commands) {
      const commandLine = this.commandLine(command);
      if (commandEffective(index, command)) {
        results.push({ command, ok: true, commandLine });
        continue;
      }
      alone++;
      const single = await this.run(renderArgs(command));
      if (!single.spawnError && !single.timedOut && single.exitCode === 0) {
        results.push({ command, ok: true, commandLine });
        continue;
      }
      const error = describeFailure(single, this.timeoutMs);
      this.log('error', `${commandLine}: ${error}`);
      results.push({ command, ok: false, error, commandLine });
    }
    // A command re-run alone changed the table after that listing: it is no longer the table.
    if (alone === 0) this.applied = table;
    return results;
  }

  appliedTable(): IpvsTable | undefined {
    return this.applied;
  }

  /** read → plan → apply; never throws. `processes` counts the ipvsadm processes of this call. */
  async sync(desired: DesiredTable): Promise<IpvsSyncResult> {
    const before = this.processCount;
    const r = await this.tryRead();
    if (!r.table) {
      this.log('error', `cannot read the IPVS table: ${r.error}`);
      return { commands: [], processes: this.processCount - before, error: r.error };
    }
    const commands = [...(await this.apply(planChanges(r.table, desired)))];
    return { commands, processes: this.processCount - before };
  }
}
