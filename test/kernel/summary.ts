/** The kernel suite's closing lines: boot time, sequences and commands compared, scenarios and checkpoints compared. */
export interface KernelSummary {
  bootSeconds?: number;
  vmSeconds?: number;
  sequences?: number;
  commands?: number;
  commandsEqual?: number;
  scenarios?: number;
  /** Scenarios whose every test passed. */
  scenariosEqual?: number;
  /** Checkpoints reached on both sides. */
  checkpoints?: number;
  /** Of them, equal real vs fake (and each side the expected table). */
  checkpointsEqual?: number;
  /** Of them, differing real vs fake exactly as the scenario declares. */
  checkpointsDiffering?: number;
  source?: string;
}

/** recordSummary prints the summary of one kernel test file (called from its afterAll). */
export function recordSummary(s: KernelSummary): void {
  const parts: string[] = [];
  parts.push(s.bootSeconds !== undefined ? `boot to payload ${s.bootSeconds.toFixed(1)} s (whole VM run ${s.vmSeconds?.toFixed(1)} s)` : 'no VM boot (real answers from the golden file)');
  if (s.sequences !== undefined) parts.push(`${s.sequences} command sequences, ${s.commands} commands, ${s.commandsEqual} of them equal against ${s.source}`);
  if (s.scenarios !== undefined) {
    let p = `${s.scenarios} daemon scenarios (${s.scenariosEqual} passed)`;
    if (s.checkpoints !== undefined)
      p += `, ${s.checkpoints} checkpoints compared real vs fake: ${s.checkpointsEqual} equal, ${s.checkpointsDiffering ?? 0} differing as declared`;
    parts.push(p);
  }
  console.log(`\n=== kernel suite: ${parts.join('; ')} ===\n`);
}
