/**
 * `ldirectord [configfile] show [--json]`: the state of every virtual and real, read from the state
 * file the running daemon keeps current (`<rundir>/ldirectord.<cfgname>.state.json`, mode 0600).
 */
import { open, rename, readFile } from 'node:fs/promises';
import type { DirectorSnapshot, RealSnapshot } from '../engine/types.js';
import type { TableReading } from '../ipvs/recording.js';
import { buildStatus, type StatusConfig, type StatusData, type SyncDaemonReport } from './status.js';

/** What the daemon writes and `show` reads. */
export interface StateFile {
  readonly version: 1;
  readonly pid: number;
  readonly config: string;
  readonly writtenAt: number;
  readonly status: string;
  /** The IPVS driver the daemon chose and why (src/ipvs/select.ts). */
  readonly ipvsDriver?: { readonly driver: string; readonly requested: string; readonly reason: string; readonly ipvsadm?: string };
  readonly snapshot: DirectorSnapshot;
  /** The running config as the status data uses it (absent in files of older daemons). */
  readonly model?: StatusConfig;
  /** The last IPVS table read (connection counts). */
  readonly table?: TableReading;
  /** The configured connection-sync daemons as last seen (absent without `syncdaemon` lines). */
  readonly syncDaemons?: readonly SyncDaemonReport[];
}

/** The state file's path beside the pid file. */
export function stateFilePath(rundir: string, cfgName: string): string {
  return `${rundir}/ldirectord.${cfgName}.state.json`;
}

/** Reals per write: the file is streamed in pieces, never held whole (10 000 reals are megabytes). */
const REALS_PER_WRITE = 500;

/** JSON text of objects that stay the same across many writes (the model until a reload, the table until its next read). */
const jsonText = new WeakMap<object, string>();

function cachedJson(o: object): string {
  let t = jsonText.get(o);
  if (t === undefined) {
    t = JSON.stringify(o);
    jsonText.set(o, t);
  }
  return t;
}

/** Writes the state atomically, readable by root only (it names every real and its failures). */
export async function writeStateFile(path: string, state: StateFile): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const { snapshot, model, table, ...fields } = state;
  const { reals, ...rest } = snapshot;
  // snapshot last and reals last in it, so that the file ends with the reals' array; the model (which
  // changes only on reload) is serialised once per config, the table once per read
  let head = JSON.stringify({ ...fields, snapshot: { ...rest, reals: [] } });
  if (table) head = `{"table":${cachedJson(table)},${head.slice(1)}`;
  if (model) head = `{"model":${cachedJson(model)},${head.slice(1)}`;
  const tail = ']}}';
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.write(head.slice(0, -tail.length));
    for (let i = 0; i < reals.length; i += REALS_PER_WRITE) {
      const part = reals.slice(i, i + REALS_PER_WRITE).map((r) => JSON.stringify(r)).join(',');
      await fh.write(i === 0 ? part : `,${part}`);
    }
    await fh.write(`${tail}\n`);
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

export async function readStateFile(path: string): Promise<StateFile> {
  const s = JSON.parse(await readFile(path, 'utf8')) as StateFile;
  if (s.version !== 1 || !s.snapshot) throw new Error(`${path}: not an ldirectord state file`);
  return s;
}

/** The stable JSON form of `show --json`: the status data (as /status.json), and when it was written. */
export function showJson(s: StateFile): StatusData & { writtenAt: string } {
  const data = buildStatus({
    snapshot: s.snapshot,
    table: s.table,
    config: s.model,
    pid: s.pid,
    ...(s.ipvsDriver ? { ipvsDriver: s.ipvsDriver } : {}),
    configPath: s.config,
    status: s.status,
    now: s.writtenAt,
    withHistory: false,
    ...(s.syncDaemons ? { syncDaemons: s.syncDaemons } : {}),
  });
  return { ...data, writtenAt: new Date(s.writtenAt).toISOString() };
}

const COLORS: Record<RealSnapshot['state'], string> = {
  up: '\x1b[32m',
  down: '\x1b[31m',
  quiescent: '\x1b[33m',
  maintenance: '\x1b[35m',
  unknown: '\x1b[90m',
};

function ago(now: number, t?: number): string {
  if (t === undefined) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`;
}

/** The ADMIN column: `-`, `maint`, `weight N`, `draining (active A, inactive I)`, `drained`. */
function adminText(r: RealSnapshot): string {
  if (r.admin === 'maint') return 'maint';
  if (r.admin === 'drain') {
    if (!r.drain) return 'draining';
    return r.drain.state === 'drained' ? 'drained' : `draining (active ${r.drain.activeConn}, inactive ${r.drain.inactConn})`;
  }
  return r.adminWeight !== null && r.adminWeight !== undefined ? `weight ${r.adminWeight}` : '-';
}

/** The human form: one block per virtual, one aligned row per real. */
export function showText(s: StateFile, opts: { color: boolean; now?: number }): string {
  const now = opts.now ?? Date.now();
  const paint = (c: string, t: string) => (opts.color ? `${c}${t}\x1b[0m` : t);
  const j = showJson(s);
  const lines: string[] = [];
  const age = Math.round((now - s.writtenAt) / 1000);
  lines.push(`ldirectord pid ${s.pid} (${s.status}), config ${s.config}; cycle #${s.snapshot.cycle.count} took ${s.snapshot.cycle.lastDurationMs} ms, scheduler lag ${s.snapshot.cycle.lagMs} ms; state ${age}s old`);
  for (const d of j.syncDaemons) {
    const c = d.configured;
    lines.push(`sync daemon ${d.role} (mcast=${c.ifname}, syncid=${c.syncid}): ${d.state}${d.error ? `: ${d.error}` : ''}${d.cleanstop ? '' : ' (kept at stop)'}`);
  }
  for (const v of j.virtuals) {
    lines.push('');
    lines.push(`${paint('\x1b[1m', v.virtual)}${v.fallbackActive ? '  ' + paint('\x1b[31m', 'FALLBACK ACTIVE') : ''}`);
    const rows = s.snapshot.reals.filter((r) => r.vid === v.virtual).map((r) => [
      r.rs, r.state, adminText(r), r.rampTarget !== undefined ? `${r.weight} -> ${r.rampTarget}` : String(r.weight), String(r.failures), ago(now, r.lastCheck),
      r.lastResult ? `${r.lastResult.durationMs}ms` : '-',
      r.lastResult && !r.lastResult.ok ? `${r.lastResult.status}: ${r.lastResult.message}` : '',
    ]);
    const head = ['REAL', 'STATE', 'ADMIN', 'WEIGHT', 'FAILS', 'CHECKED', 'LATENCY', 'REASON'];
    const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const fmt = (r: string[]) => '  ' + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]))).join('  ').trimEnd();
    lines.push(fmt(head));
    for (const r of rows) {
      const line = fmt(r);
      const state = r[1] as RealSnapshot['state'];
      lines.push(opts.color ? line.replace(` ${state} `, ` ${paint(COLORS[state], state)} `) : line);
    }
  }
  return lines.join('\n') + '\n';
}
