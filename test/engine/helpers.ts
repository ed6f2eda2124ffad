import { parseConfigText } from '../../src/config/parse.js';
import { hostsFileResolver } from '../../src/config/resolver.js';
import type { Config } from '../../src/model/config.js';
import { Engine, type EngineOutput } from '../../src/engine/engine.js';
import type { EngineEvent, EngineInit } from '../../src/engine/types.js';
import { SimDriver } from '../../src/ipvs-sim/sim-driver.js';
import { planChanges } from '../../src/ipvs/plan.js';
import type { CheckResult } from '../../src/checks/types.js';
import { ManualClock } from '../../src/util/clock.js';

export const resolver = hostsFileResolver('127.0.0.1 localhost\n10.0.0.9 web9.example.com\n', ['http 80/tcp www', 'https 443/tcp'].join('\n'));

/** Parses an ldirectord.cf text (offline, no file checks). */
export function cfg(text: string): Promise<Config> {
  return parseConfigText(text.replace(/^\n/, ''), 'test.cf', { resolver, hostname: 'lb1', checkFiles: false });
}

export const UP: CheckResult = { ok: true, status: 'ok', message: 'ok', durationMs: 1 };
export const DOWN: CheckResult = { ok: false, status: 'l4-refused', message: 'refused', durationMs: 1 };
export const MAINT: CheckResult = { ok: false, status: 'maintenance', message: 'Server in maintenance', durationMs: 0 };

/** A scenario: the engine over a simulated kernel table, applying every output through the planner. */
export class Scenario {
  readonly clock = new ManualClock(1_000_000);
  readonly engine = new Engine({ clock: this.clock, hostname: 'lb1' });
  readonly sim: SimDriver;
  events: EngineEvent[] = [];
  constructor(restore?: string) {
    this.sim = new SimDriver(restore !== undefined ? { restore } : {});
  }
  private async apply(o: EngineOutput): Promise<string[]> {
    const cmds = planChanges(await this.sim.read(), this.engine.desired());
    const res = await this.sim.apply(cmds);
    for (const r of res) if (!r.ok) throw new Error(`refused: ${r.commandLine}: ${r.error}`);
    this.events = [...o.events];
    return messages(o.events);
  }
  async start(c: Config): Promise<string[]> {
    return this.apply(this.engine.start(c, await this.sim.read()));
  }
  /** A start with what the state file carries over (admin entries, saved health, unfinished ramps). */
  async startWith(c: Config, init: EngineInit): Promise<string[]> {
    return this.apply(this.engine.start(c, await this.sim.read(), init));
  }
  async reload(c: Config): Promise<string[]> {
    return this.apply(this.engine.reload(c, await this.sim.read()));
  }
  async stop(): Promise<string[]> {
    return this.apply(this.engine.stop());
  }
  /** Feeds a result for every job whose real ip:port (as configured) matches. */
  async check(results: Record<string, CheckResult>): Promise<string[]> {
    const out: string[] = [];
    this.clock.advance(1000);
    for (const job of this.engine.jobs()) {
      const id = `${job.real.family === 6 ? `[${job.real.ip}]` : job.real.ip}:${job.real.port}`;
      const r = results[id] ?? results[job.real.ip];
      if (!r) continue;
      out.push(...(await this.apply(this.engine.result(job.key, r))));
    }
    return out;
  }
  /** The simulated kernel's `ipvsadm -S -n` text. */
  save(): string {
    return this.sim.save();
  }
}

export function messages(events: readonly EngineEvent[]): string[] {
  return events.map((e) =>
    e.type === 'fallback-command' ? `RUN ${e.command} ${e.args.join(' ')}` : e.type === 'monitor' ? `MONITOR ${e.line}` : e.message,
  );
}
