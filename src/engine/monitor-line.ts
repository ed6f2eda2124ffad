/**
 * monitorfile lines, in the original's format
 * `[<localtime>] [<pid>] <real id, ':' runs as one space, backslashes removed> [up|down] <msg>`
 * with %, |, CR and LF of the message encoded as %xx (lowercase hex), `-` for an empty message.
 * The engine formats them into its `monitor` events; src/alerts/monitor.ts writes them.
 */
import { perlLocaltime } from '../util/localtime.js';

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
