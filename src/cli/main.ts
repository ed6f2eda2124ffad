/**
 * The command line, as the original's `[main]` and `[ld_init]`: options, the config lookup, the pid
 * file, and each command's messages, streams and exit codes in every state. Our additions
 * (configtest, dump, show, demo) do not change the original's commands.
 */
import { statSync } from 'node:fs';
import type { Config } from '../model/config.js';
import { ConfigError } from '../util/errors.js';
import { processRunner } from '../util/process.js';
import { HELP, USAGE, VERSION_STR, versionText } from './usage.js';
import { adminCommand } from './admin.js';
import { showCommand } from './show.js';
import { createLogger, destinationFor, flushLogs, type LdLogger } from '../log/logger.js';
import { pidFilePath, readPidFile, removePidFile } from '../daemon/pidfile.js';
import { pingWarning } from '../checks/ping.js';
import { alertNotes } from '../alerts/mail.js';
import { reportNotReady, reportReady } from '../daemon/detach.js';
import { Exit, ldExit } from '../daemon/exit.js';
import { CHILD_ENV, INSTANCE_TIMEOUT_MS } from '../daemon/daemon.js';
import { startDaemon, type StartContext } from '../daemon/start.js';
import { wire, type Wiring } from '../daemon/wiring.js';
import { runDemo } from '../demo/demo.js';

/** The original's commands. */
export const COMMANDS = ['start', 'stop', 'restart', 'try-restart', 'reload', 'force-reload', 'status'] as const;
/** Our additions. */
export const EXTRA_COMMANDS = ['configtest', 'dump', 'show', 'demo', 'drain', 'maint', 'ready', 'weight'] as const;
/** Our run-time admin verbs (issue 18): `[configfile] drain|maint|ready REAL [VIRTUAL]`, `weight REAL N [VIRTUAL]`. */
const ADMIN_VERBS = ['drain', 'maint', 'ready', 'weight'] as const;
type AdminVerb = (typeof ADMIN_VERBS)[number];
const isAdminVerb = (s: string | undefined): s is AdminVerb => (ADMIN_VERBS as readonly (string | undefined)[]).includes(s);

/** Parsed options: Getopt::Long with bundling, no abbreviations, require_order. */
export interface CliOptions {
  debug: boolean;
  help: boolean;
  version: boolean;
}

/** Parses the options the original knows; returns the positional rest or the unknown option. */
export function parseOptions(argv: readonly string[]): { opts: CliOptions; rest: string[] } | { unknown: string } {
  const opts: CliOptions = { debug: false, help: false, version: false };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (a.startsWith('--')) {
      const name = a.slice(2);
      if (name === 'debug' || name === 'd') opts.debug = true;
      else if (name === 'help' || name === 'h' || name === '?') opts.help = true;
      else if (name === 'version' || name === 'v') opts.version = true;
      else return { unknown: name.replace(/=.*$/, '') };
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (const ch of a.slice(1)) {
        if (ch === 'd') opts.debug = true;
        else if (ch === 'h' || ch === '?') opts.help = true;
        else if (ch === 'v') opts.version = true;
        else return { unknown: ch };
      }
      continue;
    }
    break; // require_order: the first non-option ends the options
  }
  return { opts, rest: argv.slice(i) };
}

/** The config lookup of the original: /etc/ha.d/NAME, /etc/ha.d/conf/NAME, then NAME itself. */
export function lookupConfig(name: string, root = ''): string | undefined {
  const isFile = (p: string) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (isFile(`${root}/etc/ha.d/${name}`)) return `/etc/ha.d/${name}`;
  if (isFile(`${root}/etc/ha.d/conf/${name}`)) return `/etc/ha.d/conf/${name}`;
  if (isFile(name)) return name;
  return undefined;
}

/** The invocation: which config and command, and its name in the pid file. */
export interface Invocation {
  /** The config as given (or the default `ldirectord.cf`). */
  configArg: string;
  /** CFGNAME: the last path component of the config as given; `ldirectord` by default. */
  cfgName: string;
  cmd: string;
  /** `show --json`. */
  json: boolean;
  /** The arguments of an admin verb (REAL [N] [VIRTUAL]). */
  args?: string[];
}

