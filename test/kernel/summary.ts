/** The kernel suite's closing lines: boot time, sequences and commands compared, scenarios compared. */
export interface KernelSummary {
  bootSeconds?: number;
  vmSeconds?: number;
  sequences?: number;
  commands?: number;
  commandsEqual?: number;
  scenarios?: number;
  scenariosEqual?: number;
  source?: string;
}

/** recordSummary prints the summary of one kernel test file (called from its afterAll). */
export function recordSummary(s: KernelSummary): void {
  const parts: string[] = [];
  parts.push(s.bootSeconds !== undefined ? `boot to payload ${s.bootSeconds.toFixed(1)} s (whole VM run ${s.vmSeconds?.toFixed(1)} s)` : 'no VM boot (real answers from the golden file)');
  if (s.sequences !== undefined) parts.push(`${s.sequences} command sequences, ${s.commands} commands, ${s.commandsEqual} of them equal against ${s.source}`);
  if (s.scenarios !== undefined) parts.push(`${s.scenarios} daemon scenarios compared (${s.scenariosEqual} equal)`);
  console.log(`\n=== kernel suite: ${parts.join('; ')} ===\n`);
}
