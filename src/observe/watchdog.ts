/**
 * The daemon's watchdog on itself. LagMonitor measures how late a periodic timer fires (event-loop and
 * scheduler lag). Under systemd (Type=notify, WatchdogSec=), SystemdNotifier sends READY=1 once and
 * WATCHDOG=1 only while the daemon is healthy: the lag is under the limit and check cycles complete,
 * so a stuck daemon is restarted by systemd.
 */
import type { Clock } from '../util/clock.js';
import { systemClock } from '../util/clock.js';
import type { ProcessRunner } from '../util/process.js';
import { processRunner } from '../util/process.js';

/** LagMonitor: a timer every `intervalMs`; lag = how much later than planned it ran. */
export class LagMonitor {
  private timer?: NodeJS.Timeout;
  private expected = 0;
  /** Lag of the last tick, and the largest since the last reset, in ms. */
  lastLagMs = 0;
  maxLagMs = 0;
  constructor(private readonly intervalMs = 500, private readonly clock: Clock = systemClock) {}
  start(): void {
    this.expected = this.clock.now() + this.intervalMs;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }
  /** Records one tick (called by the timer; tests call it directly). */
  tick(): void {
    const now = this.clock.now();
    this.lastLagMs = Math.max(0, now - this.expected);
    this.maxLagMs = Math.max(this.maxLagMs, this.lastLagMs);
    this.expected = now + this.intervalMs;
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** Health as the watchdog judges it. */
export interface Liveness {
  /** Scheduler/event-loop lag in ms. */
  readonly lagMs: number;
  /** When the last check cycle completed (ms since epoch), undefined before the first. */
  readonly lastCycleAt?: number;
  /** Longest a cycle may take plus the check interval: later than this the checks are stuck. */
  readonly cycleDeadlineMs: number;
}

/** isAlive: the rule that decides whether WATCHDOG=1 is sent. */
export function isAlive(l: Liveness, now: number, maxLagMs: number, startedAt: number): boolean {
  if (l.lagMs > maxLagMs) return false;
  const since = l.lastCycleAt ?? startedAt;
  return now - since <= l.cycleDeadlineMs;
}

/** SystemdNotifier talks to systemd through `systemd-notify` (Node has no unix datagram sockets). */
export class SystemdNotifier {
  private timer?: NodeJS.Timeout;
  readonly enabled: boolean;
  /** WATCHDOG=1 messages sent and withheld, for tests and `show`. */
  readonly counters = { sent: 0, withheld: 0 };
  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly runner: ProcessRunner = processRunner,
  ) {
    this.enabled = Boolean(env.NOTIFY_SOCKET);
  }
  private async notify(...assignments: string[]): Promise<void> {
    if (!this.enabled) return;
    await this.runner('systemd-notify', [`--pid=${process.pid}`, ...assignments], { timeoutMs: 5000 });
  }
  ready(): Promise<void> {
    return this.notify('READY=1', `MAINPID=${process.pid}`);
  }
  stopping(): Promise<void> {
    return this.notify('STOPPING=1');
  }
  /** Watchdog period from WATCHDOG_USEC, halved as systemd recommends; undefined when not asked for. */
  periodMs(): number | undefined {
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!this.enabled || !Number.isFinite(usec) || usec <= 0) return undefined;
    return Math.max(100, Math.floor(usec / 2000));
  }
  /** Pings systemd every period while `alive()` says so. */
  start(alive: () => boolean): void {
    const period = this.periodMs();
    if (period === undefined) return;
    this.timer = setInterval(() => {
      if (alive()) {
        this.counters.sent++;
        void this.notify('WATCHDOG=1');
      } else this.counters.withheld++;
    }, period);
    this.timer.unref();
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