/** Splits the positional arguments as ld_init does; undefined means usage. */
export function parseInvocation(rest: readonly string[]): Invocation | undefined {
  const args = [...rest];
  let json = false;
  // `show --json` (our addition): the flag follows the command.
  const si = args.indexOf('show');
  if (si >= 0 && si <= 1 && args[si + 1] === '--json') {
    json = true;
    args.splice(si + 1, 1);
  }
  if (args.length === 0) return undefined;
  // An admin verb takes arguments: `[configfile] drain REAL [VIRTUAL]`.
  const isCommand = (c: string | undefined) => c !== undefined && ((COMMANDS as readonly string[]).includes(c) || (EXTRA_COMMANDS as readonly string[]).includes(c));
  if (isAdminVerb(args[0]) && !isCommand(args[1])) return { configArg: 'ldirectord.cf', cfgName: 'ldirectord', cmd: args[0], json, args: args.slice(1) };
  if (args.length >= 2 && isAdminVerb(args[1])) {
    const m = /([^/]+)$/.exec(args[0]);
    return { configArg: args[0], cfgName: m ? m[1] : '', cmd: args[1], json, args: args.slice(2) };
  }
  let inv: Invocation;
  if (args.length >= 2) {
    const m = /([^/]+)$/.exec(args[0]);
    inv = { configArg: args[0], cfgName: m ? m[1] : '', cmd: args[1], json };
  } else {
    inv = { configArg: 'ldirectord.cf', cfgName: 'ldirectord', cmd: args[0], json };
  }
  const known = (COMMANDS as readonly string[]).includes(inv.cmd) || (EXTRA_COMMANDS as readonly string[]).includes(inv.cmd);
  return known ? inv : undefined;
}

/** Context shared by the commands of one run. */
export interface CliContext extends StartContext {
  opts: CliOptions;
  inv: Invocation;
  /** The resolved config path (as the original names it in messages). */
  configPath: string;
  config: Config;
  logger: LdLogger;
  pidFile: string;
  /** The path of this program as invoked ($0), for execute= and the daemon's own argv. */
  self: string;
  /** The positional arguments (ARGV after the options). */
  rest: string[];
  /** The whole argv as given (the daemon child gets the same). */
  argv: string[];
  ipvsadm: string;
  /** The parser, director and drivers this run is built from. */
  wiring: Wiring;
}

// The command line's own messages come after the log lines logged before them (the logger holds a turn's lines).
function out(s: string): void {
  flushLogs();
  process.stdout.write(s);
}
function err(s: string): void {
  flushLogs();
  process.stderr.write(s);
}

function usage(): never {
  out(USAGE);
  throw new Exit(255);
}

/** The path of this program as invoked. */
export function selfPath(): string {
  return process.argv[1] ?? '/usr/sbin/ldirectord';
}

/**
 * The entry point: runs the command and ends the process with its status (except a running daemon).
 * `parts` replaces some of the real parser, director and drivers (test harnesses only; the launcher
 * passes none).
 */
export async function main(argv: string[], parts: Partial<Wiring> = {}): Promise<void> {
  try {
    const code = await run(argv, wire(parts));
    if (code !== undefined) await finish(code);
  } catch (e) {
    if (e instanceof Exit) await finish(e.code);
    flushLogs(); // before Node prints the error
    throw e;
  }
}

async function finish(code: number): Promise<never> {
  // stdout/stderr are synchronous for files and pipes on Linux; exit now (helpers may hold handles).
  process.exit(code);
}

