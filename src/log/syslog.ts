/**
 * Syslog output. Node has no unix datagram sockets, so the datagrams are sent by util-linux `logger`,
 * kept running and fed one message per line on its stdin. It writes the local syslog format that
 * glibc's syslog() (and the original's Sys::Syslog) writes to /dev/log:
 * `<PRI>Mmm dd hh:mm:ss ldirectord[<pid>]: <msg>`, priority `<facility>.info`.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface SyslogOptions {
  facility: string;
  socket: string;
  tag: string;
  pid: number;
  now?: () => number;
}

/** SyslogSink writes each message as one datagram to the syslog socket. */
export class SyslogSink {
  private child?: ChildProcess;
  private failed = false;

  constructor(private readonly opts: SyslogOptions) {}

  private start(): ChildProcess | undefined {
    if (this.child && this.child.exitCode === null && !this.child.killed) return this.child;
    if (this.failed) return undefined;
    const c = spawn(
      'logger',
      [
        '--socket-errors=off',
        '-u', this.opts.socket,
        '-d',
        '-t', this.opts.tag,
        `--id=${this.opts.pid}`,
        '-p', `${this.opts.facility}.info`,
      ],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    c.on('error', () => {
      // logger missing: nothing can be sent; do not retry on every line.
      this.failed = true;
    });
    c.stdin?.on('error', () => {});
    c.unref();
    (c.stdin as unknown as { unref?: () => void })?.unref?.();
    this.child = c;
    return c;
  }

  write(msg: string, _level: string): void {
    const c = this.start();
    // Each stdin line becomes one message; keep the message to one line.
    c?.stdin?.write(msg.replace(/[\r\n]+/g, ' ') + '\n');
  }

  /** A new helper is started on the next line (after a reload changed nothing, this is harmless). */
  reopen(): void {}

  close(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        c.kill();
        resolve();
      }, 2000);
      c.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      c.stdin?.end();
    });
  }
}
