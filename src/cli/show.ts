/** `ldirectord [configfile] show [--json]`: the running daemon's state, from the state file it keeps. */
import { readStateFile, showJson, showText, stateFilePath } from '../observe/show.js';
import { readPidFile, runDir } from '../daemon/pidfile.js';
import { flushLogs } from '../log/logger.js';

export async function showCommand(o: { cfgName: string; configPath: string; json: boolean; pidFile: string }): Promise<number> {
  const pf = readPidFile(o.pidFile);
  let state;
  try {
    state = await readStateFile(stateFilePath(runDir(), o.cfgName));
  } catch {
    state = undefined;
  }
  // A state file of a daemon that is gone (or a foreground one: no pid file) counts only if its pid lives.
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!state || (pf.runningPid !== undefined && pf.runningPid !== state.pid) || !alive(state.pid)) {
    flushLogs();
    process.stdout.write(`ldirectord is stopped for ${o.configPath}\n`);
    return 3;
  }
  flushLogs();
  if (o.json) process.stdout.write(JSON.stringify(showJson(state), null, 2) + '\n');
  else process.stdout.write(showText(state, { color: Boolean(process.stdout.isTTY) }));
  return 0;
}