/** Runs the command line; returns the exit status, or undefined while a daemon keeps running. */
async function run(argv: string[], wiring: Wiring): Promise<number | undefined> {
  const parsed = parseOptions(argv);
  if ('unknown' in parsed) {
    err(`Unknown option: ${parsed.unknown}\n`);
    usage();
  }
  const { opts, rest } = parsed;
  if (opts.help) {
    out(HELP);
    return 0;
  }
  if (opts.version) {
    out(versionText());
    return 0;
  }

  const inv = parseInvocation(rest);
  const extra = inv !== undefined && (EXTRA_COMMANDS as readonly string[]).includes(inv.cmd);

  // The original looks ipvsadm up before it looks at the arguments: even `status` fails without it.
  let ipvsadm = '';
  if (!extra) {
    try {
      ipvsadm = wiring.locateIpvsadm({ debug: opts.debug, cwd: process.cwd(), env: process.env });
    } catch {
      err('Can not find ipvsadm\n');
      return 255;
    }
  }
  if (!inv) usage();

  if (inv.cmd === 'demo') {
    return await runDemo({ argv: rest.slice(1), wiring });
  }

  // Until the config names a log target, the original logs to its default logfile (stderr with -d).
  const logger = createLogger({
    destination: opts.debug ? { kind: 'stderr' } : { kind: 'file', path: '/var/log/ldirectord.log' },
    cfgName: inv.cfgName,
    debug: opts.debug,
  });

  const configPath = lookupConfig(inv.configArg);
  if (configPath === undefined) {
    if (extra) {
      err(`Config file ${inv.configArg} not found\n`);
      return 1;
    }
    initError(logger, opts.debug, `Config file ${inv.configArg} not found`);
  }

  // The admin verbs talk to the running daemon, which has the config: they do not parse it (a user who
  // may not write its logfile gets "not permitted" from the socket, not a config error).
  if (isAdminVerb(inv.cmd)) return await adminCommand({ verb: inv.cmd, args: inv.args ?? [], cfgName: inv.cfgName, configPath });

  const pidFile = pidFilePath(inv.cfgName);
  const isDaemonChild = process.env.LDIRECTORD_DAEMON_CHILD === '1';

  let config: Config;
  try {
    config = await wiring.parseConfig(configPath, { debug: opts.debug });
  } catch (e) {
    if (!(e instanceof ConfigError) && !(e instanceof Error && 'format' in e)) throw e;
    const text = (e as ConfigError).format();
    if (isDaemonChild) reportNotReady(2, text);
    err(`${text}\n`);
    if (inv.cmd === 'configtest' || extra) return 2;
    // Deliberate difference: the original deletes the pid file on any config error, even that of a
    // running daemon (whose status/stop then no longer find it). We remove only a stale one.
    if (readPidFile(pidFile).runningPid === undefined) removePidFile(pidFile);
    ldExit(logger, opts.debug, 2, 'config_error: Configuration Error');
  }
  if (!isDaemonChild) for (const w of config.warnings) err(`${wiring.formatWarning(w)}\n`);

  if (inv.cmd === 'configtest') {
    const noPing = pingWarning(config.virtuals);
    if (noPing) err(`${noPing}\n`);
    for (const n of alertNotes(config)) err(`${n}\n`);
    // The directives that are not the original's, each explained where it is written.
    for (const n of config.notes ?? []) err(`${n.file}:${n.line}: note: ${n.message}\n`);
    out('syntax OK\n');
    return 0;
  }
  if (inv.cmd === 'dump') {
    out(JSON.stringify(wiring.dumpConfig(config), null, 2) + '\n');
    return 0;
  }
  if (inv.cmd === 'show') {
    return await showCommand({ cfgName: inv.cfgName, configPath, json: inv.json, pidFile });
  }

  logger.setDestination(destinationFor(config.global.logfile, { debug: opts.debug, supervised: config.global.supervised }));
  const ctx: CliContext = { opts, inv, configPath, config, logger, pidFile, self: selfPath(), rest, argv, ipvsadm, wiring };
  return await command(ctx, isDaemonChild);
}

function initError(logger: LdLogger, debug: boolean, msg: string): never {
  logger.info(msg);
  if (!debug) err(`${msg}\n`);
  ldExit(logger, debug, 1, 'Initialisation Error');
}

/** Runs `<self> <name> <cmd>` for each execute= instance (the original's ld_cmd_children). */
export async function runInstances(ctx: Pick<CliContext, 'self' | 'logger' | 'opts'>, names: readonly string[], cmd: string): Promise<void> {
  for (const name of names) {
    if (cmd === 'reload_or_start') {
      if ((await runSelf(ctx, name, 'reload')) !== 0) await runSelf(ctx, name, 'start');
    } else await runSelf(ctx, name, cmd);
  }
}

