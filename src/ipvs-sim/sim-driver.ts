/**
 * SimDriver: an IpvsDriver on the in-memory kernel model (src/ipvs-sim), no processes. Each command goes
 * through the same ipvsadm command line the real driver would send, so refusals and the kernel's port
 * rewriting are those of ipvsadm. Used by the demo and by the engine's tests.
 */
import { emptyState, formatList, formatSave, runIpvsadm, toIpvsTable } from './index.js';
import type { SimRunResult, SimState } from './index.js';
import { planChanges } from '../ipvs/plan.js';
import { renderArgs, renderCommandLine } from '../ipvs/render.js';
import { parseSyncDaemons, syncDaemonStartArgs, syncDaemonStopArgs } from '../ipvs/sync.js';
import type { DesiredTable, IpvsCommand, IpvsCommandResult, IpvsDriver, IpvsSyncDaemons, IpvsTable } from '../ipvs/types.js';
import { IpvsadmError } from '../util/errors.js';

export interface SimDriverOptions {
  /** Start from this kernel state (it is changed in place). */
  readonly state?: SimState;
  /** Preload the table with `ipvsadm -R` input (e.g. an `ipvsadm -S -n` dump). */
  readonly restore?: string;
  /** Schedulers the simulated kernel knows (default KNOWN_SCHEDULERS). */
  readonly schedulers?: readonly string[];
  /** Refuse (as the kernel would, with `Operation not permitted`) commands whose line matches. */
  readonly failMatch?: RegExp;
}

export class SimDriver implements IpvsDriver {
  /** The simulated kernel table. */
  readonly state: SimState;
  /** Every command applied, in order, with its outcome. */
  readonly history: IpvsCommandResult[] = [];
  private readonly schedulers?: readonly string[];
  private readonly failMatch?: RegExp;

  /** The sync daemons through the same command line (`--start-daemon`, `--stop-daemon`, `-L -n --daemon`). */
  readonly syncDaemons: IpvsSyncDaemons = {
    read: async () => {
      const r = this.runChecked(['-L', '-n', '--daemon']);
      return parseSyncDaemons(r.stdout);
    },
    start: async (d) => {
      this.runChecked(syncDaemonStartArgs(d));
    },
    stop: async (role) => {
      this.runChecked(syncDaemonStopArgs(role));
    },
  };

  constructor(opts: SimDriverOptions = {}) {
    this.state = opts.state ?? emptyState();
    this.schedulers = opts.schedulers;
    this.failMatch = opts.failMatch;
    if (opts.restore !== undefined) {
      const r = this.run(['-R'], opts.restore);
      if (r.exitCode !== 0 || r.stderr !== '') throw new IpvsadmError(['-R'], r.exitCode, r.stderr, `SimDriver restore failed: ${r.stderr.trim()}`);
    }
  }

  /** Runs one ipvsadm command line (argv without the program) against the simulated kernel. */
  run(args: readonly string[], stdin?: string): SimRunResult {
    return runIpvsadm(this.state, args, { stdin, ...(this.schedulers ? { schedulers: this.schedulers } : {}) });
  }

  /** run(), with a refusal (or an injected failMatch) thrown as the IpvsadmError ipvsadm's message reads. */
  private runChecked(args: readonly string[]): SimRunResult {
    if (this.failMatch && this.failMatch.test(`ipvsadm ${args.join(' ')}`)) throw new IpvsadmError(args, 255, 'Operation not permitted\n', 'Operation not permitted');
    const r = this.run(args);
    if (r.exitCode !== 0) throw new IpvsadmError(args, r.exitCode, r.stderr, r.stderr.trim() || `exit status ${r.exitCode}`);
    return r;
  }

  async read(): Promise<IpvsTable> {
    return toIpvsTable(this.state);
  }

  async apply(commands: readonly IpvsCommand[]): Promise<readonly IpvsCommandResult[]> {
    const results: IpvsCommandResult[] = [];
    for (const command of commands) {
      const commandLine = renderCommandLine(command);
      let result: IpvsCommandResult;
      if (this.failMatch && this.failMatch.test(commandLine)) {
        result = { command, ok: false, error: 'Operation not permitted', commandLine };
      } else {
        const r = this.run(renderArgs(command));
        result =
          r.exitCode === 0
            ? { command, ok: true, commandLine }
            : { command, ok: false, error: r.stderr.trim() || `exit status ${r.exitCode}`, commandLine };
      }
      results.push(result);
      this.history.push(result);
    }
    return results;
  }

  /** read → plan → apply; no processes. */
  async sync(desired: DesiredTable): Promise<{ commands: IpvsCommandResult[]; processes: number }> {
    const commands = planChanges(await this.read(), desired);
    return { commands: [...(await this.apply(commands))], processes: 0 };
  }

  /** The table exactly as `ipvsadm -L -n` prints it. */
  render(): string {
    return formatList(this.state, { numeric: true });
  }

  /** The table as `ipvsadm -L -n --thresholds` prints it. */
  renderThresholds(): string {
    return formatList(this.state, { numeric: true, thresholds: true });
  }

  /** The table as `ipvsadm -S -n` prints it. */
  save(): string {
    return formatSave(this.state);
  }
}
