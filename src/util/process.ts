/**
 * The one process runner: ipvsadm, external checks, fallbackcommand, callback and execute= all start
 * their programs here. A program runs without a shell, in its own process group; on its timeout (or
 * abort) the whole group is sent TERM, then KILL after a grace period, so a grandchild cannot outlive the
 * deadline. A grandchild that keeps the output pipe open after the program itself has exited does not
 * hold the caller either: once the program has exited, its pipes are read for a short moment more and
 * then closed on our side (the grandchild is left alone, as system() would leave it).
 *
 * Built on node:child_process alone: execa (used before) loaded some 140 modules at the first ipvsadm run,
 * about 15 MB of a daemon's RSS and 0.25 s of CPU at start, and more CPU per run (bench/README.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { patientTimeout, type CancelTimeout } from './timer.js';

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
  /** Cap on captured stdout/stderr bytes each (what comes beyond it is read and dropped). */
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

function failure(started: number, err: unknown, file: string, args: readonly string[]): ProcessResult {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as NodeJS.ErrnoException)?.code;
  const spawnError = code ? `Command failed with ${code}: ${commandLine(file, args)}\n${message}` : message;
  return { exitCode: null, signal: null, timedOut: false, durationMs: Date.now() - started, stdout: '', stderr: '', spawnError, osError: message };
}

/** The command as a message shows it: an argument with blanks or shell characters in single quotes. */
function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
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

/** Collects a stream's bytes up to `cap`; later bytes are read and dropped (the child never blocks on a full pipe). */
function collect(stream: NodeJS.ReadableStream | null, cap: number): () => string {
  if (!stream) return () => '';
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (c: Buffer) => {
    if (size >= cap) return;
    const part = size + c.length > cap ? c.subarray(0, cap - size) : c;
    chunks.push(part);
    size += part.length;
  });
  stream.on('error', () => undefined);
  return () => Buffer.concat(chunks, size).toString('utf8');
}

/** runProcess is the real ProcessRunner. */
export const runProcess: ProcessRunner = (file, args, opts = {}) => {
  const started = Date.now();
  const out = opts.discardOutput ? 'ignore' : opts.inheritOutput ? 'inherit' : 'pipe';
  let env: NodeJS.ProcessEnv = process.env;
  if (opts.env) {
    env = { ...process.env };
    for (const [k, v] of Object.entries(opts.env)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
  }
  let child: ChildProcess;
  try {
    child = spawn(file, [...args], {
      env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', out, out],
      // Its own process group, so that a timeout reaches every process it started.
      detached: true,
      shell: false,
    });
  } catch (err) {
    return Promise.resolve(failure(started, err, file, args));
  }
  const cap = opts.maxBuffer ?? 16 * 1024 * 1024;
  const stdout = collect(child.stdout, cap);
  const stderr = collect(child.stderr, cap);
  if (opts.input !== undefined && child.stdin) {
    child.stdin.on('error', () => undefined); // a program that exits without reading its input
    child.stdin.end(opts.input);
  }

  return new Promise<ProcessResult>((resolve) => {
    const timers: CancelTimeout[] = [];
    let timedOut = false;
    let settled = false;
    const stop = (): void => {
      // A program that has exited is not killed: its 'close' follows (and a patient timer lets the
      // exit that came in time be seen first, see util/timer.ts).
      if (timedOut || settled || child.exitCode !== null || child.signalCode !== null) return;
      timedOut = true;
      killGroup(child.pid, 'SIGTERM');
      timers.push(patientTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS));
    };
    const finish = (r: ProcessResult): void => {
      if (settled) return;
      settled = true;
      for (const cancel of timers) cancel();
      opts.signal?.removeEventListener('abort', stop);
      resolve(r);
    };
    if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) timers.push(patientTimeout(stop, opts.timeoutMs));
    if (opts.signal?.aborted) stop();
    else opts.signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (err) => {
      // Not started (ENOENT, EACCES...); an error after the start (a failed kill) changes nothing.
      if (child.pid === undefined) finish(failure(started, err, file, args));
    });
    child.once('exit', () => {
      // The program is gone; whatever still holds its pipes (a background grandchild) does not hold us.
      timers.push(
        patientTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
        }, DRAIN_MS),
      );
    });
    child.once('close', (code, sig) => {
      finish({ exitCode: code, signal: sig, timedOut, durationMs: Date.now() - started, stdout: stdout(), stderr: stderr() });
    });
  });
};

/** The one process runner the daemon's parts are given. */
export const processRunner: ProcessRunner = runProcess;
