/**
 * monitorfile: the engine's `monitor` events (lines formatted by src/engine/monitor-line.ts) appended to
 * their files. Unlike the original, a write failure is logged and the daemon goes on (the original dies).
 */
import { appendFile } from 'node:fs/promises';

/** MonitorWriter appends lines, one write at a time per file, reporting failures instead of dying. */
export class MonitorWriter {
  private chain: Promise<void> = Promise.resolve();
  constructor(private readonly onError: (file: string, err: unknown) => void = () => {}) {}
  write(file: string, line: string): Promise<void> {
    this.chain = this.chain.then(() => appendFile(file, line, { mode: 0o640 }).catch((err) => this.onError(file, err)));
    return this.chain;
  }
}
