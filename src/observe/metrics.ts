/**
 * Prometheus metrics, opt-in so that an unchanged ldirectord.cf changes nothing:
 *   LDIRECTORD_HTTP=127.0.0.1:9469           serve /metrics (and the status page, src/observe/http.ts) there;
 *                                            LDIRECTORD_METRICS is its older name
 *   LDIRECTORD_METRICS_TEXTFILE=/path/x.prom write the same text there (node_exporter textfile collector)
 * They are environment settings, not directives, so the config file stays loadable by the Perl original
 * (set them in /etc/default/ldirectord or the unit's EnvironmentFile).
 */
import { writeFile, rename } from 'node:fs/promises';
import type { DirectorSnapshot } from '../engine/types.js';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** Metric values beyond the director's snapshot. */
export interface MetricsExtra {
  readonly schedulerLagMs?: number;
  readonly mailsSent?: number;
  readonly mailsFailed?: number;
}

/** Renders the Prometheus text exposition format (version 0.0.4). */
export function renderMetrics(s: DirectorSnapshot, extra: MetricsExtra = {}): string {
  const out: string[] = [];
  const family = (name: string, type: 'gauge' | 'counter', help: string, rows: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of rows) {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',');
      out.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`);
    }
  };
  const real = (r: DirectorSnapshot['reals'][number]) => ({ virtual: r.vid, real: r.rs });
  family('ldirectord_real_up', 'gauge', 'Whether the real server is up (1) or not (0).', s.reals.map((r) => [real(r), r.state === 'up' ? 1 : 0]));
  family('ldirectord_real_weight', 'gauge', 'Weight of the real server in the IPVS table.', s.reals.map((r) => [real(r), r.weight]));
  family('ldirectord_real_failures', 'gauge', 'Consecutive failed checks of the real server.', s.reals.map((r) => [real(r), r.failures]));
  family('ldirectord_real_check_duration_seconds', 'gauge', 'Duration of the last check of the real server.',
    s.reals.filter((r) => r.lastResult).map((r) => [real(r), (r.lastResult!.durationMs ?? 0) / 1000]));
  const perVirtual = new Map<string, number>();
  for (const r of s.reals) perVirtual.set(r.vid, (perVirtual.get(r.vid) ?? 0) + (r.state === 'up' ? 1 : 0));
  family('ldirectord_virtual_active_reals', 'gauge', 'Real servers up in the virtual service.', [...perVirtual].map(([vid, n]) => [{ virtual: vid }, n]));
  family('ldirectord_virtual_fallback_active', 'gauge', 'Whether the fallback server is in use.', s.fallbacks.map((f) => [{ virtual: f.vid }, f.active ? 1 : 0]));
  family('ldirectord_ipvsadm_runs_total', 'counter', 'ipvsadm processes run.', [[{}, s.ipvsadm.runs]]);
  family('ldirectord_ipvsadm_failures_total', 'counter', 'ipvsadm commands that failed.', [[{}, s.ipvsadm.failures]]);
  family('ldirectord_check_cycles_total', 'counter', 'Check cycles completed.', [[{}, s.cycle.count]]);
  family('ldirectord_check_cycle_duration_seconds', 'gauge', 'Duration of the last check cycle.', [[{}, s.cycle.lastDurationMs / 1000]]);
  family('ldirectord_scheduler_lag_seconds', 'gauge', 'How late the check scheduler and event loop run.', [[{}, (extra.schedulerLagMs ?? s.cycle.lagMs) / 1000]]);
  if (extra.mailsSent !== undefined) family('ldirectord_alert_mails_sent_total', 'counter', 'Alert mails sent.', [[{}, extra.mailsSent]]);
  if (extra.mailsFailed !== undefined) family('ldirectord_alert_mails_failed_total', 'counter', 'Alert mails that could not be sent.', [[{}, extra.mailsFailed]]);
  return out.join('\n') + '\n';
}

/** Parses `host:port` / `[v6]:port` of LDIRECTORD_HTTP or LDIRECTORD_METRICS. Only local addresses make sense; any is accepted. */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(spec) ?? /^([^:]+):(\d+)$/.exec(spec);
  if (!m) throw new Error(`LDIRECTORD_HTTP (or LDIRECTORD_METRICS) must be host:port, not "${spec}"`);
  return { host: m[1], port: Number(m[2]) };
}

/** Writes the metrics text atomically (write + rename), as node_exporter's textfile collector wants. */
export async function writeMetricsFile(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}
