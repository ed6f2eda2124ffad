/** Texts of the command line: usage, help and version. Written for this project (not the original's POD). */

/** The version string the original logs and prints; log watchers match "Linux Director". */
export const VERSION_STR = 'Linux Director v1.186-ha';

/** Package version of this reimplementation. */
export const PACKAGE_VERSION = '0.1.0';

/** Usage, printed on stdout with exit status 255 for a bad command line (as the original). */
export const USAGE = `Usage:
    ldirectord [-d|--debug] [--] [configfile] start | stop | restart |
    try-restart | reload | force-reload | status

    ldirectord [--] [configfile] configtest | dump | show [--json]

    ldirectord [--] [configfile] drain | maint | ready REAL [VIRTUAL]

    ldirectord [--] [configfile] weight REAL N [VIRTUAL]

    ldirectord demo

    ldirectord [-h|-?|--help|-v|--version]

Options:
    configfile: the configuration, looked up as /etc/ha.d/<configfile>,
    then /etc/ha.d/conf/<configfile>, then as a path. Default: ldirectord.cf

    -d|--debug    Stay in the foreground and log to the terminal.

    -h|--help     Print the manual's synopsis and exit.

    -v|--version  Print the version and exit.

    start         Start the daemon for this configuration.
    stop          Stop it (the same as sending it TERM).
    restart       Stop it, wait until it is gone, start it again.
    try-restart   Restart it if it runs.
    reload        Make it re-read the configuration (the same as HUP).
    force-reload  The same as reload.
    status        Tell whether it runs (exit 0), is stopped (3) or left a
                  stale pid file (1).
    configtest    Check the configuration: "syntax OK" (exit 0), or each
                  error as FILE:LINE: message (exit 2).
    dump          Print the configuration as the daemon understands it (JSON).
    show          Print the state of every virtual and real server of the
                  running daemon (--json for scripts).
    drain         Weight 0 for REAL while healthy: no new connections.
    maint         Take REAL out of service as if failed; its checks pause.
    ready         Give REAL back to health-driven service.
    weight        Give REAL weight N (0..65535) while healthy.
                  REAL is ip:port or host:port; VIRTUAL (ip:port or a fwmark)
                  narrows it to one virtual service. Exit 0 done, 1 refused,
                  3 no daemon, 4 not permitted. Kept across reload and restart.
    demo          Run a self-contained demonstration against a simulated table.
`;

/** The manual's synopsis, for -h (the original runs perldoc on itself). */
export const HELP = `LDIRECTORD(8)

NAME
    ldirectord - Linux Director Daemon: health checks the real servers of
    Linux Virtual Server (IPVS) virtual services and keeps the kernel table right

SYNOPSIS
    ldirectord [-d|--debug] [--] [configfile]
        start | stop | restart | try-restart | reload | force-reload | status
    ldirectord [configfile] configtest | dump | show [--json]
    ldirectord [configfile] drain | maint | ready REAL [VIRTUAL]
    ldirectord [configfile] weight REAL N [VIRTUAL]
    ldirectord demo
    ldirectord [-h|-?|--help|-v|--version]

DESCRIPTION
    A drop-in reimplementation of ldirectord: it reads the same ldirectord.cf,
    answers the same commands with the same messages and exit codes, keeps the
    same pid file (/var/run/ldirectord.<configname>.pid) and reacts to the same
    signals (TERM/INT stop, HUP reloads).

    See the manual page ldirectord(8) (man/ldirectord.8) for every directive.

FILES
    /etc/ha.d/ldirectord.cf, /var/run/ldirectord.<configname>.pid,
    /var/log/ldirectord.log
`;

/** The -v text. */
export function versionText(): string {
  return (
    `${VERSION_STR}\n` +
    `ldirectord-ts ${PACKAGE_VERSION}, a TypeScript reimplementation of ldirectord\n` +
    `\n` +
    `This program is free software, distributed under the GNU General Public License\n` +
    `version 2 or later, and comes with ABSOLUTELY NO WARRANTY.\n`
  );
}