async function runSelf(ctx: Pick<CliContext, 'self' | 'logger' | 'opts'>, name: string, cmd: string): Promise<number> {
  const line = `${ctx.self} ${name} ${cmd}`;
  if (ctx.opts.debug) ctx.logger.info(`Running system(${line})`);
  const r = await processRunner(process.execPath, [ctx.self, name, cmd], { inheritOutput: true, env: CHILD_ENV, timeoutMs: INSTANCE_TIMEOUT_MS });
  const status = r.exitCode ?? 1;
  if (status !== 0) ctx.logger.info(`system(${line}) failed: ${r.spawnError !== undefined ? (r.osError ?? r.spawnError) : `exit status ${status}`}`);
  return status;
}

async function command(ctx: CliContext, isDaemonChild: boolean): Promise<number | undefined> {
  const { inv, logger, opts, configPath, pidFile, config } = ctx;
  const cmd = inv.cmd;
  if (!isDaemonChild) logger.info(`Invoking ldirectord invoked as: ${ctx.self} ${ctx.rest.map((a) => a + ' ').join('')}`);

  const pf = readPidFile(pidFile);
  const exitFrom = `Exiting from ldirectord ${cmd}`;
  if (pf.runningPid !== undefined && !(isDaemonChild && pf.runningPid === process.pid)) {
    const pid = pf.runningPid;
    switch (cmd) {
      case 'start':
        if (isDaemonChild) reportReady(pid);
        ldExit(logger, opts.debug, 0, exitFrom);
      // eslint-disable-next-line no-fallthrough
      case 'stop':
        signal(pid, 'SIGTERM');
        // Unlike the original, wait (bounded) until the daemon has removed what it manages and exited,
        // so that a monitor right after stop (pacemaker, systemd) sees it stopped. Same output, same status.
        await waitGone(pid, stopWaitMs(process.env.LDIRECTORD_STOP_WAIT));
        ldExit(logger, opts.debug, 0, exitFrom);
      // eslint-disable-next-line no-fallthrough
      case 'restart':
      case 'try-restart':
        signal(pid, 'SIGTERM');
        // The original waits (polling every second, forever) until the old daemon removed its pid file.
        while (readPidFile(pidFile).exists) await new Promise((r) => setTimeout(r, 100));
        break;
      case 'reload':
      case 'force-reload':
        signal(pid, 'SIGHUP');
        ldExit(logger, opts.debug, 0, exitFrom);
      // eslint-disable-next-line no-fallthrough
      default: {
        const line = `ldirectord for ${configPath} is running with pid: ${pid}`;
        err(`${line}\n`);
        await runInstances(ctx, config.global.execute, 'status');
        logger.info(line);
        logger.info(exitFrom);
        ldExit(logger, opts.debug, 0, exitFrom);
      }
    }
  } else {
    switch (cmd) {
      case 'start':
      case 'restart':
        break;
      case 'stop':
      case 'try-restart':
        ldExit(logger, opts.debug, 0, exitFrom);
      // eslint-disable-next-line no-fallthrough
      case 'status': {
        let status = 3;
        if (pf.exists && !pf.empty) {
          const line = `ldirectord stale pid file ${pidFile} for ${configPath}`;
          err(`${line}\n`);
          logger.info(line);
          status = 1;
        }
        out(`ldirectord is stopped for ${configPath}\n`);
        ldExit(logger, opts.debug, status, exitFrom);
      }
      // eslint-disable-next-line no-fallthrough
      default:
        logger.info(`ldirectord is stopped for ${configPath}`);
        ldExit(logger, opts.debug, 1, exitFrom);
    }
  }

  // start (or the start half of restart)
  return await startDaemon(ctx, isDaemonChild);
}

/** How long `stop` waits for the daemon to exit: LDIRECTORD_STOP_WAIT seconds (0 = not at all), 30 when unset or not a number. */
export function stopWaitMs(env: string | undefined): number {
  const s = env === undefined || env.trim() === '' ? NaN : Number(env);
  return (Number.isFinite(s) && s >= 0 ? s : 30) * 1000;
}

/** Resolves when process `pid` no longer exists, or after `ms`. */
async function waitGone(pid: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone meanwhile */
  }
}

export { VERSION_STR };
