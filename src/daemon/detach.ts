/**
 * Detaching. Node cannot fork, so `start` re-spawns this program detached (its own session, like
 * setsid; stdio on /dev/null; same argv so /proc/<pid>/cmdline reads as the original's) and waits on a
 * pipe until the child has read its config and written the pid file, or has failed. Unlike the
 * original, whose parent exits before the pid file has content, `start` returns when the daemon is there.
 */
import { spawn } from 'node:child_process';
import { writeSync, closeSync } from 'node:fs';

/** The child's answer on the readiness pipe. */
export interface Readiness {
  readonly ok: boolean;
  readonly pid?: number;
  /** Exit status the parent should end with when not ok. */
  readonly code?: number;
  readonly message?: string;
}

function report(r: Readiness): void {
  const fd = Number(process.env.LDIRECTORD_READY_FD);
  if (!Number.isInteger(fd) || fd < 3) return;
  delete process.env.LDIRECTORD_READY_FD;
  try {
    writeSync(fd, JSON.stringify(r) + '\n');
    closeSync(fd);
  } catch {
    /* parent gone */
  }
}

/** Called by the daemon child once its pid file is written. */
export function reportReady(pid: number): void {
  report({ ok: true, pid });
}

/** Called by the daemon child when it cannot start. */
export function reportNotReady(code: number, message: string): void {
  report({ ok: false, code, message });
}

/**
 * DAEMON_NODE_FLAGS: the V8 heap flags the daemon runs with, in one place: bin/ldirectord.js's #! line
 * spells the same (test/daemon/node-flags.test.ts holds them equal) and the detached child gets them.
 * --optimize-for-size: V8 grows the heap far less eagerly (1 MB semi-spaces; node's default grows them to
 * 16 MB): a daemon checking 10 000 reals stays near 90 MB RSS instead of 170-190 MB (bench/checks.mjs, rss).
 * It costs CPU per check: `--max-semi-space-size=1|2 --heap-growing-percent=20` are the measured
 * alternatives. The locked runs of both goals (bench/dev/flags.mjs; bench/README.md, "Latest run") found
 * no set that meets every goal: these start 10 000 reals faster but peak above 100 MB, so the default
 * stays --optimize-for-size, and an admin who prefers CPU gives node the other flags.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--optimize-for-size'];

/** Flags that size or tune V8's heap: the parent's own choice when it has one of them. */
const HEAP_FLAG = /^--(optimize-for-size|max-semi-space-size|min-semi-space-size|semi-space-growth-factor|heap-growing-percent|max-old-space-size|max-heap-size|initial-heap-size|initial-old-space-size)(=|$)/;

/**
 * The node flags of the daemon child: the parent's; the parent started through bin/ldirectord.js's #!
 * line already has DAEMON_NODE_FLAGS; `node bin/ldirectord.js start` has none of the heap flags and the
 * child gets DAEMON_NODE_FLAGS added; an admin's own heap flags (`node --max-semi-space-size=4 ...`) are
 * kept as given, with none of ours added on top to override them.
 */
export function daemonNodeFlags(execArgv: readonly string[]): string[] {
  return execArgv.some((a) => HEAP_FLAG.test(a.replace(/_/g, '-'))) ? [...execArgv] : [...execArgv, ...DAEMON_NODE_FLAGS];
}

/**
 * Spawns the daemon child (`node <self> <argv...>`, detached) and waits for its readiness report, its
 * exit, or the deadline.
 */
export function spawnDaemon(self: string, argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<Readiness> {
  return new Promise((resolvePromise) => {
    const env = { ...process.env, LDIRECTORD_DAEMON_CHILD: '1', LDIRECTORD_READY_FD: '3' };
    const child = spawn(process.execPath, [...daemonNodeFlags(process.execArgv), self, ...argv], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env,
    });
    let buf = '';
    let done = false;
    const finish = (r: Readiness) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const pipe = child.stdio[3] as NodeJS.ReadableStream & { destroy?: () => void };
      pipe?.destroy?.();
      child.unref();
      resolvePromise(r);
    };
    const timer = setTimeout(
      () => finish({ ok: false, code: 1, message: `ldirectord: the daemon (pid ${child.pid}) did not report it started` }),
      opts.timeoutMs ?? 60_000,
    );
    child.on('error', (e) => finish({ ok: false, code: 1, message: `ldirectord: cannot start the daemon: ${e.message}` }));
    const pipe = child.stdio[3] as NodeJS.ReadableStream | null;
    pipe?.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        try {
          finish(JSON.parse(buf.slice(0, nl)) as Readiness);
        } catch {
          finish({ ok: false, code: 1, message: 'ldirectord: bad readiness report from the daemon' });
        }
      }
    });
    pipe?.on('error', () => {});
    child.on('exit', (code, sig) => {
      // Let a report that is still in the pipe win over the exit.
      setTimeout(
        () =>
          finish({
            ok: false,
            code: code && code !== 0 ? code : 1,
            message: `ldirectord: the daemon exited during start (${sig ? `signal ${sig}` : `exit status ${code}`}); see its log`,
          }),
        50,
      );
    });
  });
}
