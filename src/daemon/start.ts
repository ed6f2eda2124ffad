/**
 * The start path of `[ld_init]`: in the foreground with -d or supervised=yes (no pid file), otherwise
 * detached, the parent returning once the daemon has written its pid file.
 */
import { resolve } from 'node:path';
import type { Config } from '../model/config.js';
import type { LdLogger } from '../log/logger.js';
import { VERSION_STR } from '../cli/usage.js';
import { writePidFile, removeOwnPidFile, pidFileWritable } from './pidfile.js';
import { spawnDaemon, reportReady, reportNotReady } from './detach.js';
import { Daemon } from './daemon.js';
import { ldExit } from './exit.js';
import type { Wiring } from './wiring.js';

/** What the start path needs of the command line's run. */
export interface StartContext {
  opts: { debug: boolean };
  inv: { cfgName: string };
  /** The config path as the lookup resolved it. */
  configPath: string;
  config: Config;
  logger: LdLogger;
  pidFile: string;
  /** This program as invoked ($0). */
  self: string;
  /** The whole argv as given (the daemon child gets the same). */
  argv: string[];
  ipvsadm: string;
  wiring?: Partial<Wiring>;
}

/** Sets the process title to the command line as invoked (the OCF agent's `pgrep -f` fallback). */
export function setTitle(self: string, argv: readonly string[]): void {
  try {
    process.title = [self, ...argv].join(' ');
  } catch {
    /* not supported */
  }
}

/** Starts the daemon; resolves with the exit status of this process. */
export async function startDaemon(ctx: StartContext, isDaemonChild: boolean): Promise<number> {
  const { logger, opts, config, pidFile } = ctx;
  const configReadPath = resolve(ctx.configPath);
  const base = {
    config,
    configPath: ctx.configPath,
    configReadPath,
    cfgName: ctx.inv.cfgName,
    debug: opts.debug,
    logger,
    self: ctx.self,
    ipvsadm: ctx.ipvsadm,
    wiring: ctx.wiring,
  };

  if (config.global.supervised || opts.debug) {
    logger.info(`Starting ${VERSION_STR} with pid: ${process.pid}`);
    setTitle(ctx.self, ctx.argv);
    return await new Daemon(base).run();
  }

  if (!isDaemonChild) {
    logger.info(`Starting ${VERSION_STR} as daemon`);
    if (!pidFileWritable(pidFile)) {
      const msg = `Can not open ${pidFile}`;
      logger.info(msg);
      logger.flush();
      process.stderr.write(`${msg}\n`);
      ldExit(logger, opts.debug, 1, 'Initialisation Error');
    }
    const r = await spawnDaemon(ctx.self, ctx.argv);
    if (r.ok) return 0;
    logger.flush();
    process.stderr.write(`${r.message ?? 'ldirectord: the daemon did not start'}\n`);
    return r.code && r.code !== 0 ? r.code : 1;
  }

  // The detached child: own the pid file, tell the parent, leave the invoking directory.
  try {
    writePidFile(pidFile);
  } catch (e) {
    const msg = `Can not open ${pidFile}`;
    logger.info(msg);
    reportNotReady(1, `${msg}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  setTitle(ctx.self, ctx.argv);
  try {
    process.chdir('/');
  } catch {
    /* stay */
  }
  reportReady(process.pid);
  try {
    return await new Daemon({ ...base, pidFile }).run();
  } catch (e) {
    logger.error(`Daemon failed: ${e instanceof Error ? e.message : String(e)}`);
    removeOwnPidFile(pidFile);
    return 1;
  }
}
