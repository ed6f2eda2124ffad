/**
 * Bounds for tests that wait on child processes, derived from what they wait on: how long this machine
 * takes right now to start one Node process (the daemon, each fake ipvsadm call, each CLI command). On an
 * idle machine that is ~50 ms; on a 2-core machine busy with other work it is seconds, and a fixed bound
 * that held on an idle machine fails there.
 */
import { spawn, spawnSync } from 'node:child_process';

/** nodeStartMs: the wall time of `node -e 0` measured now (the slower of two runs). */
export function nodeStartMs(): number {
  let worst = 0;
  for (let i = 0; i < 2; i++) {
    const t0 = Date.now();
    spawnSync(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    worst = Math.max(worst, Date.now() - t0);
  }
  return worst;
}

/**
 * processBudgetMs: a wait for work that starts `starts` Node processes and also needs `baseMs` of its
 * own (check intervals, timeouts): baseMs + starts x the current start time.
 */
export function processBudgetMs(starts: number, baseMs: number): number {
  return baseMs + starts * nodeStartMs();
}

/**
 * nodeStartMsAsync: nodeStartMs without blocking this process's event loop (a test that serves real
 * servers from its own process must go on answering them while it measures).
 */
export async function nodeStartMsAsync(): Promise<number> {
  let worst = 0;
  for (let i = 0; i < 2; i++) {
    const t0 = Date.now();
    await new Promise<void>((resolve) => {
      const c = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
      c.on('error', () => resolve());
      c.on('close', () => resolve());
    });
    worst = Math.max(worst, Date.now() - t0);
  }
  return worst;
}
