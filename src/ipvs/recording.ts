/**
 * RecordingDriver: an IpvsDriver that keeps the last table it read, so that the status page can show
 * connection counts without an ipvsadm process per HTTP request. The director reads the table (or
 * takes the one its last batch listed back) before every change, and every readbackinterval when that
 * is set; refresh() adds at most one read per `minAgeMs`, however many ask (one read in flight at a
 * time).
 */
import type { IpvsCommand, IpvsCommandResult, IpvsDriver, IpvsSyncDaemons, IpvsTable } from './types.js';

export interface TableReading {
  readonly table: IpvsTable;
  /** When the read ended (ms since the epoch). */
  readonly at: number;
}

export class RecordingDriver implements IpvsDriver {
  private lastRead?: TableReading;
  private inFlight?: Promise<void>;
  private lastAttempt = -Infinity;

  /** The inner driver's sync daemons, as they are. */
  readonly syncDaemons?: IpvsSyncDaemons;

  constructor(
    private readonly inner: IpvsDriver,
    private readonly now: () => number = Date.now,
  ) {
    if (inner.syncDaemons) this.syncDaemons = inner.syncDaemons;
  }

  async read(): Promise<IpvsTable> {
    const table = await this.inner.read();
    this.lastRead = { table, at: this.now() };
    return table;
  }

  /** The listing an apply() made in the same step (appliedTable()) is a table read too: it is kept as the last one. */
  async apply(commands: readonly IpvsCommand[]): Promise<readonly IpvsCommandResult[]> {
    const results = await this.inner.apply(commands);
    const table = this.inner.appliedTable?.();
    if (table) this.lastRead = { table, at: this.now() };
    return results;
  }

  appliedTable(): IpvsTable | undefined {
    return this.inner.appliedTable?.();
  }

  /** The last table read, if any. */
  last(): TableReading | undefined {
    return this.lastRead;
  }

  /**
   * Reads the table when the last read (or failed attempt) is older than minAgeMs and no read is
   * running; never rejects.
   */
  refresh(minAgeMs: number): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const now = this.now();
    if (now - Math.max(this.lastAttempt, this.lastRead?.at ?? -Infinity) < minAgeMs) return Promise.resolve();
    this.lastAttempt = now;
    this.inFlight = this.read()
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}
