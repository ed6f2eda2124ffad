/**
 * The pid file, as the original keeps it: `<rundir>/ldirectord.<CFGNAME>.pid` holding `<pid>\n`.
 * rundir is /var/run, or $LDIRECTORD_RUNDIR (for tests). A daemon counts as running when the pid file's
 * first line names a process whose /proc/<pid>/cmdline contains `ldirectord` (the original's test).
 */
import { readFileSync, writeFileSync, renameSync, unlinkSync, statSync, accessSync, constants as fsc } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** The run directory of pid files. */
export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.LDIRECTORD_RUNDIR && env.LDIRECTORD_RUNDIR !== '' ? env.LDIRECTORD_RUNDIR.replace(/\/+$/, '') || '/' : '/var/run';
}

/** The pid file path of a config name. */
export function pidFilePath(cfgName: string, env: NodeJS.ProcessEnv = process.env): string {
  return `${runDir(env)}/ldirectord.${cfgName}.pid`;
}

/** What the pid file says. */
export interface PidFileState {
  /** The pid file exists (and could be read). */
  readonly exists: boolean;
  /** The file has no content at all (the original then has no pid: not stale, just stopped). */
  readonly empty?: boolean;
  /** Its first line, as written. */
  readonly content?: string;
  /** The pid of a running ldirectord, if the file names one. */
  readonly runningPid?: number;
}

/** Reads the pid file and applies the original's "is it running" test. */
export function readPidFile(path: string): PidFileState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { exists: false };
  }
  const first = text.split('\n')[0] ?? '';
  let runningPid: number | undefined;
  if (/^\d+$/.test(first)) {
    try {
      const cmdline = readFileSync(`/proc/${first}/cmdline`, 'latin1');
      if (cmdline.includes('ldirectord')) runningPid = Number(first);
    } catch {
      /* no such process: stale */
    }
  }
  return { exists: true, empty: text.length === 0, content: first, runningPid };
}

/** Writes `<pid>\n` atomically (a reader never sees an empty pid file). */
export function writePidFile(path: string, pid: number = process.pid): void {
  const tmp = `${path}.${pid}.tmp`;
  writeFileSync(tmp, `${pid}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}

/** Removes the pid file if it is a file (the original's ld_rm_file); never throws. */
export function removePidFile(path: string): void {
  try {
    if (statSync(path).isDirectory()) return;
    unlinkSync(path);
  } catch {
    /* absent */
  }
}

/** Removes the pid file only if it still names this process (a newer daemon may own it by now). */
export function removeOwnPidFile(path: string, pid: number = process.pid): void {
  try {
    const first = readFileSync(path, 'utf8').split('\n')[0];
    if (first === String(pid)) unlinkSync(path);
  } catch {
    /* absent */
  }
}

/** Can the pid file be created or overwritten? (The original opens it before forking.) */
export function pidFileWritable(path: string): boolean {
  try {
    accessSync(path, fsc.W_OK);
    return true;
  } catch {
    try {
      accessSync(dirname(resolve(path)), fsc.W_OK);
      return !exists(path);
    } catch {
      return false;
    }
  }
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
