/**
 * The one process runner: ipvsadm, external checks, fallbackcommand, callback and execute= all start
 * their programs here. A program runs without a shell, in its own process group; on its timeout (or
 * abort) the whole group is sent TERM, then KILL after a grace period, so a grandchild cannot outlive the
 * deadline. A grandchild that keeps the output pipe open after the program itself has exited does not
 * hold the caller either: once the program has exited, its pipes are read for a short moment more and
 * then closed on our side (the grandchild is left alone, as system() would leave it).
 */
import type { ResultPromise } from 'execa';

/** execa, loaded on the first child process (not at start: it is a large module graph). */
let execaLoad: Promise<typeof import('execa')> | undefined;

/** Between TERM and KILL to the process group on a timeout or abort. */
export const KILL_GRACE_MS = 1000;
/** How long the pipes are still read after the program exited (a grandchild may hold them open). */
export const DRAIN_MS = 200;

/** The outcome of a child process: a value, never a throw. */
export interface ProcessResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly durationMs: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the program could not be started at all (ENOENT, EACCES...). */
  readonly spawnError?: string;
  /** With spawnError: the system's own one-line message (`spawn /x ENOENT`). */
  readonly osError?: string;
}

export interface RunOptions {
  /** Text written to the child's stdin. */
  readonly input?: string;
  /** Kill the process group (TERM, then KILL after KILL_GRACE_MS) after this many milliseconds. */
  readonly timeoutMs?: number;
  /** Aborting kills the process group as a timeout does (the result says timedOut). */
  readonly signal?: AbortSignal;
  /** Added to (undefined: removed from) this process's environment. */
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  /** Cap on captured stdout/stderr bytes each. */
  readonly maxBuffer?: number;
  /** Send the child's stdout and stderr to /dev/null instead of capturing them (external checks). */
  readonly discardOutput?: boolean;
  /** Let the child write to this process's stdout and stderr (execute= instances in -d mode). */
  readonly inheritOutput?: boolean;
}

/**
 * ProcessRunner runs a program with arguments, never through a shell. Injected everywhere a child
 * process is started (ipvsadm, external checks, fallbackcommand, callback) so tests can record calls.
 */
export type ProcessRunner = (file: string, args: readonly string[], opts?: RunOptions) => Promise<ProcessResult>;

function failure(started: number, err: unknown): ProcessResult {
  const message = err instanceof Error ? err.message : String(err);
  return { exitCode: null, signal: null, timedOut: false, durationMs: Date.now() - started, stdout: '', stderr: '', spawnError: message, osError: message };
}

/** Sends `sig` to the process group led by `pid` (the child was started detached, so it leads one). */
function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    /* the group is gone */
  }
}

/** execaRunner is the real ProcessRunner. */
export const execaRunner: ProcessRunner = async (file, args, opts = {}) => {
  const started = Date.now();
  let sub: ResultPromise;
  try {
    const { execa } = await (execaLoad ??= import('execa'));
    const out = opts.discardOutput ? 'ignore' : opts.inheritOutput ? 'inherit' : 'pipe';
    sub = execa(file, [...args], {
      input: opts.input,
      env: opts.env,
      extendEnv: true,
      cwd: opts.cwd,
      reject: false,
      stripFinalNewline: false,
      maxBuffer: opts.maxBuffer ?? 16 * 1024 * 1024,
      stdin: opts.input === undefined ? 'ignore' : 'pipe',
      stdout: out,
      stderr: out,
      // Its own process group, so that a timeout reaches every process it started.
      detached: true,
    });
  } catch (err) {
    return failure(started, err);
  }

  const timers: NodeJS.Timeout[] = [];
  let timedOut = false;
  const stop = (): void => {
    if (timedOut) return;
    timedOut = true;
    killGroup(sub.pid, 'SIGTERM');
    timers.push(setTimeout(() => killGroup(sub.pid, 'SIGKILL'), KILL_GRACE_MS));
  };
  if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) timers.push(setTimeout(stop, opts.timeoutMs));
  if (opts.signal?.aborted) stop();
  else opts.signal?.addEventListener('abort', stop, { once: true });
  sub.once('exit', () => {
    // The program is gone; whatever still holds its pipes (a background grandchild) does not hold us.
    timers.push(
      setTimeout(() => {
        sub.stdout?.destroy();
        sub.stderr?.destroy();
      }, DRAIN_MS),
    );
  });

  try {
    const r = await sub;
    const spawnError =
      r.failed && r.exitCode === undefined && !r.signal && !timedOut && r.code !== undefined && r.code !== 'ERR_STREAM_PREMATURE_CLOSE'
        ? r.shortMessage
        : undefined;
    return {
      exitCode: r.exitCode ?? null,
      signal: r.signal ?? null,
      timedOut,
      durationMs: Date.now() - started,
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      stderr: typeof r.stderr === 'string' ? r.stderr : '',
      ...(spawnError !== undefined ? { spawnError, osError: r.originalMessage ?? spawnError } : {}),
    };
  } catch (err) {
    return failure(started, err);
  } finally {
    for (const t of timers) clearTimeout(t);
    opts.signal?.removeEventListener('abort', stop);
  }
};
