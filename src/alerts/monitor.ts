/**
 * monitorfile: one line per logged check, in the original's format
 * `[<localtime>] [<pid>] <real id, ':' runs as one space, backslashes removed> [up|down] <msg>`
 * with %, |, CR and LF of the message encoded as %xx (lowercase hex), `-` for an empty message.
 * Unlike the original, a write failure is logged and the daemon goes on (the original dies).
 */
import { appendFile } from 'node:fs/promises';

/** Perl's scalar localtime: `Wed Nov 25 05:41:14 2026`. */
export function perlLocaltime(ms: number): string {
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

/** Encodes the message as the original does. */
export function encodeMonitorMessage(msg: string): string {
  if (msg === '') return '-';
  return msg.replace(/[%|\r\n]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

/** Formats one monitorfile line (with its newline). */
export function formatMonitorLine(nowMs: number, pid: number, realId: string, up: boolean, msg: string): string {
  const id = realId.replace(/:+/g, ' ').replace(/\\/g, '');
  return `[${perlLocaltime(nowMs)}] [${pid}] ${id} [${up ? 'up' : 'down'}] ${encodeMonitorMessage(msg)}\n`;
}

/** MonitorWriter appends lines, one write at a time per file, reporting failures instead of dying. */
export class MonitorWriter {
  private chain: Promise<void> = Promise.resolve();
  constructor(private readonly onError: (file: string, err: unknown) => void = () => {}) {}
  write(file: string, line: string): Promise<void> {
    this.chain = this.chain.then(() => appendFile(file, line, { mode: 0o640 }).catch((err) => this.onError(file, err)));
    return this.chain;
  }
}
